"""Conference data (Google Meet) on events: generated when a write asks for it with
`conferenceDataVersion=1` and a `createRequest`, otherwise kept as the event had it."""

from __future__ import annotations

import secrets
import string

from calendar_emulator.google.errors import bad_request

MEET_ICON = "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"


def conference_data(content: dict, previous: dict | None, version: int) -> dict | None:
    """The conference to store: generated from a createRequest, copied, kept, or none."""
    # conferenceData is ignored unless the request says conferenceDataVersion=1.
    if version < 1:
        return previous.get("conferenceData") if previous else None
    conference = content.get("conferenceData")
    if not conference:
        return None
    request = conference.get("createRequest")
    if request is None or conference.get("entryPoints"):
        return conference
    if not request.get("requestId"):
        raise bad_request("invalid", "Invalid conference create request: requestId is required.")
    solution = (request.get("conferenceSolutionKey") or {}).get("type", "hangoutsMeet")
    if solution != "hangoutsMeet":
        raise bad_request("invalid", "Invalid conference type value.")
    letters = string.ascii_lowercase
    parts = ["".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3)]
    conference_id = "-".join(parts)
    return {
        "createRequest": {
            "requestId": request["requestId"],
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": "success"},
        },
        "entryPoints": [
            {
                "entryPointType": "video",
                "uri": f"https://meet.google.com/{conference_id}",
                "label": f"meet.google.com/{conference_id}",
            }
        ],
        "conferenceSolution": {
            "key": {"type": "hangoutsMeet"},
            "name": "Google Meet",
            "iconUri": MEET_ICON,
        },
        "conferenceId": conference_id,
    }

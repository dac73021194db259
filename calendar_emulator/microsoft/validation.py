"""Checking event bodies the way Graph does before it stores anything (POST and PATCH /events).

The result is a dict of normalized values keyed by Graph property name; timing (start, end,
isAllDay) is checked once merged with the stored event, in `make_timing`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from calendar_emulator.microsoft.errors import GraphApiError, bad_request
from calendar_emulator.microsoft.patterns import RecurrenceError, normalize
from calendar_emulator.microsoft.times import TimeError, as_utc, is_midnight, parse_local, zone_for

MAX_ATTENDEES = 500
ATTENDEE_TYPES = ("required", "optional", "resource")
ONLINE_PROVIDERS = ("teamsForBusiness", "skypeForBusiness", "skypeForConsumer", "unknown")
NO_TIME = "0001-01-01T00:00:00Z"

# Properties a client may write, and read-only ones Graph tolerates in a body (round-tripped GETs).
WRITABLE = {
    "subject",
    "body",
    "start",
    "end",
    "isAllDay",
    "attendees",
    "location",
    "locations",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "recurrence",
    "singleValueExtendedProperties",
    "transactionId",
    "organizer",
    "showAs",
    "importance",
    "sensitivity",
    "categories",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "allowNewTimeProposals",
    "hideAttendees",
}
READ_ONLY = {
    "@odata.type",
    "@odata.etag",
    "@odata.context",
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "uid",
    "hasAttachments",
    "bodyPreview",
    "isCancelled",
    "isOrganizer",
    "seriesMasterId",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isDraft",
    "responseStatus",
    "onlineMeeting",
    "originalStart",
    "occurrenceId",
}
CHOICES = {
    "showAs": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
}
BOOLEANS = (
    "isAllDay",
    "isOnlineMeeting",
    "isReminderOn",
    "responseRequested",
    "allowNewTimeProposals",
    "hideAttendees",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_TAGS = re.compile(r"<[^>]+>")


def invalid(message: str) -> GraphApiError:
    return bad_request(message, code="ErrorInvalidRequest")


def parse_event(payload: dict, creating: bool) -> dict:
    """Validate a POST/PATCH body; returns the normalized properties that were present."""
    unknown = [key for key in payload if key not in WRITABLE and key not in READ_ONLY]
    if unknown:
        raise bad_request(
            f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.event'. "
            "Make sure to only use property names that are defined by the type.",
            code="RequestBodyRead",
        )
    if creating and ("start" not in payload or "end" not in payload):
        raise invalid("An event must have a start and an end (start and end are required).")
    out: dict = {}
    for key in WRITABLE & payload.keys():
        value = payload[key]
        if key in ("start", "end"):
            out[key] = _date_time_zone(value, key)
        elif key == "subject":
            out[key] = _string(value, key, 255, nullable=True) or ""
        elif key == "body":
            out[key] = _body(value)
        elif key in BOOLEANS:
            out[key] = _boolean(value, key)
        elif key in CHOICES:
            if value not in CHOICES[key]:
                raise invalid(f"{key} must be one of {list(CHOICES[key])}")
            out[key] = value
        elif key == "attendees":
            out[key] = _attendees(value)
        elif key == "location":
            out[key] = _location(value, key)
        elif key == "locations":
            if not isinstance(value, list):
                raise invalid("locations must be a list")
            out[key] = [_location(item, "locations[]") for item in value]
        elif key == "onlineMeetingProvider":
            if value not in ONLINE_PROVIDERS:
                raise invalid(f"onlineMeetingProvider must be one of {list(ONLINE_PROVIDERS)}")
            out[key] = value
        elif key == "recurrence":
            try:
                out[key] = None if value is None else normalize(value)
            except RecurrenceError as exc:
                raise invalid(str(exc)) from None
        elif key == "singleValueExtendedProperties":
            out[key] = _extended(value)
        elif key == "transactionId":
            out[key] = _string(value, key, 255, nullable=True)
        elif key == "organizer":
            out[key] = _recipient(value, "organizer")
        elif key == "categories":
            if not isinstance(value, list) or any(not isinstance(c, str) for c in value):
                raise invalid("categories must be a list of strings")
            out[key] = list(value)
        elif key == "reminderMinutesBeforeStart":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 525600:
                raise invalid("reminderMinutesBeforeStart must be a number of minutes")
            out[key] = value
    return out


@dataclass
class Timing:
    """When an event or instance happens. Timed: aware datetimes in their zones; all-day: naive
    midnights (floating dates, compared as UTC like calendar_emulator.recurrence does)."""

    start: datetime
    end: datetime
    start_zone: str
    end_zone: str
    all_day: bool

    @property
    def start_utc(self) -> datetime:
        return as_utc(self.start)

    @property
    def end_utc(self) -> datetime:
        return as_utc(self.end)

    @property
    def duration(self) -> timedelta:
        return (
            self.end.replace(tzinfo=None) - self.start.replace(tzinfo=None)
            if self.all_day
            else (self.end - self.start)
        )

    def overlaps(self, window_start: datetime, window_end: datetime) -> bool:
        start, end = self.start_utc, self.end_utc
        if end == start:  # a zero-length event is in the window when its instant is
            return window_start <= start < window_end
        return end > window_start and start < window_end

    def shifted(self, start: datetime) -> Timing:
        """The same length and zones, starting at `start` (an occurrence of a series)."""
        return Timing(start, start + self.duration, self.start_zone, self.end_zone, self.all_day)


def make_timing(start: tuple[datetime, str], end: tuple[datetime, str], all_day: bool) -> Timing:
    """Combine start/end/isAllDay (after a PATCH merges them) and apply Graph's rules."""
    (start_local, start_zone_name), (end_local, end_zone_name) = start, end
    try:
        start_zone, end_zone = zone_for(start_zone_name), zone_for(end_zone_name)
    except TimeError as exc:
        raise invalid(str(exc)) from None
    start_wall, end_wall = _wall(start_local, start_zone), _wall(end_local, end_zone)
    if all_day:
        if not (is_midnight(start_wall) and is_midnight(end_wall)):
            raise bad_request(
                "The start and end times of an all-day event must be at midnight "
                "(isAllDay requires start.dateTime and end.dateTime at 00:00:00).",
                code="ErrorPropertyValidationFailure",
            )
        if end_wall <= start_wall:
            raise invalid("An all-day event must end at least one day after it starts.")
        return Timing(start_wall, end_wall, start_zone_name, end_zone_name, True)
    timing = Timing(
        start_wall.replace(tzinfo=start_zone),
        end_wall.replace(tzinfo=end_zone),
        start_zone_name,
        end_zone_name,
        False,
    )
    if timing.end_utc < timing.start_utc:
        raise invalid("The end time of an event must not be before its start time.")
    return timing


def _wall(value: datetime, zone: tzinfo) -> datetime:
    """Naive wall time in `zone` (values with an explicit offset are converted)."""
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo is not None else value


def _date_time_zone(value: object, field: str) -> tuple[datetime, str]:
    if not isinstance(value, dict) or "dateTime" not in value:
        raise invalid(f"{field} must be an object with dateTime and timeZone")
    zone = value.get("timeZone") or "UTC"
    try:
        zone_for(zone)
        return parse_local(value["dateTime"], field), zone
    except TimeError as exc:
        raise invalid(str(exc)) from None


def _string(value: object, field: str, limit: int, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise invalid(f"{field} must be a string")
    if len(value) > limit:
        raise invalid(f"{field} is longer than {limit} characters")
    return value


def _body(value: object) -> dict:
    if value is None:
        return {"contentType": "html", "content": ""}
    if not isinstance(value, dict):
        raise invalid("body must be an object with contentType and content")
    kind = value.get("contentType", "text")
    if not isinstance(kind, str) or kind.lower() not in ("text", "html"):
        raise invalid("body.contentType must be text or html")
    content = value.get("content") or ""
    if not isinstance(content, str):
        raise invalid("body.content must be a string")
    return {"contentType": kind.lower(), "content": content}


def stored_body(body: dict | None, canary: str | None) -> tuple[dict, str]:
    """Graph keeps bodies as HTML; the emulator appends the canary when one is given (see
    IdentityStore.canary_to_add). Returns (body, bodyPreview)."""
    content = (body or {}).get("content", "")
    if (body or {}).get("contentType") == "text":
        content = html.escape(content).replace("\n", "<br>")
    marker = f"<p>{html.escape(canary)}</p>" if canary else ""
    closing = content.lower().rfind("</body>")
    if closing >= 0:
        content = content[:closing] + marker + content[closing:]
    else:
        content = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>{content}{marker}</body></html>'
    preview_source = content[content.lower().find("<body>") + 6 :] if "<body>" in content.lower() else content
    preview = " ".join(html.unescape(_TAGS.sub(" ", preview_source)).split())[:255]
    return {"contentType": "html", "content": content}, preview


def _boolean(value: object, field: str) -> bool:
    """An Edm.Boolean. OData JSON also admits the quoted literals "true"/"false" (Graph accepts
    them, and O365 sends `"isOnlineMeeting": "false"` on every save); any other string is refused.
    The literal's case is accepted as OData's ABNF does; the emulator always answers a JSON boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(f"{field} must be true or false")


def _recipient(value: object, field: str) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("emailAddress"), dict):
        raise invalid(f"{field}.emailAddress is required")
    email = value["emailAddress"]
    address, name = email.get("address"), email.get("name")
    if not isinstance(address, str) or not _EMAIL.match(address):
        raise invalid(f"{field}.emailAddress.address must be an email address")
    if name is not None and not isinstance(name, str):
        raise invalid(f"{field}.emailAddress.name must be a string")
    return {"emailAddress": {"name": name or address, "address": address}}


def _attendees(value: object) -> list[dict]:
    if not isinstance(value, list):
        raise invalid("attendees must be a list")
    if len(value) > MAX_ATTENDEES:
        raise invalid(f"An event can have at most {MAX_ATTENDEES} attendees")
    attendees = []
    for index, item in enumerate(value):
        recipient = _recipient(item, f"attendees[{index}]")
        kind = item.get("type", "required")
        if kind not in ATTENDEE_TYPES:
            raise invalid(f"attendees[{index}].type must be one of {list(ATTENDEE_TYPES)}")
        status = item.get("status")
        response = "none"
        if isinstance(status, dict) and status.get("response") in (
            "none",
            "organizer",
            "tentativelyAccepted",
            "accepted",
            "declined",
            "notResponded",
        ):
            response = status["response"]  # seeded scenarios state how attendees answered
        elif status is not None and not isinstance(status, dict):
            raise invalid(f"attendees[{index}].status must be an object")
        attendees.append({"type": kind, "status": {"response": response, "time": NO_TIME}, **recipient})
    return attendees


def _location(value: object, field: str) -> dict:
    if value is None:
        return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
    if not isinstance(value, dict):
        raise invalid(f"{field} must be an object")
    name = value.get("displayName") or ""
    if not isinstance(name, str):
        raise invalid(f"{field}.displayName must be a string")
    location = {
        "displayName": name,
        "locationType": value.get("locationType") or "default",
        "uniqueId": name,
        "uniqueIdType": "private" if name else "unknown",
    }
    for extra in ("address", "coordinates", "locationUri", "locationEmailAddress"):
        if extra in value:
            location[extra] = value[extra]
    return location


def _extended(value: object) -> list[dict]:
    if not isinstance(value, list):
        raise invalid("singleValueExtendedProperties must be a list of {id, value}")
    found = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
            raise invalid("each singleValueExtendedProperty needs a string id")
        if item.get("value") is not None and not isinstance(item.get("value"), str):
            raise invalid("singleValueExtendedProperty values are strings")
        found.append({"id": item["id"], "value": item.get("value")})
    return found

"""Google event resources → provider-neutral records. Only the fields SPEC F5 allows survive."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from smvue_core.providers.base import SMVUE_TAG, Attendee, EventRecord, ProviderEvent, Removal

# The partial response every read asks for: no description, no attachments, nothing else (F5).
EVENT_FIELDS = (
    "id,status,iCalUID,recurringEventId,originalStartTime,summary,start,end,updated,etag,"
    "attendees(email,displayName,responseStatus,organizer,resource,self),organizer(email),location,"
    "hangoutLink,conferenceData(entryPoints(entryPointType,uri)),extendedProperties(private)"
)
LIST_FIELDS = f"nextPageToken,nextSyncToken,items({EVENT_FIELDS})"


def parse_time(value: dict | None) -> tuple[datetime | None, bool]:
    """(UTC instant, is_all_day) from an EventDateTime; all-day dates become UTC midnights."""
    if not value:
        return None, False
    if value.get("dateTime"):
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(UTC), False
    if value.get("date"):
        day = date.fromisoformat(value["date"])
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    return None, False


def _parse_updated(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC) if value else None


def to_record(calendar_id: str, item: dict) -> EventRecord:
    start_at, is_all_day = parse_time(item.get("start"))
    end_at, _ = parse_time(item.get("end"))
    original_start, _ = parse_time(item.get("originalStartTime"))
    organizer_email = (item.get("organizer") or {}).get("email")
    attendees = [
        Attendee(
            email=a.get("email", ""),
            name=a.get("displayName"),
            response_status=a.get("responseStatus"),
            is_organizer=bool(a.get("organizer")),
            is_resource=bool(a.get("resource")),
        )
        for a in item.get("attendees") or []
        if a.get("email")
    ]
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return EventRecord(
        calendar_id=calendar_id,
        event_id=item["id"],
        ical_uid=item.get("iCalUID"),
        recurring_event_id=item.get("recurringEventId"),
        original_start_at=original_start,
        status=item.get("status", "confirmed"),
        title=item.get("summary"),
        start_at=start_at,
        end_at=end_at,
        is_all_day=is_all_day,
        time_zone=(item.get("start") or {}).get("timeZone"),
        organizer_email=organizer_email,
        attendees=attendees,
        location=item.get("location"),
        video_link=_video_link(item),
        smvue_meeting_id=private.get(SMVUE_TAG),
        provider_updated_at=_parse_updated(item.get("updated")),
    )


def _video_link(item: dict) -> str | None:
    if item.get("hangoutLink"):
        return item["hangoutLink"]
    for entry in (item.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return entry["uri"]
    return None


def classify(calendar_id: str, items: list[dict]) -> tuple[list[EventRecord], list[Removal]]:
    """Live items become records; cancelled ones become removals.

    A cancelled item with recurringEventId is one cancelled instance; any other cancelled item
    is a deleted event — for a series master that means every instance (providers.md 1.2).
    """
    records, removals = [], []
    for item in items:
        if item.get("status") == "cancelled":
            removals.append(Removal(calendar_id, item["id"], series=not item.get("recurringEventId")))
        else:
            records.append(to_record(calendar_id, item))
    return records, removals


def to_provider_event(item: dict) -> ProviderEvent:
    start_at, _ = parse_time(item.get("start"))
    end_at, _ = parse_time(item.get("end"))
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return ProviderEvent(
        event_id=item["id"],
        smvue_meeting_id=private.get(SMVUE_TAG),
        status=item.get("status", "confirmed"),
        start_at=start_at,
        end_at=end_at,
        etag=item.get("etag"),
        updated_at=_parse_updated(item.get("updated")),
    )


def event_id_for_meeting(meeting_id: str) -> str:
    """A client-chosen event id derived from the meeting id: base32hex (0-9, a-v), stable, so a
    retried create collides (409) instead of duplicating."""
    return "smvue" + hashlib.sha256(meeting_id.encode()).hexdigest()[:40]

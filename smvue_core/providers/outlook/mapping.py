"""Graph event resources → provider-neutral records. Bodies never leave this module.

calendarView/delta ignores $select, so every item arrives with its body; the mapping reads only
the fields SPEC F5 allows, and the raw item is dropped right after.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from smvue_core.providers.base import SMVUE_TAG, Attendee, EventRecord, ProviderEvent, Removal

# Single-value extended property SMVue tags its events with (providers.md 2.3).
TAG_PROPERTY_ID = (
    f"String {{{uuid.uuid5(uuid.NAMESPACE_URL, 'https://smvue.app/calendar-tag')}}} Name {SMVUE_TAG}"
)
TRANSACTION_PREFIX = "smvue-"

# For reads that allow $select (everything but delta): no body, no bodyPreview.
EVENT_SELECT = (
    "id,subject,start,end,isAllDay,isCancelled,isOrganizer,responseStatus,organizer,attendees,location,"
    "onlineMeeting,onlineMeetingUrl,type,seriesMasterId,originalStart,originalStartTimeZone,iCalUId,"
    "lastModifiedDateTime,transactionId"
)
MASTER_SELECT = (
    "id,subject,isAllDay,isCancelled,isOrganizer,responseStatus,organizer,attendees,location,onlineMeeting,"
    "onlineMeetingUrl,originalStartTimeZone,iCalUId,lastModifiedDateTime,transactionId"
)
# Outlook's iCalUId is a hex Global Object Id: this class id, then (bytes 16-19) the instance's
# date, zero for the series itself ([MS-OXOCAL] PidLidGlobalObjectId).
GLOBAL_OBJECT_ID_PREFIX = "040000008200E00074C5B7101A82E008"
RESPONSES = {
    "none": "needsAction",
    "notResponded": "needsAction",
    "organizer": "accepted",
    "accepted": "accepted",
    "tentativelyAccepted": "tentative",
    "declined": "declined",
}


def parse_graph_time(value: dict | None) -> datetime | None:
    """Graph dateTimeTimeZone; requests ask for UTC (Prefer: outlook.timezone)."""
    if not value or not value.get("dateTime"):
        return None
    text = value["dateTime"].rstrip("Z")
    if "." in text:  # Graph gives seven fractional digits; Python takes six
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        zone = value.get("timeZone") or "UTC"
        if zone.upper() not in ("UTC", "COORDINATED UNIVERSAL TIME"):
            from zoneinfo import ZoneInfo

            try:
                return parsed.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
            except (KeyError, ValueError):
                pass
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return parse_graph_time({"dateTime": value.replace("Z", ""), "timeZone": "UTC"})


def series_ical_uid(value: str | None) -> str | None:
    """The series' iCalUId from an instance's: every instance of a series keeps one ical_uid, as
    Google's instances share theirs (a moved instance must not change its uid)."""
    if value and len(value) >= 40 and value.upper().startswith(GLOBAL_OBJECT_ID_PREFIX):
        return value[:32] + "00000000" + value[40:]
    return value


def meeting_id_from_transaction(transaction_id: str | None) -> str | None:
    if transaction_id and transaction_id.startswith(TRANSACTION_PREFIX):
        return transaction_id[len(TRANSACTION_PREFIX) :]
    return None


def _attendees(item: dict, owner_email: str | None) -> tuple[list[Attendee], str | None]:
    organizer_address = (item.get("organizer") or {}).get("emailAddress") or {}
    organizer = organizer_address.get("address")
    organizer_key = organizer.lower() if organizer else None
    people: list[Attendee] = []
    organizer_listed = False
    for a in item.get("attendees") or ():
        address_of = a.get("emailAddress") or {}
        address = address_of.get("address")
        if not address:
            continue
        is_organizer = organizer_key is not None and address.lower() == organizer_key
        organizer_listed = organizer_listed or is_organizer
        people.append(
            Attendee(
                email=address,
                name=address_of.get("name"),
                response_status=RESPONSES.get((a.get("status") or {}).get("response", "none"), "needsAction"),
                is_organizer=is_organizer,
                is_resource=a.get("type") == "resource",
            )
        )
    # Graph lists the organizer apart from the attendees; Google lists it among them. Normalize.
    if organizer and people and not organizer_listed:
        people.insert(0, Attendee(organizer, organizer_address.get("name"), "accepted", True, False))
    # The mailbox owner's own answer lives in responseStatus, not in the attendee list.
    own = RESPONSES.get((item.get("responseStatus") or {}).get("response", ""))
    if owner_email and own and not item.get("isOrganizer"):
        owner_key = owner_email.lower()
        for person in people:
            if person.email.lower() == owner_key:
                person.response_status = own
    return people, organizer


def to_record(
    calendar_id: str, item: dict, owner_email: str | None, master: dict | None = None
) -> EventRecord:
    """A full item, or a sparse occurrence completed from its series master."""
    # Full items stand alone; a sparse occurrence takes everything it lacks from its master.
    source = item if not master else {**master, **{k: v for k, v in item.items() if v is not None}}
    attendees, organizer = _attendees(source, owner_email)
    start_at = parse_graph_time(item.get("start"))
    original = _parse_iso(item.get("originalStart")) if item.get("originalStart") else None
    if original is None and item.get("type") == "occurrence":
        original = start_at  # an unmodified occurrence starts where it was planned
    online = source.get("onlineMeeting") or {}
    location = (source.get("location") or {}).get("displayName") or None
    return EventRecord(
        calendar_id=calendar_id,
        event_id=item["id"],
        ical_uid=series_ical_uid(source.get("iCalUId"))
        if item.get("seriesMasterId")
        else source.get("iCalUId"),
        recurring_event_id=item.get("seriesMasterId"),
        original_start_at=original,
        status="cancelled" if source.get("isCancelled") else "confirmed",
        title=source.get("subject"),
        start_at=start_at,
        end_at=parse_graph_time(item.get("end")),
        is_all_day=bool(source.get("isAllDay")),
        time_zone=source.get("originalStartTimeZone"),
        organizer_email=organizer,
        attendees=attendees,
        location=location,
        video_link=online.get("joinUrl") or source.get("onlineMeetingUrl"),
        smvue_meeting_id=meeting_id_from_transaction(source.get("transactionId")),
        provider_updated_at=_parse_iso(source.get("lastModifiedDateTime")),
    )


def removal(calendar_id: str, item: dict) -> Removal:
    # "@removed" also means "left the window" (providers.md 2.1): applied only inside it.
    return Removal(calendar_id, item["id"], series=False, window_only=True)


def to_provider_event(item: dict) -> ProviderEvent:
    tag = None
    for prop in item.get("singleValueExtendedProperties") or []:
        if prop.get("id", "").lower() == TAG_PROPERTY_ID.lower():
            tag = prop.get("value")
    return ProviderEvent(
        event_id=item["id"],
        # Only the extended property counts as SMVue's tag: it is what write-back checks before it
        # touches an event.
        smvue_meeting_id=tag,
        status="cancelled" if item.get("isCancelled") else "confirmed",
        start_at=parse_graph_time(item.get("start")),
        end_at=parse_graph_time(item.get("end")),
        etag=item.get("@odata.etag"),
        updated_at=_parse_iso(item.get("lastModifiedDateTime")),
    )

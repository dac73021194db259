"""Stored events, calendars and users rendered as Graph JSON (with $select, $expand, time zones)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from calendar_emulator.microsoft.odata import Expand
from calendar_emulator.microsoft.times import format_graph, format_utc_z
from calendar_emulator.store import User

if TYPE_CHECKING:
    from calendar_emulator.microsoft.models import Calendar, GraphBackend, Instance, Mailbox

GRAPH = "https://graph.microsoft.com/v1.0"
EVENT_TYPE = "#microsoft.graph.event"


@dataclass(frozen=True)
class View:
    """How the caller wants events rendered."""

    immutable: bool = False
    zone: tzinfo = UTC
    zone_name: str = "UTC"
    select: frozenset[str] | None = None
    expand: Expand | None = None


def _date_time(value: datetime, view: View) -> dict:
    if value.tzinfo is None:  # all-day: floating midnight, labelled with the caller's zone
        return {"dateTime": format_graph(value), "timeZone": view.zone_name}
    return {"dateTime": format_graph(value.astimezone(view.zone)), "timeZone": view.zone_name}


def _original_start(value: datetime) -> str:
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ical_uid(uid: str, original_start: datetime | None) -> str:
    """Outlook's iCalUId: the series uid with the occurrence's date in bytes 16-19."""
    if original_start is None:
        return uid
    day = original_start.date() if original_start.tzinfo is None else original_start.astimezone(UTC).date()
    return uid[:32] + f"{day.year:04X}{day.month:02X}{day.day:02X}" + uid[40:]


def _static(event, override) -> dict:
    """The part of an event's JSON that no instance or caller preference changes, cached until the
    event (or exception) changes: most of each row is then one dict copy."""
    owner = event if override is None else override
    key = (event.change_key, None if override is None else override.change_key)
    cached = owner.render_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    fields = event.fields if override is None else {**event.fields, **override.fields}
    change_key = event.change_key if override is None else override.change_key
    static = {
        "@odata.etag": f'W/"{change_key}"',
        "createdDateTime": format_utc_z(owner.created),
        "lastModifiedDateTime": format_utc_z(owner.modified),
        "changeKey": change_key,
        "categories": fields["categories"],
        "originalStartTimeZone": event.timing.start_zone,
        "originalEndTimeZone": event.timing.end_zone,
        "uid": event.uid,
        "reminderMinutesBeforeStart": fields["reminderMinutesBeforeStart"],
        "isReminderOn": fields["isReminderOn"],
        "hasAttachments": False,
        "subject": fields["subject"],
        "bodyPreview": fields["bodyPreview"],
        "importance": fields["importance"],
        "sensitivity": fields["sensitivity"],
        "isCancelled": fields.get("isCancelled", False),
        "isOrganizer": event.is_organizer,
        "responseRequested": fields["responseRequested"],
        "showAs": fields["showAs"],
        "onlineMeetingUrl": None,
        "isOnlineMeeting": fields["isOnlineMeeting"],
        "onlineMeetingProvider": fields["onlineMeetingProvider"],
        "allowNewTimeProposals": fields["allowNewTimeProposals"],
        "isDraft": False,
        "hideAttendees": fields["hideAttendees"],
        "responseStatus": {
            "response": "organizer" if event.is_organizer else "notResponded",
            "time": "0001-01-01T00:00:00Z",
        },
        "body": fields["body"],
        "location": fields["location"],
        "locations": fields["locations"],
        "attendees": fields["attendees"],
        "organizer": fields["organizer"],
        "onlineMeeting": fields["onlineMeeting"],
    }
    owner.render_cache = (key, static)
    return static


def render(backend: GraphBackend, row: Instance, view: View) -> dict:
    """The full Graph event for one row, trimmed by $select and extended by $expand."""
    event = row.event
    event_id = backend.event_id(event, view.immutable, row.occurrence)
    is_master_row = row.kind in ("singleInstance", "seriesMaster")
    body = _static(event, row.override).copy()
    body["id"] = event_id
    body["iCalUId"] = ical_uid(event.uid, row.original_start)
    body["isAllDay"] = row.timing.all_day
    body["seriesMasterId"] = None if is_master_row else backend.event_id(event, view.immutable)
    body["type"] = row.kind
    # Ids are URL-safe base64: only the padding needs escaping in a query string.
    body["webLink"] = (
        f"https://outlook.office365.com/owa/?itemid={event_id.replace('=', '%3D')}&exvsurl=1&path=/calendar/item"
    )
    body["start"] = _date_time(row.timing.start, view)
    body["end"] = _date_time(row.timing.end, view)
    body["recurrence"] = event.recurrence if row.kind == "seriesMaster" else None
    if row.kind == "exception":
        body["originalStart"] = _original_start(row.original_start)  # type: ignore[arg-type]
    if event.transaction_id and is_master_row:
        body["transactionId"] = event.transaction_id
    if view.select is not None:
        body = {
            key: value for key, value in body.items() if key in view.select or key in ("@odata.etag", "id")
        }
    if view.expand is not None:
        body["singleValueExtendedProperties"] = [
            {"id": prop["id"], "value": prop["value"]}
            for key, prop in event.extended.items()
            if view.expand.ids is None or key in view.expand.ids
        ]
    return body


def render_delta(backend: GraphBackend, row: Instance, view: View) -> dict:
    """A delta item: occurrences are sparse; everything else is the full event ($select ignored)."""
    if row.kind == "occurrence":
        return {
            "@odata.type": EVENT_TYPE,
            "@odata.etag": f'W/"{row.event.change_key}"',
            "id": backend.event_id(row.event, view.immutable, row.occurrence),
            "type": "occurrence",
            "seriesMasterId": backend.event_id(row.event, view.immutable),
            "start": _date_time(row.timing.start, view),
            "end": _date_time(row.timing.end, view),
        }
    return {"@odata.type": EVENT_TYPE, **render(backend, row, view)}


def removed(event_id: str) -> dict:
    return {"@odata.type": EVENT_TYPE, "id": event_id, "@removed": {"reason": "deleted"}}


CALENDAR_PROPERTIES = frozenset(
    [
        "id",
        "name",
        "color",
        "hexColor",
        "isDefaultCalendar",
        "changeKey",
        "canShare",
        "canViewPrivateItems",
        "canEdit",
        "allowedOnlineMeetingProviders",
        "defaultOnlineMeetingProvider",
        "isTallyingResponses",
        "isRemovable",
        "owner",
    ]
)


def render_calendar(calendar: Calendar, mailbox: Mailbox, select: frozenset[str] | None = None) -> dict:
    body = {
        "@odata.etag": f'W/"{calendar.change_key}"',
        "id": calendar.calendar_id,
        "name": calendar.name,
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": calendar.is_default,
        "changeKey": calendar.change_key,
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": True,
        "isRemovable": not calendar.is_default,
        "owner": {"name": mailbox.user.name or mailbox.user.email, "address": mailbox.user.email},
    }
    if select is not None:
        body = {key: value for key, value in body.items() if key in select or key in ("@odata.etag", "id")}
    return body


def render_user(user: User) -> dict:
    given, _, surname = (user.name or "").partition(" ")
    return {
        "@odata.context": f"{GRAPH}/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": user.name or user.email,
        "givenName": given or None,
        "surname": surname or None,
        "jobTitle": None,
        "mail": user.email,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "userPrincipalName": user.email,
        "id": user.user_id,
    }


def dump_mailbox(backend: GraphBackend, user: User) -> list[dict]:
    """Every stored item of the user's calendars as Graph JSON, tombstones included, for the
    admin API's dump: [{"calendar_id", "id", "immutable_id", "deleted", "event"}]."""
    mailbox = backend.mailbox(user)
    view = View()
    rows = []
    for event in mailbox.events.values():
        rows.append(
            {
                "calendar_id": event.calendar_id,
                "id": backend.event_id(event, immutable=False),
                "immutable_id": backend.event_id(event, immutable=True),
                "deleted": event.gone,
                "event": render(backend, backend.instance(event, None), view),
            }
        )
        for key, _override in event.overrides.items():
            rows.append(
                {
                    "calendar_id": event.calendar_id,
                    "id": backend.event_id(event, False, key),
                    "immutable_id": backend.event_id(event, True, key),
                    "deleted": event.gone,
                    "event": render(backend, backend.instance(event, key), view),
                }
            )
        for key in sorted(event.cancelled):
            rows.append(
                {
                    "calendar_id": event.calendar_id,
                    "id": backend.event_id(event, False, key),
                    "immutable_id": backend.event_id(event, True, key),
                    "deleted": True,
                    "event": {
                        "id": backend.event_id(event, False, key),
                        "type": "occurrence",
                        "isCancelled": True,
                        "seriesMasterId": backend.event_id(event, False),
                        "occurrenceKey": key,
                    },
                }
            )
    return rows

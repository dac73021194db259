"""One write-back: bring the manager's calendar to a meeting's current state, provider-neutrally.

Rules that keep the calendar safe (F14, providers.md §3 traps 1, 2, 9, 12):
- exactly one event per meeting: when an earlier attempt may have reached the provider, the event
  is looked up by SMVue's tag before anything is created; Google's id derived from the meeting id
  turns a duplicate create into a 409 that resolves to the existing event, Graph's transactionId
  drops a replayed POST;
- only SMVue's own events: before an update or a cancel the event is re-read and its tag must be
  this meeting's id — anything else is refused and left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from smvue_core.opstore.meetings import Meeting
from smvue_core.providers.base import EventNotFound, MeetingSpec, ProviderEvent, ProviderSession


class Refused(Exception):
    """The event is not SMVue's event for this meeting: write-back will not touch it."""


class EventGone(Exception):
    """The meeting's event was deleted or cancelled in the calendar; an update cannot bring it back."""


@dataclass(frozen=True)
class Written:
    """What the calendar holds after the write."""

    event_id: str | None
    updated_at: datetime | None
    outcome: str  # created | found | updated | unchanged | cancelled | already_cancelled | nothing_to_cancel


def _same_times(event: ProviderEvent, spec: MeetingSpec) -> bool:
    def second(value: datetime | None):
        return value.replace(microsecond=0) if value else None

    return second(event.start_at) == second(spec.start_at) and second(event.end_at) == second(spec.end_at)


def check_tag(event: ProviderEvent, meeting_id: str) -> ProviderEvent:
    if event.smvue_meeting_id != meeting_id:
        found = f"tagged {event.smvue_meeting_id!r}" if event.smvue_meeting_id else "not tagged by SMVue"
        raise Refused(
            f"calendar event {event.event_id} is {found}, not SMVue meeting {meeting_id}: left untouched"
        )
    return event


def write_meeting(
    session: ProviderSession, meeting: Meeting, spec: MeetingSpec | None, retried: bool
) -> Written:
    """Create, move or cancel the meeting's event so the calendar matches `meeting`."""
    calendar_id = meeting.calendar_id or "primary"
    if meeting.status == "cancelled":
        return _cancel(session, calendar_id, meeting, retried)
    if spec is None:
        raise ValueError("a scheduled meeting needs its MeetingSpec")
    if meeting.provider_event_id:
        return _update(session, calendar_id, meeting, spec)
    return _create(session, calendar_id, meeting, spec, retried)


def _create(
    session: ProviderSession, calendar_id: str, meeting: Meeting, spec: MeetingSpec, retried: bool
) -> Written:
    event = session.find_event(calendar_id, meeting.meeting_id) if retried else None
    outcome = "found"
    if event is None:
        # Google: a 409 on the derived id comes back as the existing event; Graph: a replayed
        # transactionId returns the first event, a conflicting one is looked up by tag.
        event = session.create_event(calendar_id, spec)
        outcome = "created"
    check_tag(event, meeting.meeting_id)
    if event.status == "cancelled":
        # An earlier attempt created it and the user cancelled it since: the calendar's word stands.
        raise EventGone(f"calendar event {event.event_id} was cancelled in the calendar")
    if not _same_times(event, spec):
        # An earlier attempt wrote an older version of the meeting.
        event = session.update_event(calendar_id, event.event_id, spec)
        outcome = "updated"
    return Written(event.event_id, event.updated_at, outcome)


def _update(session: ProviderSession, calendar_id: str, meeting: Meeting, spec: MeetingSpec) -> Written:
    event_id = meeting.provider_event_id or ""
    try:
        event = check_tag(session.get_event(calendar_id, event_id), meeting.meeting_id)
    except EventNotFound:
        raise EventGone(f"calendar event {event_id} no longer exists (deleted in the calendar)") from None
    if event.status == "cancelled":
        raise EventGone(f"calendar event {event_id} was cancelled in the calendar")
    if _same_times(event, spec):
        return Written(event.event_id, event.updated_at, "unchanged")
    event = session.update_event(calendar_id, event_id, spec)
    return Written(event.event_id, event.updated_at, "updated")


def _cancel(session: ProviderSession, calendar_id: str, meeting: Meeting, retried: bool) -> Written:
    event: ProviderEvent | None
    if meeting.provider_event_id:
        try:
            event = session.get_event(calendar_id, meeting.provider_event_id)
        except EventNotFound:
            return Written(meeting.provider_event_id, None, "already_cancelled")
    else:
        # No recorded event: one exists only if an earlier attempt got as far as the provider.
        event = session.find_event(calendar_id, meeting.meeting_id) if retried else None
        if event is None:
            return Written(None, None, "nothing_to_cancel")
    check_tag(event, meeting.meeting_id)
    if event.status == "cancelled":
        return Written(event.event_id, event.updated_at, "already_cancelled")
    session.cancel_event(calendar_id, event.event_id)
    return Written(event.event_id, None, "cancelled")

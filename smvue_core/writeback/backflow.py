"""Meeting backflow (F14): moves and cancellations made in the calendar flow back to SMVue meetings.

The round trip: write-back puts a meeting's event on the calendar tagged with the meeting id; sync
brings it back into raw.calendar_events with `smvue_meeting_id` set (it links to the meeting, it is
never a second 1:1); when the user moved or cancelled it in the calendar, `apply_backflow` updates
the meeting in the operational store — the calendar wins for changes made there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from smvue_core.opstore.meetings import Meeting, MeetingRepository


@dataclass(frozen=True)
class TaggedEvent:
    connection_id: str
    event_id: str
    meeting_id: str
    status: str
    start_at: datetime | None
    end_at: datetime | None
    provider_updated_at: datetime | None


@dataclass(frozen=True)
class Change:
    meeting: Meeting
    event: TaggedEvent
    kind: str  # moved | cancelled


def utc_seconds(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(microsecond=0) if value else None


def tagged_events(con: duckdb.DuckDBPyConnection) -> dict[str, list[TaggedEvent]]:
    rows = con.execute(
        """SELECT connection_id, event_id, smvue_meeting_id, status, start_at, end_at, provider_updated_at
           FROM raw.calendar_events WHERE smvue_meeting_id IS NOT NULL"""
    ).fetchall()
    by_meeting: dict[str, list[TaggedEvent]] = {}
    for row in rows:
        event = TaggedEvent(*row)
        by_meeting.setdefault(event.meeting_id, []).append(event)
    return by_meeting


def plan_changes(meetings: list[Meeting], events: dict[str, list[TaggedEvent]]) -> list[Change]:
    """What the calendar changed, meeting by meeting. Only the event write-back recorded for the
    meeting (`provider_event_id`, on the meeting's own connection) counts, and only while it still
    carries the meeting's tag. Another event with the tag (on Outlook a tag is just a
    `transactionId`, which anyone can give an event) is never followed."""
    changes = []
    for meeting in meetings:
        if meeting.status != "scheduled":
            continue
        recorded = [
            e
            for e in events.get(meeting.meeting_id, [])
            if e.connection_id == meeting.connection_id and e.event_id == meeting.provider_event_id
        ]
        if not recorded:
            continue  # not synced back yet: the next run compares it
        event = recorded[0]
        if event.status == "cancelled":
            # A deletion carries no new stamp; SMVue never revives an event, so it is the user's.
            changes.append(Change(meeting, event, "cancelled"))
            continue
        moved = (utc_seconds(event.start_at), utc_seconds(event.end_at)) != (
            utc_seconds(meeting.start_at),
            utc_seconds(meeting.end_at),
        )
        # A row fetched before SMVue's own last write is stale, not a move made in the calendar.
        newer = (
            meeting.calendar_updated_at is None
            or event.provider_updated_at is None
            or event.provider_updated_at > meeting.calendar_updated_at
        )
        if moved and newer and event.start_at and event.end_at:
            changes.append(Change(meeting, event, "moved"))
    return changes


def apply_backflow(
    repo: MeetingRepository, meetings: list[Meeting], events: dict[str, list[TaggedEvent]], now: datetime
) -> list[Change]:
    """Apply what the calendar changed; the changes applied (one the meeting's own newer version
    overtook is skipped by the repository)."""
    applied = []
    for change in plan_changes(meetings, events):
        moved = change.kind == "moved"
        done = repo.apply_calendar_change(
            change.meeting.meeting_id,
            change.meeting.version,
            start_at=utc_seconds(change.event.start_at) if moved else None,
            end_at=utc_seconds(change.event.end_at) if moved else None,
            cancelled=change.kind == "cancelled",
            calendar_updated_at=change.event.provider_updated_at,
            now=now,
        )
        if done:
            applied.append(change)
    return applied


def duplicated_meetings(events: dict[str, list[TaggedEvent]]) -> list[str]:
    """Meetings with more than one live event carrying their tag on one connection's calendars."""
    return sorted(
        meeting_id
        for meeting_id, tagged in events.items()
        if any(
            sum(e.connection_id == c and e.status != "cancelled" for e in tagged) > 1
            for c in {e.connection_id for e in tagged}
        )
    )

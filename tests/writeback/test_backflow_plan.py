"""plan_changes, backflow's decision, on its own: which calendar changes flow back to a meeting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from smvue_core.opstore.meetings import Meeting
from smvue_core.writeback.backflow import TaggedEvent, plan_changes

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WRITTEN = START - timedelta(days=1)

MEETING = Meeting(
    meeting_id="m1",
    manager_id="mgr",
    rep_id="rep",
    connection_id="c1",
    calendar_id="cal",
    title="1:1",
    meeting_type=None,
    start_at=START,
    end_at=START + timedelta(minutes=30),
    status="scheduled",
    provider_event_id="e1",
    writeback_state="synced",
    writeback_error=None,
    version=3,
    created_at=WRITTEN.isoformat(),
    updated_at=WRITTEN.isoformat(),
    calendar_updated_at=WRITTEN,
)


def event(**changes) -> TaggedEvent:
    base = TaggedEvent(
        "c1", "e1", "m1", "confirmed", MEETING.start_at, MEETING.end_at, WRITTEN + timedelta(hours=1)
    )
    return replace(base, **changes)


def kinds(*events: TaggedEvent, meeting: Meeting = MEETING) -> list[str]:
    return [c.kind for c in plan_changes([meeting], {"m1": list(events)})]


def test_a_move_made_in_the_calendar_flows_back():
    assert kinds(event(start_at=START + timedelta(hours=2), end_at=START + timedelta(hours=3))) == ["moved"]


def test_a_cancellation_flows_back_without_a_newer_stamp():
    assert kinds(event(status="cancelled", provider_updated_at=None)) == ["cancelled"]


def test_unchanged_times_and_stale_rows_are_not_moves():
    assert kinds(event()) == []
    moved = {"start_at": START + timedelta(hours=2), "end_at": START + timedelta(hours=3)}
    # Fetched before SMVue's own last write: stale, not a change made in the calendar.
    assert kinds(event(**moved, provider_updated_at=WRITTEN - timedelta(minutes=1))) == []


def test_only_the_recorded_event_on_the_meetings_connection_counts():
    moved = {"start_at": START + timedelta(hours=2), "end_at": START + timedelta(hours=3)}
    assert kinds(event(**moved, event_id="someone-elses")) == []
    assert kinds(event(**moved, connection_id="c2")) == []
    assert kinds(event(**moved), meeting=replace(MEETING, status="cancelled")) == []

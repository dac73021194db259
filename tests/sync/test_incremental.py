"""Issue 3, test 2: one incremental sync after the user's changes, at the minimum request cost."""

from __future__ import annotations

import pytest

from tests.sync import scenario

EVENTS_LIST = "GET /google/calendar/v3/calendars/{calendarId}/events"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_incremental_sync_applies_changes_with_one_round_per_calendar(harness, provider):
    mailbox = harness.connect(provider)
    built = scenario.build(mailbox)
    assert harness.materialize().success
    before = harness.sync_state(mailbox.connection_id)
    changes = scenario.change(built)

    harness.admin.reset_stats()
    result = harness.materialize()
    stats = harness.admin.stats()
    print(stats)

    assert result.success
    rows = harness.rows(mailbox.connection_id)
    got = {event_id: scenario.actual(row) for event_id, row in rows.items()}
    assert set(got) == set(built.expected)
    for event_id, expected in built.expected.items():
        if expected.status == "cancelled":
            # Cancelled and deleted events stay as cancelled rows, never as live meetings.
            assert got[event_id].status == "cancelled", event_id
        else:
            assert got[event_id] == expected, event_id
    assert changes.created_id in got
    # The minimum: one sync round per calendar, no full resync.
    after = harness.sync_state(mailbox.connection_id)
    assert set(after) == set(before)
    for calendar_id, state in after.items():
        assert state["last_full_sync_at"] == before[calendar_id]["last_full_sync_at"]
        assert state["sync_cursor"] != before[calendar_id]["sync_cursor"]
    requests = stats["requests"]
    assert "410" not in stats["statuses"]
    calendars = len(mailbox.calendars)
    if provider == "google":
        assert requests == {EVENTS_LIST: calendars}
    else:
        delta = {k: v for k, v in requests.items() if k.endswith("/calendarView/delta")}
        masters = {k: v for k, v in requests.items() if k.startswith("GET") and k.endswith("/events/{event_id}")}
        assert sum(delta.values()) == calendars
        assert sum(masters.values()) <= changes.touched_series
        assert set(requests) == set(delta) | set(masters)

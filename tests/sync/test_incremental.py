"""Issue 3, test 2: one incremental sync after the user's changes, at the minimum request cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
        masters = {
            k: v for k, v in requests.items() if k.startswith("GET") and k.endswith("/events/{event_id}")
        }
        assert sum(delta.values()) == calendars
        assert sum(masters.values()) <= changes.touched_series
        assert set(requests) == set(delta) | set(masters)


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_the_window_rolls_forward_daily(harness, provider):
    mailbox = harness.connect(provider, second_calendar=False)
    now = datetime.now(UTC)
    # Just beyond today's 30-day horizon (the window ends at midnight UTC after day 30).
    start = scenario.local(now.date() + timedelta(days=31), 10)
    actor = mailbox.actor()
    if provider == "google":
        event_id = actor.insert(scenario.google_event("Quarterly planning", start, 60))["id"]
    else:
        event_id = actor.create(scenario.graph_event("Quarterly planning", start, 60))["id"]

    [today] = harness.engine_sync(now=lambda: now)
    assert today.ok and event_id not in harness.rows(mailbox.connection_id)
    [same_day] = harness.engine_sync(now=lambda: now)
    assert [c.mode for c in same_day.calendars] == ["incremental"]
    [tomorrow] = harness.engine_sync(now=lambda: now + timedelta(days=1))

    assert tomorrow.ok and [c.mode for c in tomorrow.calendars] == ["full"]
    row = harness.rows(mailbox.connection_id)[event_id]
    assert row["status"] == "confirmed" and row["start_at"] == start
    [state] = harness.sync_state(mailbox.connection_id).values()
    assert state["window_end"].astimezone(UTC).date() == now.date() + timedelta(days=32)
    # More history asked for: the cursor does not cover it, so a full sync again.
    [wider] = harness.engine_sync(now=lambda: now + timedelta(days=1), past_days=120)
    assert wider.ok and [c.mode for c in wider.calendars] == ["full"]
    [state] = harness.sync_state(mailbox.connection_id).values()
    assert state["window_start"].astimezone(UTC).date() == now.date() + timedelta(days=1 - 120)

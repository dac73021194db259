"""plan_tick, the sensor's decision, as a pure function: however many notifications a tick finds,
they become one run that covers every calendar they name, once (the 5,000-notification burst
through the running stack is measured in `make bench`, bench/burst.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from smvue_core.opstore.queue import QueuedChange
from smvue_core.sync.planning import ConnectionView, QueueCursor, plan_tick

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STALE_AFTER = timedelta(minutes=15)


def world(connections: int, calendars_each: int) -> dict[str, ConnectionView]:
    return {
        f"conn-{c}": ConnectionView(
            connection_id=f"conn-{c}",
            provider="google" if c % 2 == 0 else "microsoft",
            status="connected",
            has_credentials=True,
            selected=frozenset(f"cal-{c}-{k}" for k in range(calendars_each)),
        )
        for c in range(connections)
    }


def burst(connections: dict[str, ConnectionView], count: int, first_id: int = 1) -> list[QueuedChange]:
    """`count` notifications, every calendar at least once, the rest at random, in random order."""
    calendars = [(c.connection_id, k) for c in connections.values() for k in sorted(c.selected)]
    rng = random.Random(count)
    targets = calendars + [rng.choice(calendars) for _ in range(count - len(calendars))]
    rng.shuffle(targets)
    at = NOW.isoformat()
    return [
        QueuedChange(first_id + i, connection_id, calendar_id, "notification", False, at)
        for i, (connection_id, calendar_id) in enumerate(targets)
    ]


def test_5000_notifications_over_100_calendars_are_one_run_covering_each_calendar_once():
    connections = world(10, 10)
    pending = burst(connections, 5000)

    outcome = plan_tick(pending, QueueCursor(), connections, NOW, STALE_AFTER)

    plan = outcome.plan
    assert plan is not None and outcome.held == {}
    every_calendar = sorted((c.connection_id, k) for c in connections.values() for k in c.selected)
    assert plan.calendars == every_calendar  # each calendar once, however often it was notified
    assert plan.whole_connections == [] and plan.full_connections == []
    assert plan.changes == 5000 and plan.queue_up_to == 5000
    assert plan.run_key == "queue-1-5000"
    assert plan.providers == ["google", "microsoft"]
    assert outcome.cursor.last_queue_id == 5000
    assert set(outcome.cursor.in_flight) == set(connections)

    # The next tick, with the run not yet settled: nothing new, nothing launched twice.
    again = plan_tick(pending, outcome.cursor, connections, NOW + timedelta(seconds=5), STALE_AFTER)
    assert again.plan is None
    assert "5000 changes for 100 calendars already covered by run queue-1-5000" in again.skip_reason


def test_more_notifications_during_the_run_are_one_more_run_that_also_covers_the_older_rows():
    connections = world(10, 10)
    first = burst(connections, 5000)
    launched = plan_tick(first, QueueCursor(), connections, NOW, STALE_AFTER)
    later = burst(dict(list(connections.items())[:3]), 700, first_id=5001)

    outcome = plan_tick(first + later, launched.cursor, connections, NOW + timedelta(seconds=5), STALE_AFTER)

    plan = outcome.plan
    assert plan.run_key == "queue-5001-5700" and plan.queue_up_to == 5700
    touched = {f"conn-{c}" for c in range(3)}
    # Every queued row of a touched connection rides along, so the new run may settle them all.
    assert plan.changes == sum(1 for c in first + later if c.connection_id in touched)
    assert {c for c, _ in plan.calendars} == touched
    assert len(plan.calendars) == 30

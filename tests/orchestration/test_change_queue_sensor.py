"""change_queue_sensor, one tick at a time: coalescing, cursor, run keys, tags, skip reasons, staleness.

The connections and calendars are rows in a private operational store; no provider is involved
(what a run does with the request is covered by test_duplicated_notifications.py and the end-to-end
test; the decision alone, on a 5,000-row burst, by test_plan_tick.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from smvue_core.sync.planning import QueueCursor, describe_many
from smvue_pipeline.sensors.change_queue import build_change_queue_sensor

from .conftest import RAW_OP, evaluate

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sync_config(run_request) -> dict:
    return run_request.run_config["ops"][RAW_OP]["config"]


def test_empty_queue_skips_with_a_readable_cursor(opstore, dagster_instance):
    result = evaluate(build_change_queue_sensor(), opstore, instance=dagster_instance)
    assert result.run_requests == []
    assert result.skip_message == "queue empty after id 0"
    assert json.loads(result.cursor)["last_queue_id"] == 0


def test_one_tick_coalesces_everything_new_into_one_run(world, opstore, dagster_instance):
    google = world.connection("google", calendars=3)
    outlook = world.connection("microsoft", calendars=2)
    full = world.connection("google", calendars=1)
    cal_a, cal_b, _ = world.calendars(google)
    for _ in range(5):  # duplicates collapse to one calendar entry
        world.queue.enqueue(google, cal_b, "notification")
    world.queue.enqueue(google, cal_a, "notification")
    world.queue.enqueue(outlook, world.calendars(outlook)[0], "notification")
    world.queue.enqueue(outlook, None, "connect")  # NULL: every selected calendar
    world.queue.enqueue(outlook, world.calendars(outlook)[1], "notification")
    world.queue.enqueue(full, world.calendars(full)[0], "notification")
    last = world.queue.enqueue(full, None, "missed", full_sync=True)

    result = evaluate(build_change_queue_sensor(now=Clock()), opstore, instance=dagster_instance)

    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.run_key == f"queue-1-{last}"
    config = sync_config(request)
    assert config["connection_ids"] == sorted([outlook, full])
    assert config["full_connection_ids"] == [full]
    assert config["calendars"] == [
        {"connection_id": google, "calendar_id": c} for c in sorted([cal_a, cal_b])
    ]
    assert config["queue_up_to"] == last
    assert request.tags["smvue/trigger"] == "change_queue"
    assert request.tags["smvue/provider"] == "google,microsoft"
    assert request.tags["smvue/connection"].startswith("3 connections: ")
    cursor = json.loads(result.cursor)
    assert cursor["last_queue_id"] == last
    assert cursor["last_run"] == request.run_key
    assert set(cursor["in_flight"]) == {google, outlook, full}


def test_covered_changes_skip_until_settled(world, opstore, dagster_instance):
    sensor = build_change_queue_sensor(now=Clock())
    connection = world.connection("google", calendars=2)
    first, second = world.calendars(connection)
    world.queue.enqueue(connection, first, "notification")
    world.queue.enqueue(connection, first, "notification")
    up_to = world.queue.enqueue(connection, second, "notification")
    launched = evaluate(sensor, opstore, instance=dagster_instance)
    run_key = launched.run_requests[0].run_key

    again = evaluate(sensor, opstore, launched.cursor, instance=dagster_instance)
    assert again.run_requests == []
    assert again.skip_message.startswith(f"3 changes for 2 calendars already covered by run {run_key}")

    # The run commits and settles what it covered.
    world.queue.settle(connection, [first, second], up_to)
    settled = evaluate(sensor, opstore, again.cursor, instance=dagster_instance)
    assert settled.skip_message == f"queue empty after id {up_to}"
    assert json.loads(settled.cursor)["in_flight"] == {}


def test_new_changes_get_a_new_run_that_also_covers_older_rows(world, opstore, dagster_instance):
    sensor = build_change_queue_sensor(now=Clock())
    connection = world.connection("microsoft", calendars=2)
    first, second = world.calendars(connection)
    world.queue.enqueue(connection, None, "connect")
    first_tick = evaluate(sensor, opstore, instance=dagster_instance)
    assert first_tick.run_requests[0].run_key == "queue-1-1"

    world.queue.enqueue(connection, first, "notification")
    newest = world.queue.enqueue(connection, second, "notification")
    second_tick = evaluate(sensor, opstore, first_tick.cursor, instance=dagster_instance)

    request = second_tick.run_requests[0]
    assert request.run_key == f"queue-2-{newest}"
    # Row 1 (the whole connection) is still queued: the new run covers it too, so it may settle it.
    assert sync_config(request)["connection_ids"] == [connection]
    assert sync_config(request)["calendars"] == []
    assert sync_config(request)["queue_up_to"] == newest
    assert request.tags["smvue/connection"] == connection
    assert request.tags["smvue/provider"] == "microsoft"


def test_reordered_and_duplicated_notifications_make_one_request(world, opstore, dagster_instance):
    connection = world.connection("google", calendars=2)
    first, second = world.calendars(connection)
    for calendar in [second, first, second, second, first, first, second]:
        world.queue.enqueue(connection, calendar, "notification")
    result = evaluate(build_change_queue_sensor(now=Clock()), opstore, instance=dagster_instance)
    assert len(result.run_requests) == 1
    calendars = sync_config(result.run_requests[0])["calendars"]
    assert sorted(c["calendar_id"] for c in calendars) == sorted([first, second])


def test_stale_rows_are_launched_again_with_a_new_run_key(world, opstore, dagster_instance):
    clock = Clock()
    sensor = build_change_queue_sensor(now=clock, stale_after=timedelta(minutes=10))
    connection = world.connection("google", calendars=1)
    [calendar] = world.calendars(connection)
    up_to = world.queue.enqueue(connection, calendar, "notification")
    launched = evaluate(sensor, opstore, instance=dagster_instance)
    assert launched.run_requests[0].run_key == f"queue-1-{up_to}"

    clock.now = T0 + timedelta(minutes=9, seconds=59)
    waiting = evaluate(sensor, opstore, launched.cursor, instance=dagster_instance)
    assert waiting.run_requests == []
    assert "launched again if still queued 10 min after launch" in waiting.skip_message

    # The run failed (or was lost): nothing settled the row.
    clock.now = T0 + timedelta(minutes=10)
    retried = evaluate(sensor, opstore, waiting.cursor, instance=dagster_instance)
    [request] = retried.run_requests
    assert request.run_key == f"queue-1-{up_to}-retry-20260302T091000"
    assert request.tags["smvue/trigger"] == "change_queue_retry"
    assert sync_config(request)["calendars"] == [{"connection_id": connection, "calendar_id": calendar}]
    assert sync_config(request)["queue_up_to"] == up_to
    cursor = QueueCursor.parse(retried.cursor)
    assert cursor.in_flight[connection]["run"] == request.run_key
    assert cursor.in_flight[connection]["at"] == "2026-03-02T09:10:00+00:00"

    # Measured from the re-launch: quiet again for another ten minutes.
    clock.now = T0 + timedelta(minutes=15)
    assert evaluate(sensor, opstore, retried.cursor, instance=dagster_instance).run_requests == []


def test_rows_that_cannot_sync_are_held_and_say_why(world, opstore, dagster_instance):
    sensor = build_change_queue_sensor(now=Clock())
    needs_reconnect = world.connection("google", calendars=1)
    world.repo.set_status(needs_reconnect, "needs_reconnect", error="invalid_grant")
    partly_selected = world.connection("microsoft", calendars=2, selected=1)
    selected = world.calendars(partly_selected)
    every = [c.calendar_id for c in world.repo.calendars(partly_selected, selected_only=False)]
    [not_selected] = [c for c in every if c not in selected]
    world.queue.enqueue(needs_reconnect, None, "notification")
    world.queue.enqueue(partly_selected, not_selected, "notification")
    last = world.queue.enqueue("conn_gone", None, "notification")

    result = evaluate(sensor, opstore, instance=dagster_instance)
    assert result.run_requests == []
    assert "3 changes held until their connection can sync" in result.skip_message
    assert "1 connection needs_reconnect" in result.skip_message
    assert "1 calendar not selected" in result.skip_message
    assert "1 unknown connection" in result.skip_message
    assert json.loads(result.cursor)["last_queue_id"] == last  # read past, still queued

    # Reconnecting queues a whole-connection row; the run covers the held one as well.
    world.repo.set_status(needs_reconnect, "connected")
    newest = world.queue.enqueue(needs_reconnect, None, "reconnect")
    [request] = evaluate(sensor, opstore, result.cursor, instance=dagster_instance).run_requests
    assert request.run_key == f"queue-{newest}-{newest}"
    assert sync_config(request)["connection_ids"] == [needs_reconnect]


def test_many_connections_tag_as_a_count_and_a_short_list(world, opstore, dagster_instance):
    connections = sorted(world.connection("google", calendars=1) for _ in range(30))
    for connection in connections:
        world.queue.enqueue(connection, None, "notification")
    [request] = evaluate(
        build_change_queue_sensor(now=Clock()), opstore, instance=dagster_instance
    ).run_requests
    tag = request.tags["smvue/connection"]
    assert tag.startswith(f"30 connections: {connections[0]},")
    assert tag.endswith(" more")
    assert len(tag) <= 80
    assert describe_many(["a", "b"], "connections") == "2 connections: a,b"


def test_a_bare_integer_cursor_set_by_hand_is_understood(world, opstore, dagster_instance):
    connection = world.connection("google", calendars=1)
    for _ in range(3):
        world.queue.enqueue(connection, None, "notification")
    [request] = evaluate(
        build_change_queue_sensor(now=Clock()), opstore, cursor="2", instance=dagster_instance
    ).run_requests
    assert request.run_key == "queue-3-3"
    assert sync_config(request)["queue_up_to"] == 3

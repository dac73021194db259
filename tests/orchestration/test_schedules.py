"""reconcile_schedule: what it requests, and that it repairs a change whose notification was lost."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from smvue_pipeline.schedules import build_reconcile_schedule, reconcile_schedule
from smvue_pipeline.sensors.change_queue import RAW_OP, build_change_queue_sensor

from . import events


def evaluate_schedule(schedule, opstore, when=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)):
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, resources={"opstore": opstore}
        ) as context,
    ):
        return schedule.evaluate_tick(context)


def test_reconcile_is_hourly_by_default_and_configurable():
    assert reconcile_schedule.cron_schedule == "0 * * * *"
    assert build_reconcile_schedule("*/10 * * * *").cron_schedule == "*/10 * * * *"


def test_reconcile_skips_when_nothing_can_sync(world, opstore):
    lost = world.connection("google", calendars=1)
    world.repo.set_status(lost, "needs_reconnect", error="invalid_grant")
    result = evaluate_schedule(reconcile_schedule, opstore)
    assert result.run_requests == []
    assert "no connection can sync" in result.skip_message


def test_reconcile_requests_every_connection_keyed_by_the_scheduled_time(world, opstore):
    connections = sorted([world.connection("google"), world.connection("microsoft")])
    [request] = evaluate_schedule(reconcile_schedule, opstore).run_requests
    assert request.run_key == "reconcile-20260302T0900"
    assert request.run_config == {"ops": {RAW_OP: {"config": {}}}}
    assert request.tags["smvue/trigger"] == "reconcile"
    assert request.tags["smvue/provider"] == "google,microsoft"
    assert request.tags["smvue/connection"] == f"2 connections: {connections[0]},{connections[1]}"


def test_a_dropped_notification_is_repaired_by_the_reconcile_run(pipeline):
    mailbox = pipeline.connect("google")
    sensor = build_change_queue_sensor()
    first = pipeline.tick(sensor)
    pipeline.execute(first.run_requests[0])

    pipeline.admin.faults({"notifications": {"drop": 1.0}})
    event_id = events.create(mailbox, "Deal desk")
    pipeline.admin.wait_notifications(timeout=10)

    # Nothing reached the queue, so the sensor has nothing to launch and raw lacks the event.
    quiet = pipeline.tick(sensor, first.cursor)
    assert quiet.run_requests == []
    assert quiet.skip_message.startswith("queue empty")
    assert event_id not in pipeline.raw_titles(mailbox.connection_id)

    [request] = evaluate_schedule(reconcile_schedule, pipeline.opstore, datetime.now(UTC)).run_requests
    pipeline.execute(request)
    assert pipeline.raw_titles(mailbox.connection_id)[event_id] == ("Deal desk", "confirmed")

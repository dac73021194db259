"""reconcile_schedule: what it requests, and that it repairs a change whose notification was lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from smvue_core.sync.request import EVERYTHING
from smvue_pipeline.assets.raw_events import SyncConfig
from smvue_pipeline.schedules import build_reconcile_schedule, reconcile_schedule, renew_watches_job
from smvue_pipeline.sensors.change_queue import build_change_queue_sensor

from . import events
from .conftest import RAW_OP


def evaluate_schedule(schedule, opstore, instance, when=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)):
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, resources={"opstore": opstore}
    ) as context:
        return schedule.evaluate_tick(context)


def test_reconcile_is_hourly_by_default_and_configurable():
    assert reconcile_schedule.cron_schedule == "0 * * * *"
    assert build_reconcile_schedule("*/10 * * * *").cron_schedule == "*/10 * * * *"


def test_reconcile_skips_when_nothing_can_sync(world, opstore, dagster_instance):
    lost = world.connection("google", calendars=1)
    world.repo.set_status(lost, "needs_reconnect", error="invalid_grant")
    result = evaluate_schedule(reconcile_schedule, opstore, dagster_instance)
    assert result.run_requests == []
    assert "no connection can sync" in result.skip_message


def test_reconcile_requests_every_connection_keyed_by_the_scheduled_time(world, opstore, dagster_instance):
    connections = sorted([world.connection("google"), world.connection("microsoft")])
    [request] = evaluate_schedule(reconcile_schedule, opstore, dagster_instance).run_requests
    assert request.run_key == "reconcile-20260302T0900"
    config = request.run_config["ops"][RAW_OP]["config"]
    # Every syncable connection and all its calendars, incremental.
    assert config["connection_ids"] == [] and config["calendars"] == [] and config["full"] is False
    assert SyncConfig(**config).to_request() == EVERYTHING
    assert request.tags["smvue/trigger"] == "reconcile"
    assert request.tags["smvue/provider"] == "google,microsoft"
    assert request.tags["smvue/connection"] == f"2 connections: {connections[0]},{connections[1]}"


def test_a_dropped_notification_is_repaired_by_the_reconcile_run(gateway_pipeline):
    pipeline = gateway_pipeline
    mailbox = pipeline.connect("google")
    sensor = build_change_queue_sensor()
    first = pipeline.tick(sensor)
    pipeline.execute(first.run_requests[0])

    # Delivered: the change is queued by the gateway, and the sensor's run brings it.
    delivered = events.create(mailbox, "Forecast call")
    assert pipeline.admin.wait_notifications(timeout=10)["idle"]
    tick = pipeline.tick(sensor, first.cursor)
    [request] = tick.run_requests
    pipeline.execute(request)
    assert pipeline.raw_titles(mailbox.connection_id)[delivered] == ("Forecast call", "confirmed")

    # Dropped: nothing reaches the queue, so the sensor has nothing to launch.
    pipeline.admin.faults({"notifications": {"drop": 1.0}})
    lost = events.create(mailbox, "Deal desk")
    assert pipeline.admin.wait_notifications(timeout=10)["idle"]
    quiet = pipeline.tick(sensor, tick.cursor)
    assert quiet.run_requests == []
    assert quiet.skip_message.startswith("queue empty")
    assert lost not in pipeline.raw_titles(mailbox.connection_id)

    # The hourly reconcile run syncs every connection and brings it.
    [request] = evaluate_schedule(
        reconcile_schedule, pipeline.opstore, pipeline.instance, datetime.now(UTC)
    ).run_requests
    pipeline.execute(request)
    assert pipeline.raw_titles(mailbox.connection_id)[lost] == ("Deal desk", "confirmed")


def test_renew_watches_job_renews_what_expires_within_a_day(gateway_pipeline, monkeypatch):
    pipeline = gateway_pipeline
    monkeypatch.setenv("SMVUE_PUBLIC_URL", pipeline.gateway_url)
    mailbox = pipeline.connect("google")
    [watch] = pipeline.services.watches.list(mailbox.connection_id, ("active",))
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="microseconds")
    with pipeline.opstore.store.transaction() as conn:
        conn.execute("UPDATE watches SET expires_at = ? WHERE watch_id = ?", (soon, watch.watch_id))

    result = renew_watches_job.execute_in_process(resources=pipeline.resources, instance=pipeline.instance)
    assert result.success
    [output] = [e for e in result.events_for_node("renew_watches") if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert metadata["replaced"] == 1
    assert metadata["failed"] == 0
    active = pipeline.services.watches.list(mailbox.connection_id, ("active",))
    # Google channels cannot be extended: a new one, overlapping the old until it is stopped.
    assert len(active) == 2
    assert {w.watch_id for w in active} > {watch.watch_id}

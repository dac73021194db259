"""`change_queue_sensor`: verified notifications in the change queue become one sync run per tick.

The gateway appends to `change_queue`; this sensor reads the queue and its cursor, lets the core
decide (smvue_core/sync/planning.py: coalesce per (connection, calendar), re-launch what a lost run
never settled) and launches the one `sync_calendars_job` run it planned. That run settles exactly
the rows it covered (`queue_up_to`) after its warehouse commit, so the sensor never deletes anything.
"""

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg

from smvue_core.sync.planning import DEFAULT_STALE_AFTER, QueueCursor, plan_tick
from smvue_pipeline.assets.raw_events import sync_run_config
from smvue_pipeline.jobs import sync_calendars_job
from smvue_pipeline.resources.opstore import OperationalStoreResource

STALE_ENV = "SMVUE_QUEUE_STALE_SECONDS"
# Rows read per tick; a larger backlog is drained over the following ticks.
MAX_ROWS_PER_TICK = 50_000
# The sensor daemon loops every 5 s and compares against the previous tick's *start*, so a 5 s
# minimum is "not yet" on every other loop (a tick every 10 s, measured); 4 s ticks every loop.
MINIMUM_INTERVAL_SECONDS = 4


def stale_after_from_env() -> timedelta:
    raw = os.environ.get(STALE_ENV)
    return timedelta(seconds=float(raw)) if raw else DEFAULT_STALE_AFTER


# --- the sensor ---------------------------------------------------------------------------------------
def build_change_queue_sensor(
    name: str = "change_queue_sensor",
    stale_after: timedelta | None = None,
    now: Callable[[], datetime] | None = None,
    minimum_interval_seconds: int = MINIMUM_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    """The sensor, with a clock and a staleness (default $SMVUE_QUEUE_STALE_SECONDS or 15 min)."""
    clock = now or (lambda: datetime.now(UTC))

    @dg.sensor(
        name=name,
        job=sync_calendars_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Drains the change queue the gateway fills: one incremental sync run per tick for every "
            "calendar with new notifications; re-launches changes whose run never settled them."
        ),
    )
    def change_queue_sensor(
        context: dg.SensorEvaluationContext, opstore: OperationalStoreResource
    ) -> dg.SensorResult:
        cursor = QueueCursor.parse(context.cursor)
        queue = opstore.queue
        pending = queue.pending(after_id=0, limit=MAX_ROWS_PER_TICK)
        connections = queue.connection_views({c.connection_id for c in pending})
        outcome = plan_tick(pending, cursor, connections, clock(), stale_after or stale_after_from_env())
        plan = outcome.plan
        if plan is None:
            return dg.SensorResult(skip_reason=outcome.skip_reason, cursor=outcome.cursor.dump())
        context.log.info(
            f"run {plan.run_key}: {plan.changes} queued changes -> {len(plan.connection_ids)} connections, "
            f"{len(plan.whole_connections)} whole, {len(plan.calendars)} single calendars, "
            f"up to queue id {plan.queue_up_to}"
            + (f"; re-launching {', '.join(plan.retried_connections)}" if plan.retried_connections else "")
        )
        request = dg.RunRequest(
            run_key=plan.run_key, run_config=sync_run_config(plan.request), tags=plan.tags()
        )
        return dg.SensorResult(run_requests=[request], cursor=outcome.cursor.dump())

    return change_queue_sensor


change_queue_sensor = build_change_queue_sensor()

"""Schedules: the reconcile sync (repairs lost notifications, rolls the window) and watch renewal.

A notification can be dropped by the provider or by the network; the reconcile run syncs every
connection incrementally, so a lost notification delays a change by at most the reconcile
interval. It is also what rolls the sync window forward: the first reconcile after midnight UTC
finds the day-aligned window end moved and the engine resyncs in full.
"""

import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg

from smvue_core.opstore.connections import syncable_connections
from smvue_core.settings import Settings
from smvue_core.sync.planning import describe_many
from smvue_core.sync.request import EVERYTHING
from smvue_core.watches import WatchManager
from smvue_pipeline.assets.raw_events import sync_run_config
from smvue_pipeline.jobs import sync_calendars_job
from smvue_pipeline.resources.calendars import CalendarResource
from smvue_pipeline.resources.opstore import OperationalStoreResource

RECONCILE_CRON_ENV = "SMVUE_RECONCILE_CRON"
DEFAULT_RECONCILE_CRON = "0 * * * *"
RENEWAL_CRON_ENV = "SMVUE_WATCH_RENEWAL_CRON"
DEFAULT_RENEWAL_CRON = "*/30 * * * *"
RENEW_WITHIN = timedelta(hours=24)
# Reported every run (zeros included), so the UI plots them over time.
WATCH_ACTIONS = ("created", "renewed", "replaced", "recreated", "retired", "stopped", "failed")


def build_reconcile_schedule(cron_schedule: str | None = None) -> dg.ScheduleDefinition:
    """Hourly by default; $SMVUE_RECONCILE_CRON overrides."""

    @dg.schedule(
        name="reconcile_schedule",
        cron_schedule=cron_schedule or os.environ.get(RECONCILE_CRON_ENV, DEFAULT_RECONCILE_CRON),
        job=sync_calendars_job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            "Syncs every connection (incremental, full when the window rolled): repairs dropped "
            "notifications and brings new days into the 30-day horizon."
        ),
    )
    def reconcile_schedule(
        context: dg.ScheduleEvaluationContext, opstore: OperationalStoreResource
    ) -> dg.RunRequest | dg.SkipReason:
        rows = syncable_connections(opstore.store)
        if not rows:
            return dg.SkipReason("no connection can sync (none connected, or all need reconnecting)")
        scheduled = context.scheduled_execution_time or datetime.now(UTC)
        return dg.RunRequest(
            run_key=f"reconcile-{scheduled.astimezone(UTC):%Y%m%dT%H%M}",
            # Every syncable connection and all its selected calendars.
            run_config=sync_run_config(EVERYTHING),
            tags={
                "smvue/trigger": "reconcile",
                "smvue/provider": ",".join(sorted({provider for _, provider in rows})),
                "smvue/connection": describe_many(
                    [connection_id for connection_id, _ in rows], "connections"
                ),
            },
        )

    return reconcile_schedule


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Renews watch channels / subscriptions expiring within 24 h; retries pending stops.",
    tags={"smvue/kind": "watches"},
)
def renew_watches(
    context: dg.OpExecutionContext,
    opstore: OperationalStoreResource,
    google_calendar: CalendarResource,
    outlook_calendar: CalendarResource,
):
    manager = WatchManager(
        opstore.store,
        opstore.cipher,
        {"google": google_calendar.client(), "microsoft": outlook_calendar.client()},
        Settings.from_env(),
    )
    now = datetime.now(UTC)
    outcomes = manager.renew_due(now, within=RENEW_WITHIN) + manager.retry_stopping(now)
    counts = Counter(outcome.action for outcome in outcomes)
    for outcome in outcomes:
        if not outcome.ok:
            context.log.warning(f"{outcome.connection_id} / {outcome.calendar_id}: {outcome.error}")
    context.log.info(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing due")
    metadata = {action: dg.MetadataValue.int(counts.get(action, 0)) for action in WATCH_ACTIONS}
    yield dg.Output(None, metadata=metadata)


@dg.job(
    description="Watch renewal only: provider calls and the operational store, never the warehouse.",
    executor_def=dg.in_process_executor,
    tags={"smvue/trigger": "watch_renewal"},
)
def renew_watches_job():
    renew_watches()


def build_watch_renewal_schedule(cron_schedule: str | None = None) -> dg.ScheduleDefinition:
    """Every 30 minutes by default; $SMVUE_WATCH_RENEWAL_CRON overrides."""

    @dg.schedule(
        name="watch_renewal_schedule",
        cron_schedule=cron_schedule or os.environ.get(RENEWAL_CRON_ENV, DEFAULT_RENEWAL_CRON),
        job=renew_watches_job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Renews Google channels and Graph subscriptions a day before they expire.",
    )
    def watch_renewal_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        scheduled = context.scheduled_execution_time or datetime.now(UTC)
        return dg.RunRequest(run_key=f"renew-{scheduled.astimezone(UTC):%Y%m%dT%H%M}")

    return watch_renewal_schedule


reconcile_schedule = build_reconcile_schedule()
watch_renewal_schedule = build_watch_renewal_schedule()

"""`prep_reminder_sensor`: launch a delivery pass when prep reminders are due (F12).

The sensor only reads the operational store; `deliver_prep_reminders_job` claims and sends. One
pass at a time: while a delivery run is queued or running, the sensor waits (its claims would
find nothing anyway). Skip reasons say what it saw, so the sensor page answers "why no reminder?".
"""

import json
from datetime import UTC, datetime

import dagster as dg

from smvue_core.opstore.reminders import ReminderRepository
from smvue_pipeline.ops.reminders import deliver_prep_reminders_job
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.reminder_webhook import WEBHOOK_ENV, ReminderWebhookResource

DELIVERY_JOB = "deliver_prep_reminders_job"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def evaluate(
    context: dg.SensorEvaluationContext,
    repo: ReminderRepository,
    webhook: ReminderWebhookResource,
    now: datetime,
) -> dg.SensorResult | dg.SkipReason:
    summary = repo.due_summary(now)
    if summary.due == 0:
        if summary.next_remind_at is None:
            return dg.SkipReason("no prep reminder scheduled")
        return dg.SkipReason(
            f"no prep reminder due; next is {summary.next_reminder_id} at {_when(summary.next_remind_at)} "
            f"({summary.scheduled} scheduled)"
        )
    if not webhook.is_configured:
        return dg.SkipReason(
            f"{WEBHOOK_ENV} is not set: {summary.due} due reminder(s) stay scheduled "
            f"(oldest due {_when(summary.oldest_due_at)})"
        )
    running = context.instance.get_run_records(
        dg.RunsFilter(job_name=DELIVERY_JOB, statuses=IN_FLIGHT), limit=1
    )
    if running:
        return dg.SkipReason(
            f"{summary.due} reminder(s) due; delivery run {running[0].dagster_run.run_id} is still in progress"
        )
    cursor = json.dumps(
        {"launched_at": now.isoformat(timespec="seconds"), "due": summary.due}, sort_keys=True
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                # One launch per tick at most; the tick's time keeps run keys unique and readable.
                run_key=f"prep-reminders-{now.strftime('%Y%m%dT%H%M%S')}",
                # Filterable beside the sync runs' smvue/trigger tags on the Runs page.
                tags={
                    "smvue/trigger": "prep_reminders",
                    "reminders_due": str(summary.due),
                    "domain": "reminders",
                },
            )
        ],
        cursor=cursor,
    )


@dg.sensor(
    job=deliver_prep_reminders_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches deliver_prep_reminders_job when prep reminders are due and a webhook is configured.",
)
def prep_reminder_sensor(
    context: dg.SensorEvaluationContext,
    opstore: OperationalStoreResource,
    reminder_webhook: ReminderWebhookResource,
):
    return evaluate(context, ReminderRepository(opstore.store), reminder_webhook, datetime.now(UTC))

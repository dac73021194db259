"""`prep_reminder_sensor`: launch a delivery pass when prep reminders are due (F12).

The sensor only reads the operational store; `deliver_prep_reminders_job` claims and sends. The
decision (one pass at a time, and the skip reasons) is smvue_core/reminders/launch.py.
"""

from datetime import UTC, datetime

import dagster as dg

from smvue_core.opstore.reminders import ReminderRepository
from smvue_core.reminders.launch import DeliveryLaunch, decide_delivery
from smvue_pipeline.ops.reminders import deliver_prep_reminders_job
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.reminder_webhook import WEBHOOK_ENV, ReminderWebhookResource

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def evaluate(
    context: dg.SensorEvaluationContext,
    repo: ReminderRepository,
    webhook: ReminderWebhookResource,
    now: datetime,
) -> dg.SensorResult | dg.SkipReason:
    def run_in_progress() -> str | None:
        running = context.instance.get_run_records(
            dg.RunsFilter(job_name=deliver_prep_reminders_job.name, statuses=IN_FLIGHT), limit=1
        )
        return running[0].dagster_run.run_id if running else None

    decision = decide_delivery(
        repo.due_summary(now),
        now,
        webhook_configured=webhook.is_configured,
        webhook_setting=WEBHOOK_ENV,
        run_in_progress=run_in_progress,
    )
    if not isinstance(decision, DeliveryLaunch):
        return dg.SkipReason(decision)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=decision.run_key, tags=decision.tags)], cursor=decision.cursor
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

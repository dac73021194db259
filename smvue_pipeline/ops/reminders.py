"""`deliver_prep_reminders_job`: one delivery pass, launched by prep_reminder_sensor.

A job rather than delivery inside the sensor: POSTs with timeouts and retries can outlast a sensor
evaluation, and a run gives operators logs and a record per pass. It never opens the warehouse,
so it does not queue behind syncs for the warehouse pool.
"""

from datetime import UTC, datetime

import dagster as dg

from smvue_core.opstore.reminders import ReminderRepository
from smvue_core.reminders.delivery import deliver_due
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.reminder_webhook import WEBHOOK_ENV, ReminderWebhookResource


@dg.op(tags={"domain": "reminders"})
def deliver_prep_reminders(
    context: dg.OpExecutionContext,
    opstore: OperationalStoreResource,
    reminder_webhook: ReminderWebhookResource,
) -> dg.Output[int]:
    """POST every due prep reminder once (claim, send with Idempotency-Key, mark)."""
    repo = ReminderRepository(opstore.store)
    if not reminder_webhook.is_configured:
        context.log.warning(f"{WEBHOOK_ENV} is not set: due reminders stay scheduled")
        return dg.Output(0, metadata={"sent": 0, "webhook_configured": False})
    report = deliver_due(repo, reminder_webhook.url, datetime.now(UTC), policy=reminder_webhook.policy())
    for reminder_id, error in report.errors.items():
        context.log.warning(f"reminder {reminder_id}: {error}")
    context.log.info(f"prep reminders: {report.summary()}")
    return dg.Output(
        len(report.sent),
        metadata={
            "sent": len(report.sent),
            "retrying": len(report.retrying),
            "failed": len(report.failed),
            "expired": len(report.expired),
        },
    )


@dg.job(
    tags={"domain": "reminders"},
    executor_def=dg.in_process_executor,
    description="Deliver due prep reminders to the reminder webhook (no warehouse access).",
)
def deliver_prep_reminders_job():
    deliver_prep_reminders()

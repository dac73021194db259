"""The reminder webhook as a Dagster resource (SMVUE_REMINDER_WEBHOOK_URL)."""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from smvue_core.reminders.delivery import DeliveryPolicy

WEBHOOK_ENV = "SMVUE_REMINDER_WEBHOOK_URL"


class ReminderWebhookResource(dg.ConfigurableResource):
    """Where prep reminders are POSTed, and how hard delivery tries. No URL: reminders stay
    `scheduled` (visible in analytics.prep_reminders), nothing is claimed or lost."""

    url: str | None = Field(
        default=None, description=f"the webhook URL ({WEBHOOK_ENV}); unset disables delivery"
    )
    max_attempts: int = Field(default=5, description="attempts before a reminder is marked failed")
    base_backoff_seconds: int = Field(default=30, description="first retry delay; doubles per attempt")
    max_backoff_seconds: int = Field(default=3600)
    lease_seconds: int = Field(default=120, description="how long a claim protects a reminder being sent")
    timeout_seconds: float = Field(default=10.0)

    @property
    def is_configured(self) -> bool:
        return bool(self.url)

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            max_attempts=self.max_attempts,
            base_backoff=timedelta(seconds=self.base_backoff_seconds),
            max_backoff=timedelta(seconds=self.max_backoff_seconds),
            lease=timedelta(seconds=self.lease_seconds),
            timeout_seconds=self.timeout_seconds,
        )

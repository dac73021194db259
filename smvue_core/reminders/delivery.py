"""Delivering due prep reminders (F12) to a webhook, exactly once per reminder as the receiver sees it.

For each due reminder: claim it (opstore transaction + lease), POST its JSON with
`Idempotency-Key: <reminder_id>`, mark it sent. A failure records the error and schedules a retry
with exponential backoff; after `max_attempts` the reminder is `failed` (visible, with its error).
A sender that dies after claiming leaves a lease that expires; the next sender retries with the
same key, so a receiver that honours the key acts once. No webhook URL configured: nothing is
claimed, the reminders stay `scheduled`. This module never opens the warehouse.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests

from smvue_core.clock import iso_utc
from smvue_core.opstore.reminders import Reminder, ReminderRepository


class DeliveryError(Exception):
    """The receiver did not take the reminder (network error, timeout, non-2xx)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 5
    base_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=2)
    batch_size: int = 50
    timeout_seconds: float = 10.0

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed attempts; None: give up."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.base_backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)
        return now + delay


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def attempted(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed)

    def summary(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.failed)} failed, "
            f"{len(self.expired)} expired"
        )


Post = Callable[[str, dict, dict, float], None]


def http_post(url: str, body: dict, headers: dict, timeout: float) -> None:
    """POST JSON; any non-2xx answer is a DeliveryError naming the status (never the body)."""
    session = requests.Session()
    session.trust_env = False  # reminders go where configured, not through an ambient proxy
    try:
        response = session.post(url, data=json.dumps(body), headers=headers, timeout=timeout)
    except requests.Timeout:
        raise DeliveryError(f"timeout: no answer from the reminder webhook within {timeout:g} s") from None
    except requests.ConnectionError:
        raise DeliveryError("connection failed: the reminder webhook could not be reached") from None
    except requests.RequestException as exc:
        # The exception text can quote the URL, which may carry a secret: keep the type only.
        raise DeliveryError(f"request failed: {type(exc).__name__}") from None
    finally:
        session.close()
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code} from the reminder webhook")


def notification_body(reminder: Reminder) -> dict:
    details = json.loads(reminder.payload) if reminder.payload else {}
    return {
        "type": "smvue.prep_reminder",
        "reminder_id": reminder.reminder_id,
        "one_on_one_id": reminder.one_on_one_id,
        "manager_id": reminder.manager_id,
        "rep_id": reminder.rep_id,
        "meeting_start_at": iso_utc(reminder.meeting_start_at),
        "remind_at": iso_utc(reminder.remind_at),
        **{k: v for k, v in details.items() if k not in ("one_on_one_id", "manager_id", "rep_id")},
    }


def new_sender_id() -> str:
    return f"sender-{uuid.uuid4().hex[:12]}"


def deliver_due(
    repo: ReminderRepository,
    url: str | None,
    now: datetime,
    *,
    policy: DeliveryPolicy | None = None,
    post: Post = http_post,
    owner: str | None = None,
    after_post: Callable[[Reminder], None] | None = None,
) -> DeliveryReport:
    """One delivery pass over the reminders due at `now`. `after_post` is a test hook (crash
    between the POST and the mark)."""
    policy = policy or DeliveryPolicy()
    report = DeliveryReport()
    if not url:
        return report
    owner = owner or new_sender_id()
    while True:
        claimed = repo.claim_due(now, owner, policy.lease, policy.batch_size)
        if not claimed:
            return report
        for reminder in claimed:
            if reminder.meeting_start_at <= now:
                # Too late to prepare: say so instead of sending a reminder for a past meeting.
                repo.record_failure(
                    reminder.reminder_id, owner, now, "expired: the 1:1 started before delivery", None
                )
                report.expired.append(reminder.reminder_id)
                continue
            headers = {"Content-Type": "application/json", "Idempotency-Key": reminder.reminder_id}
            try:
                post(url, notification_body(reminder), headers, policy.timeout_seconds)
            except DeliveryError as exc:
                retry_at = policy.retry_at(reminder.attempts, now)
                repo.record_failure(reminder.reminder_id, owner, now, str(exc), retry_at)
                report.errors[reminder.reminder_id] = str(exc)
                (report.retrying if retry_at else report.failed).append(reminder.reminder_id)
                continue
            if after_post is not None:
                after_post(reminder)
            repo.mark_sent(reminder.reminder_id, owner, now)
            report.sent.append(reminder.reminder_id)
        if len(claimed) < policy.batch_size:
            return report

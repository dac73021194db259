"""decide_delivery, the prep_reminder_sensor's decision, on its own: one pass at a time, and the
in-progress lookup only when a launch is otherwise due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from smvue_core.opstore.reminders import DueSummary
from smvue_core.reminders.launch import DeliveryLaunch, decide_delivery

NOW = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)
DUE = DueSummary(
    due=2, oldest_due_at=NOW - timedelta(minutes=3), next_reminder_id=None, next_remind_at=None, scheduled=2
)


def decide(summary: DueSummary, configured: bool = True, running: str | None = None):
    asked = []

    def run_in_progress() -> str | None:
        asked.append(True)
        return running

    decision = decide_delivery(
        summary,
        NOW,
        webhook_configured=configured,
        webhook_setting="HOOK_URL",
        run_in_progress=run_in_progress,
    )
    return decision, bool(asked)


def test_nothing_due_is_a_reason_and_asks_for_no_run():
    idle = DueSummary(due=0, oldest_due_at=None, next_reminder_id="rem_1", next_remind_at=NOW, scheduled=1)
    decision, asked = decide(idle)
    assert decision == "no prep reminder due; next is rem_1 at 2026-03-02 09:00 UTC (1 scheduled)"
    assert not asked


def test_no_webhook_keeps_reminders_scheduled():
    decision, asked = decide(DUE, configured=False)
    assert (
        decision == "HOOK_URL is not set: 2 due reminder(s) stay scheduled (oldest due 2026-03-02 08:57 UTC)"
    )
    assert not asked


def test_one_pass_at_a_time():
    decision, asked = decide(DUE, running="run-7")
    assert decision == "2 reminder(s) due; delivery run run-7 is still in progress" and asked


def test_a_launch_is_keyed_by_the_tick():
    decision, _ = decide(DUE)
    assert isinstance(decision, DeliveryLaunch)
    assert decision.run_key == "prep-reminders-20260302T090005"
    assert decision.tags == {"smvue/trigger": "prep_reminders", "reminders_due": "2", "domain": "reminders"}
    assert json.loads(decision.cursor) == {"launched_at": "2026-03-02T09:00:05+00:00", "due": 2}

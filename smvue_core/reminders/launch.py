"""When to launch a delivery pass (F12), and what to say when not: the prep_reminder_sensor's decision.

One pass at a time: while a delivery run is in progress, none is launched (its claims would find
nothing anyway). The reasons say what was seen, so the sensor page answers "why no reminder?".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from smvue_core.opstore.reminders import DueSummary


@dataclass(frozen=True)
class DeliveryLaunch:
    run_key: str
    tags: dict[str, str]
    cursor: str


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def decide_delivery(
    summary: DueSummary,
    now: datetime,
    *,
    webhook_configured: bool,
    webhook_setting: str,
    run_in_progress: Callable[[], str | None],
) -> DeliveryLaunch | str:
    """A launch, or the reason for none. `webhook_setting` names where the URL is configured;
    `run_in_progress` (asked only when a launch is otherwise due) gives a running pass's id."""
    if summary.due == 0:
        if summary.next_remind_at is None:
            return "no prep reminder scheduled"
        return (
            f"no prep reminder due; next is {summary.next_reminder_id} at {_when(summary.next_remind_at)} "
            f"({summary.scheduled} scheduled)"
        )
    if not webhook_configured:
        return (
            f"{webhook_setting} is not set: {summary.due} due reminder(s) stay scheduled "
            f"(oldest due {_when(summary.oldest_due_at)})"
        )
    running = run_in_progress()
    if running:
        return f"{summary.due} reminder(s) due; delivery run {running} is still in progress"
    return DeliveryLaunch(
        # One launch per tick at most; the tick's time keeps run keys unique and readable.
        run_key=f"prep-reminders-{now.strftime('%Y%m%dT%H%M%S')}",
        # Filterable beside the sync runs' smvue/trigger tags on the Runs page.
        tags={"smvue/trigger": "prep_reminders", "reminders_due": str(summary.due), "domain": "reminders"},
        cursor=json.dumps(
            {"launched_at": now.isoformat(timespec="seconds"), "due": summary.due}, sort_keys=True
        ),
    )

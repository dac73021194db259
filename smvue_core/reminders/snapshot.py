"""The prep-reminder snapshot: plan the reminders (opstore), then copy them into
`analytics.prep_reminders` for readers, in the caller's warehouse writer.

`refresh` is what the `prep_reminders` asset runs; delivery state as readers see it is the opstore
state, with a scheduled reminder under a live lease shown as `sending`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from smvue_core.opstore.reminders import Reminder, ReminderRepository
from smvue_core.reminders.planner import PlanOutcome, plan_and_store

TS = pa.timestamp("us", tz="UTC")
SNAPSHOT_SCHEMA = pa.schema(
    [
        ("reminder_id", pa.string()),
        ("one_on_one_id", pa.string()),
        ("manager_id", pa.string()),
        ("rep_id", pa.string()),
        ("meeting_start_at", TS),
        ("remind_at", TS),
        ("sent_at", TS),
        ("delivery_state", pa.string()),
        ("attempts", pa.int32()),
        ("next_attempt_at", TS),
        ("last_error", pa.string()),
        ("state_reason", pa.string()),
    ]
)


def delivery_state(reminder: Reminder, now: datetime) -> str:
    return "sending" if reminder.state == "scheduled" and reminder.is_leased(now) else reminder.state


def write_snapshot(con: duckdb.DuckDBPyConnection, reminders: list[Reminder], now: datetime) -> None:
    """Replace analytics.prep_reminders with the opstore's reminders, in one transaction."""
    columns = {
        "reminder_id": [r.reminder_id for r in reminders],
        "one_on_one_id": [r.one_on_one_id for r in reminders],
        "manager_id": [r.manager_id for r in reminders],
        "rep_id": [r.rep_id for r in reminders],
        "meeting_start_at": [r.meeting_start_at for r in reminders],
        "remind_at": [r.remind_at for r in reminders],
        "sent_at": [r.sent_at for r in reminders],
        "delivery_state": [delivery_state(r, now) for r in reminders],
        "attempts": [r.attempts for r in reminders],
        "next_attempt_at": [r.next_attempt_at for r in reminders],
        "last_error": [r.last_error for r in reminders],
        "state_reason": [r.state_reason for r in reminders],
    }
    con.register("reminder_rows", pa.table(columns, schema=SNAPSHOT_SCHEMA))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        con.execute("CREATE OR REPLACE TABLE analytics.prep_reminders AS SELECT * FROM reminder_rows")
        con.execute("COMMIT")
    finally:
        con.unregister("reminder_rows")


@dataclass(frozen=True)
class Refresh:
    outcome: PlanOutcome
    reminders: list[Reminder]
    # Reminders per delivery state, as written to the snapshot.
    states: dict[str, int]
    # Reminders planned for the 1:1s that are cancelled, declined, archived or gone, but still
    # waiting to be sent: (reminder_id, meeting status, is_archived). F12 says none.
    pending_for_dead: list[tuple[str, str, bool]] | None

    def next_scheduled(self, count: int = 5) -> list[Reminder]:
        scheduled = (r for r in self.reminders if r.state == "scheduled")
        return sorted(scheduled, key=lambda r: r.remind_at)[:count]


def refresh(
    con: duckdb.DuckDBPyConnection, repo: ReminderRepository, now: datetime, default_lead: timedelta
) -> Refresh:
    """Plan and store the reminders, rewrite the snapshot and read back what F12 rules out."""
    outcome = plan_and_store(con, repo, now, default_lead)
    reminders = repo.all()
    write_snapshot(con, reminders, now)
    states: dict[str, int] = {}
    for reminder in reminders:
        state = delivery_state(reminder, now)
        states[state] = states.get(state, 0) + 1
    return Refresh(outcome, reminders, states, pending_for_dead_one_on_ones(con))


def pending_for_dead_one_on_ones(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, bool]] | None:
    """Reminders still to be sent for a cancelled, declined, archived or vanished 1:1; None before
    the first 1:1s exist."""
    if not con.execute(
        """SELECT count(*) FROM information_schema.tables
           WHERE table_schema = 'analytics' AND table_name = 'one_on_one_meetings'"""
    ).fetchone()[0]:
        return None
    return con.execute(
        """SELECT r.reminder_id, coalesce(o.status, 'gone') AS meeting, coalesce(o.is_archived, false)
           FROM analytics.prep_reminders r
           LEFT JOIN analytics.one_on_one_meetings o USING (one_on_one_id)
           WHERE r.delivery_state IN ('scheduled', 'sending')
             AND (o.one_on_one_id IS NULL OR o.status IN ('cancelled', 'declined') OR o.is_archived)
           ORDER BY 1"""
    ).fetchall()

"""Prep reminders (F12) in the operational store: planning writes, delivery claims under a lease.

Exactly once per 1:1 occurrence:
- planning (the prep_reminders asset) creates, moves and withdraws rows in one transaction, and
  never touches a sent row or one a sender holds;
- a sender claims due rows in one transaction (a lease, so two senders never hold the same row and
  a crashed sender's claim expires), POSTs with `Idempotency-Key: <reminder_id>`, then marks the
  row sent. A crash between the POST and the mark means one retry with the same key, which the
  receiver recognises; a sent row is final.

Lead times: `reminder_settings` holds per-manager overrides (minutes); everyone else gets the
planner's default (24 h).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from smvue_core.clock import iso_utc, now_utc, parse_utc
from smvue_core.opstore.db import OpStore

OPEN_STATES = ("scheduled", "failed")
MAX_LEAD_MINUTES = 20160  # two weeks: the sync window looks 30 days ahead


@dataclass(frozen=True)
class Reminder:
    reminder_id: str
    one_on_one_id: str
    manager_id: str
    rep_id: str
    meeting_start_at: datetime
    remind_at: datetime
    state: str  # scheduled | sent | withdrawn | failed
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    state_reason: str | None
    payload: str | None
    lease_owner: str | None
    lease_until: datetime | None

    def is_leased(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now


def _reminder(row: sqlite3.Row) -> Reminder:
    return Reminder(
        reminder_id=row["reminder_id"],
        one_on_one_id=row["one_on_one_id"],
        manager_id=row["manager_id"],
        rep_id=row["rep_id"],
        meeting_start_at=parse_utc(row["meeting_start_at"]),  # type: ignore[arg-type]
        remind_at=parse_utc(row["remind_at"]),  # type: ignore[arg-type]
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=parse_utc(row["next_attempt_at"]),
        sent_at=parse_utc(row["sent_at"]),
        last_error=row["last_error"],
        state_reason=row["state_reason"],
        payload=row["payload"],
        lease_owner=row["lease_owner"],
        lease_until=parse_utc(row["lease_until"]),
    )


def reminder_id_for(one_on_one_id: str) -> str:
    """Deterministic, so a re-plan can never mint a second reminder for the same 1:1."""
    return f"rem_{one_on_one_id}"


@dataclass(frozen=True)
class DueSummary:
    due: int
    oldest_due_at: datetime | None
    next_reminder_id: str | None
    next_remind_at: datetime | None
    scheduled: int


class ReminderRepository:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    # --- lead times -------------------------------------------------------------------------
    def set_lead_time(self, manager_id: str, minutes: int, now: datetime | None = None) -> None:
        if not 0 <= minutes <= MAX_LEAD_MINUTES:
            raise ValueError(f"lead_minutes must be between 0 and {MAX_LEAD_MINUTES}, got {minutes}")
        with self.store.transaction() as tx:
            tx.execute(
                """INSERT INTO reminder_settings (manager_id, lead_minutes, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (manager_id) DO UPDATE SET lead_minutes = excluded.lead_minutes,
                       updated_at = excluded.updated_at""",
                (manager_id, minutes, iso_utc(now or now_utc())),
            )

    def clear_lead_time(self, manager_id: str) -> None:
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM reminder_settings WHERE manager_id = ?", (manager_id,))

    def lead_times(self, conn: sqlite3.Connection | None = None) -> dict[str, timedelta]:
        rows = (conn or self.store.connection()).execute(
            "SELECT manager_id, lead_minutes FROM reminder_settings"
        )
        return {row["manager_id"]: timedelta(minutes=row["lead_minutes"]) for row in rows}

    # --- reading ----------------------------------------------------------------------------
    def get(self, reminder_id: str) -> Reminder | None:
        row = self.store.query_one("SELECT * FROM prep_reminders WHERE reminder_id = ?", (reminder_id,))
        return _reminder(row) if row else None

    def for_one_on_one(self, one_on_one_id: str) -> Reminder | None:
        row = self.store.query_one("SELECT * FROM prep_reminders WHERE one_on_one_id = ?", (one_on_one_id,))
        return _reminder(row) if row else None

    def all(self) -> list[Reminder]:
        return [_reminder(r) for r in self.store.query("SELECT * FROM prep_reminders ORDER BY remind_at")]

    def relevant(self, conn: sqlite3.Connection, since: datetime) -> list[Reminder]:
        """What planning must see: every reminder of a meeting after `since`, and every open one."""
        rows = conn.execute(
            "SELECT * FROM prep_reminders WHERE meeting_start_at >= ? OR state = 'scheduled'",
            (iso_utc(since),),
        )
        return [_reminder(r) for r in rows]

    def due_summary(self, now: datetime) -> DueSummary:
        stamp = iso_utc(now)
        due, oldest = self.store.query_one(
            f"""SELECT count(*), min(remind_at) FROM prep_reminders WHERE {_DUE}""", {"now": stamp}
        )
        upcoming = self.store.query_one(
            """SELECT reminder_id, remind_at FROM prep_reminders
               WHERE state = 'scheduled' AND remind_at > :now ORDER BY remind_at LIMIT 1""",
            {"now": stamp},
        )
        scheduled = self.store.query_one("SELECT count(*) FROM prep_reminders WHERE state = 'scheduled'")[0]
        return DueSummary(
            due=due,
            oldest_due_at=parse_utc(oldest),
            next_reminder_id=upcoming["reminder_id"] if upcoming else None,
            next_remind_at=parse_utc(upcoming["remind_at"]) if upcoming else None,
            scheduled=scheduled,
        )

    # --- planning (called inside one transaction by the planner) ----------------------------
    @staticmethod
    def create(
        conn: sqlite3.Connection,
        *,
        one_on_one_id: str,
        manager_id: str,
        rep_id: str,
        meeting_start_at: datetime,
        remind_at: datetime,
        payload: str | None,
        now: datetime,
    ) -> bool:
        cursor = conn.execute(
            """INSERT INTO prep_reminders (reminder_id, one_on_one_id, manager_id, rep_id, meeting_start_at,
                   remind_at, state, attempts, payload, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, 'scheduled', 0, ?, ?, ?)
               ON CONFLICT DO NOTHING""",
            (
                reminder_id_for(one_on_one_id),
                one_on_one_id,
                manager_id,
                rep_id,
                iso_utc(meeting_start_at),
                iso_utc(remind_at),
                payload,
                iso_utc(now),
                iso_utc(now),
            ),
        )
        return cursor.rowcount > 0

    @staticmethod
    def reschedule(
        conn: sqlite3.Connection,
        reminder_id: str,
        *,
        meeting_start_at: datetime,
        remind_at: datetime,
        payload: str | None,
        reset: bool,
        now: datetime,
    ) -> bool:
        """Move an unsent reminder (and revive a withdrawn or failed one when `reset`)."""
        cursor = conn.execute(
            f"""UPDATE prep_reminders SET meeting_start_at = :start, remind_at = :remind, payload = :payload,
                   state = 'scheduled', state_reason = NULL, updated_at = :now,
                   attempts = CASE WHEN :reset THEN 0 ELSE attempts END,
                   next_attempt_at = CASE WHEN :reset THEN NULL ELSE next_attempt_at END,
                   last_error = CASE WHEN :reset THEN NULL ELSE last_error END
               WHERE reminder_id = :id AND state <> 'sent' AND {_NOT_LEASED}""",
            {
                "start": iso_utc(meeting_start_at),
                "remind": iso_utc(remind_at),
                "payload": payload,
                "reset": bool(reset),
                "now": iso_utc(now),
                "id": reminder_id,
            },
        )
        return cursor.rowcount > 0

    @staticmethod
    def refresh_payload(
        conn: sqlite3.Connection, reminder_id: str, payload: str | None, now: datetime
    ) -> None:
        conn.execute(
            f"""UPDATE prep_reminders SET payload = :payload, updated_at = :now
                WHERE reminder_id = :id AND state = 'scheduled' AND payload IS DISTINCT FROM :payload AND {_NOT_LEASED}""",
            {"payload": payload, "now": iso_utc(now), "id": reminder_id},
        )

    @staticmethod
    def withdraw(conn: sqlite3.Connection, reminder_id: str, reason: str, now: datetime) -> bool:
        cursor = conn.execute(
            f"""UPDATE prep_reminders SET state = 'withdrawn', state_reason = :reason, updated_at = :now
                WHERE reminder_id = :id AND state = 'scheduled' AND {_NOT_LEASED}""",
            {"reason": reason, "now": iso_utc(now), "id": reminder_id},
        )
        return cursor.rowcount > 0

    # --- delivery ---------------------------------------------------------------------------
    def claim_due(self, now: datetime, owner: str, lease: timedelta, limit: int = 50) -> list[Reminder]:
        """Take up to `limit` due reminders for `owner` until now + lease, in one transaction."""
        stamp = iso_utc(now)
        # Not the single-writer transaction: the due rows are locked by the claim itself (on
        # PostgreSQL, rows another sender is claiming right now are skipped, not waited for).
        with self.store.transaction(serial=False) as tx:
            rows = tx.execute(
                f"SELECT reminder_id FROM prep_reminders WHERE {_DUE} ORDER BY remind_at LIMIT :limit"
                + self.store.dialect.skip_locked,
                {"now": stamp, "limit": limit},
            ).fetchall()
            ids = [row["reminder_id"] for row in rows]
            for reminder_id in ids:
                tx.execute(
                    """UPDATE prep_reminders SET lease_owner = ?, lease_until = ?, attempts = attempts + 1,
                           updated_at = ? WHERE reminder_id = ?""",
                    (owner, iso_utc(now + lease), stamp, reminder_id),
                )
            claimed = [
                _reminder(tx.execute("SELECT * FROM prep_reminders WHERE reminder_id = ?", (i,)).fetchone())
                for i in ids
            ]
        return claimed

    def mark_sent(self, reminder_id: str, owner: str, now: datetime) -> bool:
        """Delivered: final, whatever happened to the lease meanwhile (it *was* delivered)."""
        with self.store.transaction() as tx:
            cursor = tx.execute(
                """UPDATE prep_reminders SET state = 'sent', sent_at = ?, last_error = NULL, state_reason = NULL,
                       lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = ?
                   WHERE reminder_id = ? AND state <> 'sent'""",
                (iso_utc(now), iso_utc(now), reminder_id),
            )
            return cursor.rowcount > 0

    def record_failure(
        self, reminder_id: str, owner: str, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        """A failed attempt: retry at `retry_at`, or give up (`failed`, error kept) when None."""
        with self.store.transaction() as tx:
            cursor = tx.execute(
                """UPDATE prep_reminders SET
                       state = CASE WHEN CAST(:retry AS TEXT) IS NULL THEN 'failed' ELSE state END,
                       next_attempt_at = :retry, last_error = :error,
                       lease_owner = NULL, lease_until = NULL, updated_at = :now
                   WHERE reminder_id = :id AND state = 'scheduled' AND lease_owner = :owner""",
                {
                    "retry": iso_utc(retry_at) if retry_at else None,
                    "error": error[:500],
                    "now": iso_utc(now),
                    "id": reminder_id,
                    "owner": owner,
                },
            )
            return cursor.rowcount > 0

    def release(self, reminder_id: str, owner: str, now: datetime) -> None:
        """Give a claim back untouched (nothing was attempted), attempts restored."""
        with self.store.transaction() as tx:
            tx.execute(
                """UPDATE prep_reminders SET lease_owner = NULL, lease_until = NULL,
                       attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ?
                   WHERE reminder_id = ? AND lease_owner = ? AND state = 'scheduled'""",
                (iso_utc(now), reminder_id, owner),
            )


# A scheduled reminder whose time has come, not held by a live sender, not waiting for a retry.
_DUE = (
    "state = 'scheduled' AND remind_at <= :now AND (next_attempt_at IS NULL OR next_attempt_at <= :now) "
    "AND (lease_until IS NULL OR lease_until <= :now)"
)
# Planning leaves alone what a live sender holds; `:now` is bound by the caller.
_NOT_LEASED = "(lease_until IS NULL OR lease_until <= :now)"

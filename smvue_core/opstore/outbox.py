"""The write-back outbox: one row per change to an SMVue meeting, written in the meeting's transaction.

Workers claim due rows under a lease (in a transaction, so two workers never hold the same
meeting), call the provider, and settle the row. A newer change supersedes an older pending row:
the worker always writes the meeting's *current* state, so the newest row carries everything.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from smvue_core.clock import iso_utc, parse_utc
from smvue_core.opstore.db import OpStore

ACTIONS = ("create", "update", "cancel")
FINAL_STATES = ("done", "failed", "refused", "superseded")


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    meeting_id: str
    action: str
    meeting_version: int
    state: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    lease_owner: str | None
    lease_until: str | None


@dataclass(frozen=True)
class Claim:
    """A row this worker now holds, and whether the meeting's event may already exist (an earlier
    attempt — this row's or a superseded one's — reached the provider, or died trying)."""

    item: OutboxItem
    retried: bool


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        outbox_id=row["outbox_id"],
        meeting_id=row["meeting_id"],
        action=row["action"],
        meeting_version=row["meeting_version"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
    )


class Outbox:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    # --- writing (inside the caller's meeting transaction) -----------------------------------
    @staticmethod
    def enqueue(conn: sqlite3.Connection, meeting_id: str, action: str, version: int, now: datetime) -> int:
        """Queue a change; any older pending row of the meeting is superseded by it."""
        if action not in ACTIONS:
            raise ValueError(f"unknown outbox action {action!r}")
        stamp = iso_utc(now)
        conn.execute(
            "UPDATE outbox SET state = 'superseded', updated_at = ? WHERE meeting_id = ? AND state = 'pending'",
            (stamp, meeting_id),
        )
        cur = conn.execute(
            """INSERT INTO outbox (meeting_id, action, meeting_version, state, attempts, next_attempt_at,
                   created_at, updated_at)
               VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING outbox_id""",
            (meeting_id, action, version, stamp, stamp, stamp),
        )
        return int(cur.fetchone()[0])

    @staticmethod
    def has_pending(conn: sqlite3.Connection, meeting_id: str) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM outbox WHERE meeting_id = ? AND state = 'pending' LIMIT 1", (meeting_id,)
            ).fetchone()
            is not None
        )

    # --- workers -----------------------------------------------------------------------------
    def claim(self, owner: str, now: datetime, lease_seconds: float, limit: int = 10) -> list[Claim]:
        """Take up to `limit` due rows under a lease. A row is skipped while another row of the same
        meeting is leased (a superseded row can still be in flight), so one meeting is only ever
        written by one worker at a time."""
        stamp, until = iso_utc(now), iso_utc(now + timedelta(seconds=lease_seconds))
        claims = []
        # Idle polls read without taking the write lock: the webhook intake shares this SQLite file
        # and must never wait behind a worker that has nothing to do.
        if not self.store.query_one(
            "SELECT 1 FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? LIMIT 1", (stamp,)
        ):
            return claims
        # The rows are locked by the claim itself, not by the single-writer transaction: on
        # PostgreSQL, workers of other replicas skip the rows one is claiming (SKIP LOCKED).
        with self.store.transaction(serial=False) as conn:
            rows = conn.execute(
                """SELECT o.* FROM outbox o
                   WHERE o.state = 'pending' AND o.next_attempt_at <= :now
                     AND (o.lease_until IS NULL OR o.lease_until <= :now)
                     AND NOT EXISTS (
                         SELECT 1 FROM outbox x
                         WHERE x.meeting_id = o.meeting_id AND x.outbox_id <> o.outbox_id
                           AND x.lease_until > :now)
                   ORDER BY o.next_attempt_at, o.outbox_id
                   LIMIT :limit"""
                + self.store.dialect.skip_locked,
                {"now": stamp, "limit": limit},
            ).fetchall()
            for row in rows:
                conn.execute(
                    """UPDATE outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
                       WHERE outbox_id = ?""",
                    (owner, until, stamp, row["outbox_id"]),
                )
                # Leases a dead worker left on the meeting's older rows are over: this claim took over.
                conn.execute(
                    """UPDATE outbox SET lease_owner = NULL, lease_until = NULL
                       WHERE meeting_id = ? AND outbox_id <> ? AND lease_until <= ?""",
                    (row["meeting_id"], row["outbox_id"], stamp),
                )
                earlier = conn.execute(
                    "SELECT coalesce(sum(attempts), 0) FROM outbox WHERE meeting_id = ?", (row["meeting_id"],)
                ).fetchone()[0]
                fresh = conn.execute(
                    "SELECT * FROM outbox WHERE outbox_id = ?", (row["outbox_id"],)
                ).fetchone()
                # This claim counts one attempt; anything more means an earlier try may have created it.
                claims.append(Claim(_item(fresh), retried=earlier > 1))
        return claims

    @staticmethod
    def settle(
        conn: sqlite3.Connection, outbox_id: int, owner: str, state: str, error: str | None, now: datetime
    ) -> bool:
        """Record a final state and drop the lease. False when the lease was lost (taken over after
        it expired): the new holder decides. A superseded row keeps that state."""
        if state not in FINAL_STATES:
            raise ValueError(f"not a final outbox state: {state!r}")
        cur = conn.execute(
            """UPDATE outbox SET state = CASE WHEN state = 'pending' THEN ? ELSE state END, last_error = ?,
                   lease_owner = NULL, lease_until = NULL, updated_at = ?
               WHERE outbox_id = ? AND lease_owner = ?""",
            (state, error, iso_utc(now), outbox_id, owner),
        )
        return cur.rowcount == 1

    @staticmethod
    def retry_later(
        conn: sqlite3.Connection, outbox_id: int, owner: str, error: str, at: datetime, now: datetime
    ) -> bool:
        cur = conn.execute(
            """UPDATE outbox SET last_error = ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
                   updated_at = ?
               WHERE outbox_id = ? AND lease_owner = ?""",
            (error, iso_utc(at), iso_utc(now), outbox_id, owner),
        )
        return cur.rowcount == 1

    # --- reading -----------------------------------------------------------------------------
    def for_meeting(self, meeting_id: str) -> list[OutboxItem]:
        rows = self.store.query("SELECT * FROM outbox WHERE meeting_id = ? ORDER BY outbox_id", (meeting_id,))
        return [_item(r) for r in rows]

    def latest(self, meeting_id: str) -> OutboxItem | None:
        row = self.store.query_one(
            "SELECT * FROM outbox WHERE meeting_id = ? ORDER BY outbox_id DESC LIMIT 1", (meeting_id,)
        )
        return _item(row) if row else None

    def counts(self) -> dict[str, int]:
        rows = self.store.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    def next_due(self) -> datetime | None:
        """When the earliest pending row becomes due (or its lease lapses): how long a worker may sleep."""
        row = self.store.query_one(
            """SELECT min(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) AS due
               FROM outbox WHERE state = 'pending'"""
        )
        return parse_utc(row["due"]) if row and row["due"] else None

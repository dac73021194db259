"""The change queue: verified notifications and sync requests, durable before acknowledgement.

The gateway appends; the `change_queue_sensor` reads past its cursor and coalesces per calendar;
the sync run deletes exactly the rows it covered, after its warehouse transaction committed.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from smvue_core.clock import now_iso
from smvue_core.opstore.connections import SYNCABLE
from smvue_core.opstore.db import OpStore

INSERT_SQL = "INSERT INTO change_queue (connection_id, calendar_id, reason, full_sync, received_at) VALUES (?, ?, ?, ?, ?)"


def insert_rows(
    store: OpStore, conn: sqlite3.Connection, rows: Sequence[tuple[str, str | None, str, int, str]]
) -> None:
    """Append rows inside the caller's transaction (the gateway's intake batches its own), as its
    last step before COMMIT: on PostgreSQL the ordered-append lock is held from here to the COMMIT."""
    _before_append(store, conn)
    conn.executemany(INSERT_SQL, rows)


def _before_append(store: OpStore, conn) -> None:
    """The queue is read past a cursor, by id: ids must become visible in the order they were drawn.
    SQLite's single writer gives that; on PostgreSQL appenders take turns (opstore/postgres.py)."""
    if store.is_postgres:
        from smvue_core.opstore.postgres import lock_queue_append

        lock_queue_append(conn)


@dataclass(frozen=True)
class QueuedChange:
    queue_id: int
    connection_id: str
    calendar_id: str | None
    reason: str
    full_sync: bool
    received_at: str


@dataclass(frozen=True)
class ConnectionView:
    """What the queue's consumer knows about a connection the queue names (no secret is read)."""

    connection_id: str
    provider: str
    status: str
    has_credentials: bool
    selected: frozenset[str]

    @property
    def can_sync(self) -> bool:
        return self.status in SYNCABLE and self.has_credentials


class ChangeQueue:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    def enqueue(
        self, connection_id: str, calendar_id: str | None, reason: str, full_sync: bool = False
    ) -> int:
        with self.store.transaction(serial=False) as conn:
            _before_append(self.store, conn)
            cur = conn.execute(
                INSERT_SQL + " RETURNING queue_id",
                (connection_id, calendar_id, reason, int(full_sync), now_iso()),
            )
            return int(cur.fetchone()[0])

    def enqueue_many(self, items: Iterable[tuple[str, str | None, str, bool]]) -> list[int]:
        """One transaction for a batch (a Graph POST carries several notifications)."""
        now = now_iso()
        ids = []
        with self.store.transaction(serial=False) as conn:
            _before_append(self.store, conn)
            for connection_id, calendar_id, reason, full in items:
                cur = conn.execute(
                    INSERT_SQL + " RETURNING queue_id", (connection_id, calendar_id, reason, int(full), now)
                )
                ids.append(int(cur.fetchone()[0]))
        return ids

    def pending(self, after_id: int = 0, limit: int = 100_000) -> list[QueuedChange]:
        rows = self.store.query(
            "SELECT * FROM change_queue WHERE queue_id > ? ORDER BY queue_id LIMIT ?", (after_id, limit)
        )
        return [_row(r) for r in rows]

    def oldest(self, before_id: int) -> QueuedChange | None:
        """The oldest row at or below `before_id` still here: its run did not commit (yet)."""
        row = self.store.query_one(
            "SELECT * FROM change_queue WHERE queue_id <= ? ORDER BY queue_id LIMIT 1", (before_id,)
        )
        return _row(row) if row else None

    def settle(self, connection_id: str, calendar_ids: Iterable[str], up_to_id: int) -> int:
        """Delete what a committed sync covered: rows for these calendars (or the whole connection)."""
        calendar_ids = list(calendar_ids)
        with self.store.transaction() as conn:
            marks = ",".join("?" * len(calendar_ids)) or "NULL"
            cur = conn.execute(
                f"""DELETE FROM change_queue WHERE connection_id = ? AND queue_id <= ?
                    AND (calendar_id IS NULL OR calendar_id IN ({marks}))""",
                (connection_id, up_to_id, *calendar_ids),
            )
            return cur.rowcount

    def discard_connection(self, connection_id: str) -> int:
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM change_queue WHERE connection_id = ?", (connection_id,)).rowcount

    def connection_views(self, connection_ids: Iterable[str]) -> dict[str, ConnectionView]:
        """Provider, status and selected calendars of the connections named in the queue (read-only)."""
        wanted = json.dumps(sorted(set(connection_ids)))
        rows = self.store.query(
            """SELECT connection_id, provider, status, secret IS NOT NULL AS has_credentials
               FROM connections WHERE connection_id IN (SELECT value FROM json_each(?))""",
            (wanted,),
        )
        selected: dict[str, set[str]] = defaultdict(set)
        for row in self.store.query(
            """SELECT connection_id, calendar_id FROM calendars
               WHERE is_selected = 1 AND connection_id IN (SELECT value FROM json_each(?))""",
            (wanted,),
        ):
            selected[row["connection_id"]].add(row["calendar_id"])
        return {
            r["connection_id"]: ConnectionView(
                r["connection_id"],
                r["provider"],
                r["status"],
                bool(r["has_credentials"]),
                frozenset(selected[r["connection_id"]]),
            )
            for r in rows
        }

    def depth(self) -> int:
        return self.store.query_one("SELECT count(*) AS n FROM change_queue")["n"]


def _row(r) -> QueuedChange:
    return QueuedChange(
        r["queue_id"],
        r["connection_id"],
        r["calendar_id"],
        r["reason"],
        bool(r["full_sync"]),
        r["received_at"],
    )

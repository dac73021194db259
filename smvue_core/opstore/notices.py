"""The notification intake's side of the store: its own connection and group transaction, the
watch rows it verifies notices against, and the message numbers it records.

Plain SQL on the intake's connection, inside its own group transaction: the message numbers are
advanced in the same COMMIT that appends the change-queue rows they led to.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from smvue_core.opstore.db import OpStore

# The columns the intake verifies a notice against, in this order (see WatchRow).
WATCH_LOOKUP_SQL = """SELECT w.connection_id, w.calendar_id, w.provider, w.resource_id, w.secret_sha256,
       w.state, c.status, w.tenant_id, w.owner_id, w.last_message_number
  FROM watches w JOIN connections c ON c.connection_id = w.connection_id
 WHERE w.watch_id = ?"""

# Never moves a number back, even if two gateways raced on the same channel.
_ADVANCE_SQL = """UPDATE watches SET last_message_number = ?1
 WHERE watch_id = ?2 AND (last_message_number IS NULL OR last_message_number < ?1)"""


def open_intake_connection(store: OpStore) -> sqlite3.Connection:
    """This thread's connection, for the intake alone: plain tuples, and WAL checkpoints left to the
    maintenance thread (`OpStore.checkpoint`, every second), since copying the WAL must not stall the
    event loop. The far-off automatic one is only a backstop for an app run without its workers.
    On PostgreSQL a connection of its own, outside the pool, for as long as the intake lives."""
    conn = store.dedicated_connection()
    conn.row_factory = None
    if not store.is_postgres:
        conn.execute("PRAGMA wal_autocheckpoint = 20000")
    return conn


def begin_group(conn: sqlite3.Connection) -> None:
    """The group's write transaction, taken up front (BEGIN IMMEDIATE: it never deadlocks on upgrade;
    BEGIN on PostgreSQL, where the group's rows are row-locked and the queue append ordered)."""
    conn.execute("BEGIN IMMEDIATE")


def data_version(conn: sqlite3.Connection) -> int | None:
    """Changes whenever another connection commits: read inside the group's transaction, it says
    whether rows cached from an earlier one may still be used. None on PostgreSQL, which has no
    such number: a cached row is then good for its own group only."""
    if not isinstance(conn, sqlite3.Connection):
        return None
    return conn.execute("PRAGMA data_version").fetchone()[0]


def commit_group(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


def rollback_group(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def lookup_watch(conn: sqlite3.Connection, watch_id: str) -> tuple | None:
    return conn.execute(WATCH_LOOKUP_SQL, (watch_id,)).fetchone()


def advance_message_numbers(conn: sqlite3.Connection, numbers: Iterable[tuple[int, str]]) -> None:
    """Record (message number, channel id) pairs inside the caller's transaction."""
    conn.executemany(_ADVANCE_SQL, numbers)

"""The watch rows the gateway's notification intake reads and the message numbers it records.

Plain SQL on the caller's connection, inside the intake's own group transaction: the message
numbers are advanced in the same COMMIT that appends the change-queue rows they led to.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

# The columns the intake verifies a notice against, in this order (see WatchRow).
WATCH_LOOKUP_SQL = """SELECT w.connection_id, w.calendar_id, w.provider, w.resource_id, w.secret_sha256,
       w.state, c.status, w.tenant_id, w.owner_id, w.last_message_number
  FROM watches w JOIN connections c ON c.connection_id = w.connection_id
 WHERE w.watch_id = ?"""

# Never moves a number back, even if two gateways raced on the same channel.
_ADVANCE_SQL = """UPDATE watches SET last_message_number = ?1
 WHERE watch_id = ?2 AND (last_message_number IS NULL OR last_message_number < ?1)"""


def lookup_watch(conn: sqlite3.Connection, watch_id: str) -> tuple | None:
    return conn.execute(WATCH_LOOKUP_SQL, (watch_id,)).fetchone()


def advance_message_numbers(conn: sqlite3.Connection, numbers: Iterable[tuple[int, str]]) -> None:
    """Record (message number, channel id) pairs inside the caller's transaction."""
    conn.executemany(_ADVANCE_SQL, numbers)

"""Opening the operational store: SQLite in WAL mode, one connection per thread, short transactions."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from smvue_core.security.files import PRIVATE_FILE_MODE, private_dir

_BUMP_COUNTER_SQL = (
    "INSERT INTO counters(name, value) VALUES (?, ?) "
    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"
)


def bump_counters(conn: sqlite3.Connection, counts: Iterable[tuple[str, int]]) -> None:
    """Add to counters inside the caller's transaction (writers that batch their own: the intake)."""
    conn.executemany(_BUMP_COUNTER_SQL, counts)


# Columns added after a table first shipped: CREATE TABLE IF NOT EXISTS leaves older files without
# them, so they are added here (table, column, type).
ADDED_COLUMNS = (
    ("meetings", "calendar_updated_at", "TEXT"),
    ("outbox", "lease_owner", "TEXT"),
    ("outbox", "lease_until", "TEXT"),
    ("connections", "revoke_state", "TEXT"),
    ("connections", "revoke_attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("connections", "revoke_error", "TEXT"),
    ("watches", "tenant_id", "TEXT"),
    ("watches", "owner_id", "TEXT"),
    ("watches", "last_message_number", "INTEGER"),
    ("connections", "account_subject", "TEXT"),
    ("oauth_states", "browser_sha256", "TEXT"),
)


class OpStore:
    """A handle on the SQLite file; cheap to create, safe to share between threads."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._migrated = False
        self._owner_only = False
        self._migrate_lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._make_owner_only()
            # Autocommit mode: transactions are opened explicitly by `transaction()`.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            self._ensure_schema(conn)
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        if self._migrated:
            return
        with self._migrate_lock:
            if not self._migrated:
                schema = resources.files("smvue_core.opstore").joinpath("schema.sql").read_text()
                conn.executescript(schema)
                for table, column, kind in ADDED_COLUMNS:
                    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                    if column not in present:
                        try:
                            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                        except sqlite3.OperationalError as exc:  # another process added it first
                            if "duplicate column" not in str(exc):
                                raise
                self._migrated = True

    def _make_owner_only(self) -> None:
        """The file exists owner-only before SQLite opens it: SQLite gives the -wal and -shm files
        it creates the database file's mode, so a chmod after the first connection came too late
        for them. Files an older version left group/world-readable are tightened too."""
        with self._migrate_lock:
            if self._owner_only:
                return
            private_dir(self.path.parent)
            # Only a file that is not there yet is opened here (O_EXCL): closing a descriptor on a
            # file drops every POSIX lock this process holds on it, SQLite connections' included,
            # which corrupts the database.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(f"{self.path}{suffix}", PRIVATE_FILE_MODE)
            self._owner_only = True

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE), so it never deadlocks on upgrade."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.connection().execute(sql, params).fetchone()

    def bump_counter(self, name: str, by: int = 1) -> None:
        self.connection().execute(_BUMP_COUNTER_SQL, (name, by))

    def checkpoint(self) -> None:
        """Copy the WAL into the database (PASSIVE: never blocks writers or readers)."""
        self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def check_writable(self) -> None:
        """Raises unless the store would take a write, without taking the write lock (a readiness
        probe must not queue behind, or hold up, the writers): the schema answers a read, the
        connection is not read-only, and the file and its folder (for -wal/-shm) are writable."""
        conn = self.connection()
        conn.execute("SELECT 1 FROM counters LIMIT 1").fetchall()
        if conn.execute("PRAGMA query_only").fetchone()[0]:
            raise sqlite3.OperationalError("the connection is read-only")
        for path in (self.path, self.path.parent):
            if not os.access(path, os.W_OK):
                raise PermissionError(f"{path} is not writable")

    def counters(self) -> dict[str, int]:
        return {row["name"]: row["value"] for row in self.query("SELECT name, value FROM counters")}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

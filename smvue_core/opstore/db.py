"""Opening the operational store: SQLite in WAL mode (one connection per thread) by default, or
PostgreSQL when given a `postgresql://` URL (SMVUE_DATABASE_URL; opstore/postgres.py). Short
transactions either way; the repositories see the same connection-shaped object on both."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from smvue_core.opstore import migrations
from smvue_core.opstore.dialect import POSTGRES, SQLITE
from smvue_core.security.files import PRIVATE_FILE_MODE, private_dir

# `counters.value`, not `value`: PostgreSQL reads a bare name in DO UPDATE as ambiguous.
_BUMP_COUNTER_SQL = (
    "INSERT INTO counters(name, value) VALUES (?, ?) "
    "ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value"
)


def bump_counters(conn: sqlite3.Connection, counts: Iterable[tuple[str, int]]) -> None:
    """Add to counters inside the caller's transaction (writers that batch their own: the intake)."""
    conn.executemany(_BUMP_COUNTER_SQL, counts)


def store_errors() -> tuple[type[BaseException], ...]:
    """What a failed store call raises, whichever backend (the intake answers these 503)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite needs none of it
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def is_database_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class OpStore:
    """A handle on the store (a SQLite file, or a PostgreSQL URL); cheap to create, safe to share
    between threads. On PostgreSQL every handle on one URL shares the process's pool."""

    def __init__(self, target: str | Path, busy_timeout_ms: int = 10_000) -> None:
        self.url: str | None = str(target) if is_database_url(str(target)) else None
        self.path = None if self.url else Path(target)
        self.dialect = POSTGRES if self.url else SQLITE
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._migrated = False
        self._owner_only = False
        self._migrate_lock = threading.Lock()
        self._pg = None

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def target(self) -> str:
        """What another process opens to reach the same store (a path or a URL)."""
        return self.url or str(self.path)

    def _backend(self):
        """The PostgreSQL pool (its schema migrated once per process)."""
        if self._pg is None:
            from smvue_core.opstore.postgres import backend_for

            backend = backend_for(self.url)
            with backend.migrate_lock:
                if not backend.migrated:
                    with backend.pool.connection() as raw:
                        migrations.migrate_postgres(raw)
                    backend.migrated = True
            self._pg = backend
        return self._pg

    def dedicated_connection(self):
        """A connection of the caller's own, kept for its lifetime (the notification intake's)."""
        if self.is_postgres:
            return self._backend().dedicated()
        return self.connection()

    def connection(self) -> sqlite3.Connection:
        if self.is_postgres:
            from smvue_core.opstore.postgres import PgSession

            return PgSession(self._backend())  # type: ignore[return-value]
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
                migrations.migrate_sqlite(conn)
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
    def transaction(self, serial: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE), so it never deadlocks on upgrade.

        On PostgreSQL a `serial` one is likewise the only writer of its kind at a time (an advisory
        lock); `serial=False` is for claims that lock their rows themselves (`dialect.skip_locked`)."""
        if self.is_postgres:
            with self._backend().transaction(serial) as conn:
                yield conn  # type: ignore[misc]
            return
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

    def columns(self, table: str) -> set[str]:
        """The columns `table` has (its name comes from code, never from input)."""
        if self.is_postgres:
            from smvue_core.opstore.postgres import table_columns

            return table_columns(self.connection(), table)
        return {row[1] for row in self.connection().execute(f"PRAGMA table_info({table})")}

    def checkpoint(self) -> None:
        """Copy the WAL into the database (PASSIVE: never blocks writers or readers). PostgreSQL
        checkpoints by itself."""
        if self.is_postgres:
            return
        self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def check_writable(self) -> None:
        """Raises unless the store would take a write, without taking the write lock (a readiness
        probe must not queue behind, or hold up, the writers): the schema answers a read, the
        connection is not read-only, and the file and its folder (for -wal/-shm) are writable."""
        conn = self.connection()
        conn.execute("SELECT 1 FROM counters LIMIT 1").fetchall()
        if self.is_postgres:
            read_only = conn.execute("SELECT current_setting('transaction_read_only')").fetchone()[0]
            if read_only == "on" or conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise PermissionError("the database takes no writes (read-only or a standby)")
            return
        if conn.execute("PRAGMA query_only").fetchone()[0]:
            raise sqlite3.OperationalError("the connection is read-only")
        for path in (self.path, self.path.parent):
            if not os.access(path, os.W_OK):
                raise PermissionError(f"{path} is not writable")

    def counters(self) -> dict[str, int]:
        return {row["name"]: row["value"] for row in self.query("SELECT name, value FROM counters")}

    def close(self) -> None:
        """This thread's SQLite connection (a PostgreSQL pool lives as long as the process)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

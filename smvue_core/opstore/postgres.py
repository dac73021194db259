"""The operational store on PostgreSQL (`SMVUE_DATABASE_URL=postgresql://…`): psycopg 3 and a pool.

The repositories hold a connection-shaped object (`execute`, `executemany`, rows readable by name
and by index) whatever the backend; here that object wraps a pooled psycopg connection and
translates each statement through `PostgresDialect`.

Writers: SQLite's `BEGIN IMMEDIATE` makes every write transaction the only one, and the
repositories' read-then-write steps (an idempotency key, a reconnect's account check) rely on it.
`transaction()` keeps that promise here with a transaction-scoped advisory lock, across every
process on the database. The hot paths do not take it: the notification intake and the claims
(`serial=False`) lean on PostgreSQL's own row locks (`FOR UPDATE SKIP LOCKED`) instead.

The change queue is read by id past a cursor, so its ids must become visible in order: an id
drawn by one transaction and committed after a larger one would be behind a cursor already.
Appenders therefore take `QUEUE_APPEND_LOCK` (transaction-scoped) before they draw ids; it is
held only from the append to the COMMIT.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import pq
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from smvue_core.opstore.dialect import POSTGRES

# Advisory lock keys (any bigint, fixed): the single writer, the queue's ordered append, migrations.
WRITER_LOCK = 0x534D5655_00000001
QUEUE_APPEND_LOCK = 0x534D5655_00000002
MIGRATION_LOCK = 0x534D5655_00000003

ERRORS: tuple[type[BaseException], ...] = (psycopg.Error,)


class Row(tuple):
    """A row readable as `row["column"]` and `row[0]`, like sqlite3.Row."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


_ROW_TYPES: dict[tuple[str, ...], type[Row]] = {}


def named_row(cursor):
    """psycopg row factory: one Row subclass per column list, cached."""
    description = cursor.description
    if description is None:
        return tuple
    names = tuple(column.name for column in description)
    kind = _ROW_TYPES.get(names)
    if kind is None:
        kind = _ROW_TYPES[names] = type("Row", (Row,), {"__slots__": (), "_index": _index_of(names)})
    return kind


def _index_of(names: tuple[str, ...]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name, position)
    return index


class PgConnection:
    """The sqlite3.Connection subset the repositories use, over one psycopg connection."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params=()) -> psycopg.Cursor:
        return self.raw.execute(POSTGRES.translate(sql), POSTGRES.params(sql, params) or None)

    def executemany(self, sql: str, seq) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(POSTGRES.translate(sql), [POSTGRES.params(sql, p) for p in seq])
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def row_factory(self):
        return self.raw.row_factory

    @row_factory.setter
    def row_factory(self, factory) -> None:
        # None: plain tuples (sqlite3's meaning); anything else: rows by name.
        self.raw.row_factory = tuple_row if factory is None else named_row

    def close(self) -> None:
        self.raw.close()


class _Buffered:
    """The rows of a statement run on a borrowed connection, kept after it went back to the pool."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, cursor: psycopg.Cursor) -> None:
        self.rowcount = cursor.rowcount
        self._rows = cursor.fetchall() if cursor.description is not None else []

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchall(self):
        return list(self._rows)

    def __iter__(self):
        return iter(self._rows)


class PgSession:
    """What `OpStore.connection()` gives on PostgreSQL: each statement outside a transaction runs
    on a connection borrowed for it (autocommit); inside this thread's `transaction()` it runs in
    that transaction, as on SQLite's one connection per thread."""

    __slots__ = ("backend",)

    def __init__(self, backend: PgBackend) -> None:
        self.backend = backend

    def execute(self, sql: str, params=()):
        current = self.backend.current()
        if current is not None:
            return current.execute(sql, params)
        with self.backend.pool.connection() as raw:
            return _Buffered(PgConnection(raw).execute(sql, params))

    def executemany(self, sql: str, seq):
        current = self.backend.current()
        if current is not None:
            return current.executemany(sql, seq)
        with self.backend.pool.connection() as raw:
            return _Buffered(PgConnection(raw).executemany(sql, seq))

    @property
    def in_transaction(self) -> bool:
        return self.backend.current() is not None


def _configure(raw: psycopg.Connection) -> None:
    raw.row_factory = named_row


class PgBackend:
    """One pool per database URL per process, shared by every OpStore on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        size = int(os.environ.get("SMVUE_DATABASE_POOL_SIZE", "10"))
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(size, 1),
            kwargs={"autocommit": True},
            configure=_configure,
            open=True,
            name="smvue-opstore",
        )
        self._local = threading.local()
        self.migrated = False
        self.migrate_lock = threading.Lock()

    def current(self) -> PgConnection | None:
        return getattr(self._local, "tx", None)

    @contextmanager
    def transaction(self, serial: bool = True) -> Iterator[PgConnection]:
        if self.current() is not None:
            raise psycopg.ProgrammingError("a transaction is already open on this thread")
        with self.pool.connection() as raw:
            conn = PgConnection(raw)
            raw.execute("BEGIN")
            self._local.tx = conn
            try:
                if serial:
                    raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                yield conn
            except BaseException:
                self._local.tx = None
                if not raw.closed:
                    raw.execute("ROLLBACK")
                raise
            else:
                self._local.tx = None
                raw.execute("COMMIT")

    def dedicated(self) -> PgConnection:
        """A connection outside the pool, kept by its caller (the intake's event loop)."""
        raw = psycopg.connect(self.url, autocommit=True)
        raw.row_factory = named_row
        return PgConnection(raw)

    def close(self) -> None:
        self.pool.close()


_BACKENDS: dict[str, PgBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def backend_for(url: str) -> PgBackend:
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(url)
        if backend is None or backend.pool.closed:
            backend = _BACKENDS[url] = PgBackend(url)
        return backend


def close_all() -> None:
    """Close every pool of this process (tests, between servers)."""
    with _BACKENDS_LOCK:
        for backend in _BACKENDS.values():
            backend.close()
        _BACKENDS.clear()


def lock_queue_append(conn: PgConnection) -> None:
    conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (QUEUE_APPEND_LOCK,))


def table_columns(conn, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    ).fetchall()
    return {row[0] for row in rows}


def is_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))

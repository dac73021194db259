"""`app.*`: the operational store mirrored into the warehouse, so dbt and analysts can join it.

The gateway owns these rows (connections, roster, meetings, annotations, reminders); the pipeline
copies them whole each run — they are small — in one transaction with the rest of its writes.
APP_TABLES is the one declaration of what is copied and how it is typed in DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from smvue_core.opstore.mirror import MirrorReader

TS = "TIMESTAMPTZ"


@dataclass(frozen=True)
class AppTable:
    name: str
    columns: dict[str, str]  # column -> DuckDB type
    key: str  # the column that identifies a row
    counted: str | None = None  # the column whose values are counted (the UI plots them as KPIs)


APP_TABLES: dict[str, AppTable] = {
    table.name: table
    for table in (
        AppTable(
            "connections",
            {
                "connection_id": "VARCHAR",
                "manager_id": "VARCHAR",
                "provider": "VARCHAR",
                "account_email": "VARCHAR",
                "status": "VARCHAR",
                "last_synced_at": TS,
                "last_error": "VARCHAR",
                "created_at": TS,
                "revoke_state": "VARCHAR",  # a disconnect's token revoke: pending, revoked, given_up…
            },
            key="connection_id",
            counted="status",
        ),
        AppTable(
            "managers",
            {"manager_id": "VARCHAR", "name": "VARCHAR", "email": "VARCHAR"},
            key="manager_id",
        ),
        AppTable(
            "team_members",
            {
                "rep_id": "VARCHAR",
                "manager_id": "VARCHAR",
                "name": "VARCHAR",
                "email": "VARCHAR",
                "start_date": "DATE",
            },
            key="rep_id",
        ),
        AppTable(
            "meetings",
            {
                "meeting_id": "VARCHAR",
                "manager_id": "VARCHAR",
                "rep_id": "VARCHAR",
                "connection_id": "VARCHAR",
                "calendar_id": "VARCHAR",
                "start_at": TS,
                "end_at": TS,
                "title": "VARCHAR",
                "meeting_type": "VARCHAR",
                "status": "VARCHAR",
                "writeback_state": "VARCHAR",
                "writeback_error": "VARCHAR",
                "provider_event_id": "VARCHAR",
                "updated_at": TS,
            },
            key="meeting_id",
            counted="writeback_state",
        ),
        AppTable(
            "annotations",
            {
                "one_on_one_id": "VARCHAR",
                "is_archived": "BOOLEAN",
                "meeting_type": "VARCHAR",
                "updated_at": TS,
            },
            key="one_on_one_id",
            counted="meeting_type",
        ),
        AppTable(
            "prep_reminders",
            {
                "reminder_id": "VARCHAR",
                "one_on_one_id": "VARCHAR",
                "manager_id": "VARCHAR",
                "rep_id": "VARCHAR",
                "remind_at": TS,
                "state": "VARCHAR",
                "sent_at": TS,
                "attempts": "INTEGER",
                "last_error": "VARCHAR",
            },
            key="reminder_id",
            counted="state",
        ),
    )
}


def _text(value) -> str | None:
    return None if value is None else str(value)


def mirror_table(con: duckdb.DuckDBPyConnection, reader: MirrorReader, name: str) -> int:
    """Replace app.<name> with the store's rows (typed), in the caller's transaction; returns how
    many rows the store gave."""
    table = APP_TABLES[name]
    columns = list(table.columns)
    rows = reader.rows(name, columns)
    # Everything travels as text and is cast once in DuckDB: SQLite has no column types to trust.
    data = pa.table(
        {c: pa.array([_text(row[i]) for row in rows], type=pa.string()) for i, c in enumerate(columns)}
    )
    con.register("mirror_rows", data)
    try:
        casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in table.columns.items())
        con.execute(f"CREATE OR REPLACE TABLE app.{name} AS SELECT {casts} FROM mirror_rows")
    finally:
        con.unregister("mirror_rows")
    return len(rows)


def mirror_tables(
    con: duckdb.DuckDBPyConnection, reader: MirrorReader, names: Iterable[str]
) -> dict[str, int]:
    """Replace the named app.* tables in one transaction: readers see all old or all new; returns
    how many rows the store gave for each."""
    con.execute("BEGIN TRANSACTION")
    try:
        counts = {name: mirror_table(con, reader, name) for name in names}
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return counts


@dataclass(frozen=True)
class KeyCounts:
    rows: int
    distinct_keys: int
    null_keys: int

    def matches(self, store_rows: int) -> bool:
        """The copy is whole and keyed: as many rows as the store gave, no NULL or repeated key."""
        return self.rows == store_rows and self.distinct_keys == self.rows and self.null_keys == 0

    @property
    def duplicate_keys(self) -> int:
        return self.rows - self.distinct_keys - self.null_keys


def key_counts(con: duckdb.DuckDBPyConnection, name: str) -> KeyCounts:
    key = APP_TABLES[name].key
    rows, distinct_keys, null_keys = con.execute(
        f"SELECT count(*), count(DISTINCT {key}), count(*) FILTER (WHERE {key} IS NULL) FROM app.{name}"
    ).fetchone()
    return KeyCounts(rows, distinct_keys, null_keys)


def value_counts(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, int]]:
    """(value, rows) of the table's counted column ('none' for NULL), by value; [] when it has none."""
    counted = APP_TABLES[name].counted
    if counted is None:
        return []
    return con.execute(
        f"SELECT coalesce({counted}, 'none'), count(*) FROM app.{name} GROUP BY ALL ORDER BY 1"
    ).fetchall()


def head(con: duckdb.DuckDBPyConnection, name: str, limit: int) -> tuple[list[str], list[tuple]]:
    """The first `limit` rows by key, with their column names."""
    cursor = con.execute(f"SELECT * FROM app.{name} ORDER BY {APP_TABLES[name].key} LIMIT {int(limit)}")
    return [d[0] for d in cursor.description], cursor.fetchall()

"""The tables the pipeline owns in the warehouse, declared once in schema.sql.

Code that stages rows for one of them in Arrow (the sync engine, for raw.calendar_events) takes
the Arrow schema from here, derived by DuckDB from that same DDL, so a column added to or retyped
in schema.sql reaches the staging table without a second definition to keep in step.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import duckdb
import pyarrow as pa


def schema_ddl() -> str:
    return resources.files("smvue_core.warehouse").joinpath("schema.sql").read_text()


@cache
def arrow_schema(table: str) -> pa.Schema:
    """`table`'s columns as Arrow types (TIMESTAMPTZ as microseconds in UTC), every field nullable:
    NOT NULL is the table's to enforce on insert. Cached: DuckDB is asked once per process."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(schema_ddl())
        # Parameters cannot name a table; `table` is a name from our own code, checked to exist.
        names = {
            f"{s}.{t}"
            for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        }
        if table not in names:
            raise KeyError(f"{table} is not declared in schema.sql")
        empty = con.execute(f"SELECT * FROM {table} LIMIT 0").fetch_arrow_table()
    finally:
        con.close()
    return pa.schema([pa.field(field.name, _plain(field.type)) for field in empty.schema])


def _plain(kind: pa.DataType) -> pa.DataType:
    """Arrow's own spelling of a type: DuckDB names a list's element `l`, pyarrow `item`."""
    if pa.types.is_list(kind):
        return pa.list_(_plain(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _plain(f.type)) for f in kind])
    return kind

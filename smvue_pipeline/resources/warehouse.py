"""The warehouse as a Dagster resource: the single writer path, and read-only access for checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from pydantic import Field

from smvue_core.warehouse import database


class WarehouseResource(dg.ConfigurableResource):
    """DuckDB at `path`; after every successful write the snapshot at `published_path` is replaced."""

    path: str = Field(description="the warehouse DuckDB file (SMVUE_WAREHOUSE)")
    published_path: str = Field(description="the snapshot downstream readers open (SMVUE_PUBLISHED)")
    encryption_key: str | None = Field(
        default=None, description="SMVUE_WAREHOUSE_KEY; encrypted at rest when set"
    )

    @property
    def encrypted(self) -> bool:
        """Whether the warehouse is encrypted at rest; then metadata carries ids and counts only."""
        return bool(self.encryption_key)

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with database.writer(self.path, self.published_path, self.encryption_key) as con:
            yield con

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Read access from inside a run (the run holds the warehouse pool, so nobody writes)."""
        con = database.open_database(self.path, self.encryption_key, read_only=True)
        try:
            yield con
        finally:
            con.close()

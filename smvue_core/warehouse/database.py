"""Opening the warehouse, and publishing the snapshot readers use.

The warehouse is always attached under the catalog name `warehouse`, encrypted (AES-GCM, DuckDB's
own) when a key is configured. DuckDB 1.4 needs its httpfs extension to write encrypted files; the
PyPI package duckdb-ext-httpfs ships it, so it is loaded from site-packages, never downloaded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

import duckdb

from smvue_core.warehouse.schema import schema_ddl

CATALOG = "warehouse"


def extension_directory() -> str:
    """Where duckdb-ext-httpfs installed the extension (DuckDB's own directory layout)."""
    spec = find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("duckdb-ext-httpfs is not installed; it is needed for an encrypted warehouse")
    return str(Path(next(iter(spec.submodule_search_locations))) / "extensions")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def open_database(
    path: str | Path, key: str | None = None, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the database at `path`."""
    con = duckdb.connect()
    options = []
    if key:
        # ATTACH takes no bound parameters; the key comes from configuration, quoted.
        con.execute(f"SET extension_directory = {_quote(extension_directory())}")
        con.execute("LOAD httpfs")
        options.append(f"ENCRYPTION_KEY {_quote(key)}")
    if read_only:
        options.append("READ_ONLY")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    suffix = f" ({', '.join(options)})" if options else ""
    con.execute(f"ATTACH {_quote(str(path))} AS {CATALOG}{suffix}")
    con.execute(f"USE {CATALOG}")
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema_ddl())


@contextmanager
def writer(
    path: str | Path, published: str | Path | None, key: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one way runs write the warehouse: commit, checkpoint, then publish the snapshot."""
    con = open_database(path, key)
    try:
        ensure_schema(con)
        yield con
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.chmod(path, 0o600)  # calendar data: owner-only, like every other file under SMVUE_HOME
    if published is not None:
        publish(path, published)


def publish(path: str | Path, published: str | Path) -> None:
    """Replace the published snapshot atomically: readers holding the old file keep reading it,
    new readers open the new one, nobody sees a half-copied file."""
    source, target = Path(path), Path(published)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, staging)
    os.chmod(staging, 0o600)
    with open(staging, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(staging, target)

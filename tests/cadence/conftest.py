"""Fixtures: a warehouse filled with the hand-made cases (fixtures.py), built by dbt once per mode."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smvue_pipeline.assets.cadence import PROJECT_DIR
from smvue_pipeline.warehouse.database import extension_directory, open_database
from tests.cadence.fixtures import AS_OF, build_warehouse

WAREHOUSE_KEY = "cadence-test-key-not-a-secret"
DBT = Path(sys.executable).parent / "dbt"


def dbt_build(warehouse: Path, key: str | None, work_dir: Path) -> subprocess.CompletedProcess:
    """`dbt build` of dbt_cadence at AS_OF, the way the pipeline configures it (environment only)."""
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "SMVUE_WAREHOUSE": str(warehouse),
        # Artifacts in the test's own directory: other runs may share dbt_cadence/target.
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
    }
    env.pop("SMVUE_WAREHOUSE_KEY", None)
    if key:
        env["SMVUE_WAREHOUSE_KEY"] = key
        env["SMVUE_DUCKDB_EXTENSION_DIR"] = extension_directory()
    command = [str(DBT), "build", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    command += ["--vars", json.dumps({"as_of": AS_OF.isoformat()})]
    return subprocess.run(command, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=180)


def _built_warehouse(tmp_path_factory, name: str, key: str | None) -> Path:
    work_dir = tmp_path_factory.mktemp(name)
    warehouse = work_dir / "warehouse.duckdb"
    build_warehouse(warehouse, key)
    result = dbt_build(warehouse, key, work_dir)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return warehouse


@pytest.fixture(scope="session")
def plain_warehouse(tmp_path_factory) -> Path:
    return _built_warehouse(tmp_path_factory, "plain", None)


@pytest.fixture(scope="session")
def encrypted_warehouse(tmp_path_factory) -> Path:
    return _built_warehouse(tmp_path_factory, "encrypted", WAREHOUSE_KEY)


def read_rows(warehouse: Path, sql: str, key: str | None = None) -> list[dict]:
    con = open_database(warehouse, key, read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="session")
def marts(plain_warehouse):
    """Query the plain warehouse's marts: marts("SELECT ...") -> list of dicts."""
    return lambda sql: read_rows(plain_warehouse, sql)

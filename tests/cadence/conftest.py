"""Fixtures: a warehouse filled with the hand-made cases (fixtures.py), built by dbt once per mode."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smvue_core.warehouse.database import extension_directory, open_database
from smvue_pipeline.assets.cadence_project import PROJECT_DIR
from tests import processes
from tests.cadence.fixtures import AS_OF, build_warehouse
from tests.waiting import scaled

WAREHOUSE_KEY = "cadence-test-key-not-a-secret"
DBT_BUILD = 120  # one `dbt build` of dbt_cadence with its unit tests: ~7 s here, two at once
DBT = Path(sys.executable).parent / "dbt"


def start_dbt_build(warehouse: Path, key: str | None, work_dir: Path) -> subprocess.Popen:
    """Start `dbt build` of dbt_cadence at AS_OF, configured through the environment as a plain
    `dbt` command is (the pipeline passes --vars instead: test_dbt_cadence runs that route), with
    unit tests: this is where CI runs them."""
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
    return processes.spawn(
        command, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture(scope="session")
def built_warehouses(tmp_path_factory) -> dict[str, Path]:
    """Both warehouse modes, built by two dbt processes at once (each is mostly one busy core)."""
    builds = {}
    try:
        for mode, key in (("plain", None), ("encrypted", WAREHOUSE_KEY)):
            work_dir = tmp_path_factory.mktemp(mode)
            warehouse = work_dir / "warehouse.duckdb"
            build_warehouse(warehouse, key)
            builds[mode] = (warehouse, start_dbt_build(warehouse, key, work_dir))
        outputs = {
            mode: process.communicate(timeout=scaled(DBT_BUILD))[0] for mode, (_, process) in builds.items()
        }
    finally:
        for _, process in builds.values():
            processes.stop(process)
    for mode, (_, process) in builds.items():
        assert process.returncode == 0, f"dbt build ({mode}) failed:\n{outputs[mode][-6000:]}"
    return {mode: warehouse for mode, (warehouse, _) in builds.items()}


@pytest.fixture(scope="session")
def plain_warehouse(built_warehouses) -> Path:
    return built_warehouses["plain"]


@pytest.fixture(scope="session")
def encrypted_warehouse(built_warehouses) -> Path:
    return built_warehouses["encrypted"]


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

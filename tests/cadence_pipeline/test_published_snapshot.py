"""F18: a reader querying the published snapshot every 100 ms through 200 consecutive pipeline writes
sees no error and never a mix of two runs."""

from __future__ import annotations

import json
import subprocess
import sys

from smvue_pipeline.warehouse import database
from tests.cadence_pipeline.conftest import REPO

WRITES = 200
ROWS = 500


def pipeline_write(warehouse, published, run: int) -> None:
    """One run's write through the single writer path: three tables, one transaction, then publish."""
    with database.writer(warehouse, published) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        con.execute(
            "CREATE OR REPLACE TABLE analytics.snapshot_runs AS SELECT $run AS run, now() AS written_at",
            {"run": run},
        )
        con.execute(
            "CREATE OR REPLACE TABLE analytics.snapshot_reps AS SELECT i AS rep, $run AS run FROM range($n) t(i)",
            {"run": run, "n": ROWS},
        )
        # An update in place as well as replacements: both must appear atomically.
        con.execute(
            "CREATE TABLE IF NOT EXISTS analytics.snapshot_weeks AS SELECT i AS week, 0 AS run FROM range(13) t(i)"
        )
        con.execute("UPDATE analytics.snapshot_weeks SET run = $run", {"run": run})
        con.execute("COMMIT")


def test_readers_see_whole_runs_only_through_200_writes(tmp_path):
    warehouse, published, stop = (
        tmp_path / "warehouse.duckdb",
        tmp_path / "published.duckdb",
        tmp_path / "stop",
    )
    pipeline_write(warehouse, published, 0)
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.cadence_pipeline.snapshot_reader", str(published), str(stop)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for run in range(1, WRITES + 1):
            pipeline_write(warehouse, published, run)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err[-2000:]
    report = json.loads(out)
    assert report["errors"] == []
    assert report["mixed"] == []
    assert report["reads"] >= 10, report
    assert len(report["runs_seen"]) >= 5, report  # it really read while the writes went on

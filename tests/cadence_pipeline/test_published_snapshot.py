"""F18: a reader querying the published snapshot every 100 ms through 200 consecutive pipeline writes
sees no error and never a mix of two runs."""

from __future__ import annotations

import json
import subprocess
import sys

from smvue_core.warehouse import database
from tests import processes
from tests.cadence_pipeline.conftest import REPO

WRITES = 200
MAX_WRITES = 20 * WRITES  # a bound, so a reader that never progresses fails instead of hanging
MIN_READS, MIN_RUNS_SEEN = 10, 5
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


def reader_progress(lines: list[str]) -> tuple[int, int]:
    """(reads done, distinct runs seen) from the reader's last progress line."""
    progress = [line.split() for line in lines if line.startswith("read ")]
    return (int(progress[-1][1]), int(progress[-1][2])) if progress else (0, 0)


def read_through_runs(lines: list[str]) -> bool:
    reads, runs_seen = reader_progress(lines)
    return reads >= MIN_READS and runs_seen >= MIN_RUNS_SEEN


def test_readers_see_whole_runs_only_through_200_writes(tmp_path):
    warehouse, published, stop = (
        tmp_path / "warehouse.duckdb",
        tmp_path / "published.duckdb",
        tmp_path / "stop",
    )
    pipeline_write(warehouse, published, 0)
    reader = processes.spawn(
        [sys.executable, "-m", "tests.cadence_pipeline.snapshot_reader", str(published), str(stop)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output = processes.Output(reader)
    try:
        # Writes start once the reader reads, and go on (at least WRITES of them) until it has read
        # through several runs: on a slow machine the reader's start-up must not outlast the writes.
        output.wait_for(lambda lines: reader_progress(lines)[0] >= 1, 30, "the reader's first read")
        run = 0
        while run < WRITES or not read_through_runs(output.lines):
            assert run < MAX_WRITES, f"the reader read only {reader_progress(output.lines)} in {run} writes"
            run += 1
            pipeline_write(warehouse, published, run)
        stop.touch()
        report_line = output.wait_for("report ", 30, "the reader's report")
    finally:
        stop.touch()
        processes.stop(reader)
    report = json.loads(report_line.split(" ", 1)[1])
    assert report["errors"] == []
    assert report["mixed"] == []
    assert report["reads"] >= MIN_READS, report
    assert len(report["runs_seen"]) >= MIN_RUNS_SEEN, report  # it really read while the writes went on

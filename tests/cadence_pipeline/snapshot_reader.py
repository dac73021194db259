"""A downstream reader: `python -m tests.cadence_pipeline.snapshot_reader PUBLISHED STOP_FILE`.

Every 100 ms until STOP_FILE exists: open the published snapshot read-only, read the run number
stamped on every row of three tables, close. Prints `read N RUNS_SEEN` after each read (so the test
can pace its writes by the reader, whatever the machine's speed), then `report` and JSON: reads,
errors, reads that saw more than one run number, and the run numbers seen.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from smvue_core.warehouse.database import open_database

QUERY = """
SELECT 'runs' AS t, min(run), max(run), count(*) FROM analytics.snapshot_runs
UNION ALL SELECT 'reps', min(run), max(run), count(*) FROM analytics.snapshot_reps
UNION ALL SELECT 'weeks', min(run), max(run), count(*) FROM analytics.snapshot_weeks
"""


def main(published: str, stop_file: str) -> None:
    reads, errors, mixed, seen = 0, [], [], set()
    stop = Path(stop_file)
    while not stop.exists():
        started = time.monotonic()
        try:
            con = open_database(published, read_only=True)
            try:
                rows = con.execute(QUERY).fetchall()
            finally:
                con.close()
            runs = {value for _, low, high, _ in rows for value in (low, high)}
            reads += 1
            seen |= runs
            if len(runs) != 1 or any(count == 0 for *_, count in rows):
                mixed.append([list(r) for r in rows])
        except Exception as exc:  # every failure is the finding, not a crash
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        print("read", reads, len(seen), flush=True)
        # A reader's pace, not a wait: it queries the snapshot ten times a second.
        time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
    report = {"reads": reads, "errors": errors, "mixed": mixed, "runs_seen": sorted(seen)}
    print("report", json.dumps(report), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Readers on the published snapshot through 1,000 pipeline writes: zero errors.

A writer process commits N times through the warehouse's one writer path (`database.writer`:
commit, CHECKPOINT, publish the snapshot by atomic replace), each time rewriting every row of
raw.calendar_events as a new generation (title and times; an UPDATE, as a resync mostly is — a
DELETE + INSERT per write would grow DuckDB's file by the index each time). Two reader processes open SMVUE_PUBLISHED read-only,
as downstream apps do — one every 100 ms (SPEC's reader), one back to back — and count errors
and torn reads (rows of two generations, or a partial count in one snapshot).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench.common import PYTHON, RESULT_PREFIX, emit, run_child

ROWS = 300

GENERATION_SQL = f"""
INSERT INTO raw.calendar_events (connection_id, provider, calendar_id, calendar_name, event_id, status,
    title, start_at, end_at, is_all_day, attendees, provider_updated_at, synced_at)
SELECT 'conn_snapshot', 'google', 'primary', 'Calendar', 'evt_' || i, 'confirmed', 'generation ' || $g,
    now() + to_hours(i), now() + to_hours(i) + INTERVAL 30 MINUTE, false,
    [{{'email': 'rep' || i || '@example.com', 'name': 'Rep', 'response_status': 'accepted',
       'is_organizer': false, 'is_resource': false}}],
    now(), now()
FROM range({ROWS}) t(i)
"""

NEXT_GENERATION_SQL = """
UPDATE raw.calendar_events SET title = 'generation ' || $g, start_at = start_at + INTERVAL 1 MINUTE,
    end_at = end_at + INTERVAL 1 MINUTE, synced_at = now()
"""


def writer(home: Path, writes: int) -> int:
    from smvue_core.warehouse.database import writer as warehouse_writer

    began = time.perf_counter()
    for generation in range(writes):
        with warehouse_writer(home / "warehouse.duckdb", home / "published.duckdb") as con:
            if generation == 0:
                con.execute(GENERATION_SQL, {"g": generation})
            else:
                con.execute(NEXT_GENERATION_SQL, {"g": generation})
    emit({"writes": writes, "seconds": round(time.perf_counter() - began, 1)})
    return 0


def reader(home: Path, stop: Path, interval: float) -> int:
    from smvue_core.warehouse.database import open_database

    published = home / "published.duckdb"
    reads = errors = torn = 0
    generations = set()
    first_error = None
    while not stop.exists():
        if published.exists():
            try:
                con = open_database(published, read_only=True)
                try:
                    count, kinds, title = con.execute(
                        "SELECT count(*), count(DISTINCT title), min(title) FROM raw.calendar_events"
                    ).fetchone()
                finally:
                    con.close()
                reads += 1
                if count != ROWS or kinds != 1:
                    torn += 1
                generations.add(title)
            except Exception as exc:  # noqa: BLE001 - every failure is the figure
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        if interval:
            time.sleep(interval)
    emit(
        {
            "reads": reads,
            "errors": errors,
            "torn": torn,
            "generations_seen": len(generations),
            "first_error": first_error,
            "interval_s": interval,
        }
    )
    return 0


def snapshot(args, workdir: Path) -> dict:
    import subprocess

    home = workdir / "home"
    home.mkdir(parents=True)
    stop = workdir / "stop"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    readers = [
        subprocess.Popen(
            [PYTHON, "-m", "bench.chaos.snapshot", "reader", str(home), str(stop), str(interval)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for interval in (0.1, 0.0)
    ]
    try:
        wrote = run_child(
            [PYTHON, "-m", "bench.chaos.snapshot", "writer", str(home), str(args.writes)],
            env=env,
            timeout=1200,
        )
    finally:
        stop.write_text("stop")
    outputs = [r.communicate(timeout=120) for r in readers]
    found = []
    for out, err in outputs:
        line = next((x for x in reversed(out.splitlines()) if x.startswith(RESULT_PREFIX)), None)
        found.append(
            json.loads(line[len(RESULT_PREFIX) :]) if line else {"errors": 1, "first_error": err[-300:]}
        )
    written = wrote.result() or {}
    errors = sum(r.get("errors", 0) for r in found)
    torn = sum(r.get("torn", 0) for r in found)
    return {
        "passed": written.get("writes") == args.writes and errors == 0 and torn == 0,
        "figures": {
            "writes": written.get("writes"),
            "write_seconds": written.get("seconds"),
            "reads_every_100ms": found[0].get("reads"),
            "reads_back_to_back": found[1].get("reads"),
            "errors": errors,
            "torn_reads": torn,
        },
        "readers": found,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    w = sub.add_parser("writer")
    w.add_argument("home", type=Path)
    w.add_argument("writes", type=int)
    r = sub.add_parser("reader")
    r.add_argument("home", type=Path)
    r.add_argument("stop", type=Path)
    r.add_argument("interval", type=float)
    args = parser.parse_args(argv)
    if args.role == "writer":
        return writer(args.home, args.writes)
    return reader(args.home, args.stop, args.interval)


if __name__ == "__main__":
    sys.exit(main())

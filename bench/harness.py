"""`python -m bench` (make bench): every workload of SPEC.md's Performance table beside its anchor in
the same run, one table at the end, JSON in bench/results/latest.json. `--chaos` (make chaos) runs
the reliability harness instead (bench/chaos/).

Each workload is isolated: its own temporary directory (SMVUE_HOME, warehouse, logs) and its own
emulator process, removed afterwards (`--keep` leaves them for inspection). A workload that fails
or whose script is missing is reported as such; the others still run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import RESULTS, machine, write


@dataclass
class Workload:
    name: str
    title: str
    run: Callable[[argparse.Namespace, Path], dict]


def workloads() -> list[Workload]:
    from bench import burst, incremental, initial_import, scripts

    return [
        Workload("import_1x500", "initial import, 1 user", initial_import.run_small),
        Workload("import_200x500", "initial import, many users (fetch floor, dlt)", initial_import.run_large),
        Workload("incremental", "incremental sync after 1% change", incremental.run),
        Workload("webhook_latency", "webhook -> 1:1 / cadence rows (daemon)", scripts.webhook_latency),
        Workload("burst", "burst of notifications over 100 calendars", burst.run),
        Workload("gateway", "gateway notifications verified + enqueued", scripts.gateway_throughput),
        Workload("recompute", "1:1 + cadence recompute over 1M raw events", scripts.recompute),
        Workload("writeback", "meeting API -> event on calendar", scripts.writeback_latency),
    ]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated workload names (see --list)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--large", action="store_true", help="the larger sizes (slower than 20 minutes)")
    p.add_argument("--quick", action="store_true", help="the smallest sizes (smoke test, not figures)")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="where the JSON goes")
    p.add_argument("--keep", action="store_true", help="keep each workload's temporary directory")
    p.add_argument("--no-dlt", action="store_true", help="skip the dlt peer (no venv install)")
    p.add_argument("--users", type=int, default=None, help="import_200x500: users (default 200)")
    p.add_argument("--events", type=int, default=None, help="import_200x500: events per user (default 500)")
    p.add_argument("--chaos", action="store_true", help="run the reliability harness instead")
    p.add_argument("--trials", type=int, default=None, help="chaos: kill -9 trials per path (default 20)")
    p.add_argument("--scenarios", default="", help="chaos: comma-separated scenarios (default all)")
    return p


def sizes(args: argparse.Namespace) -> None:
    """Fill in every size from the profile: default (≤ 20 min on 2 cores), --quick, --large."""
    profile = "quick" if args.quick else "large" if args.large else "default"
    table = {
        #                users events small_events small_trials changes managers burst recompute_events
        "quick": dict(
            users=4, events=100, small_events=500, small_trials=1, changes=2, burst=200, rows=20_000
        ),
        "default": dict(
            users=200, events=500, small_events=500, small_trials=3, changes=12, burst=5000, rows=1_000_000
        ),
        "large": dict(
            users=500, events=1000, small_events=500, small_trials=5, changes=30, burst=20000, rows=2_000_000
        ),
    }[profile]
    args.profile = profile
    args.users = args.users or table["users"]
    args.events = args.events or table["events"]
    args.small_events = table["small_events"]
    args.small_trials = table["small_trials"]
    args.changes = table["changes"]
    args.burst_size = table["burst"]
    args.recompute_rows = table["rows"]


def print_table(results: dict, out=sys.stdout) -> None:
    rows = [("workload", "figure", "value", "anchor (same run)", "target", "verdict")]
    for name, outcome in results["workloads"].items():
        if outcome["status"] != "ok":
            rows.append((name, "-", outcome["status"], outcome.get("reason", "")[:120], "-", "N/A"))
            continue
        for f in outcome["figures"]:
            mark = f["verdict"]
            if mark in ("PASS", "MISS") and f.get("margin_pct") is not None:
                mark += f" ({f['margin_pct']:+.0f}%)"
            if f.get("informational"):
                mark += " info"
            rows.append((name, f["figure"], f["value"], f.get("anchor", ""), f.get("target", ""), mark))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |", file=out)
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)


def run_benchmarks(args: argparse.Namespace) -> int:
    sizes(args)
    chosen = workloads()
    if args.list:
        for w in chosen:
            print(f"{w.name:<16} {w.title}")
        return 0
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = set(wanted) - {w.name for w in chosen}
        if unknown:
            print(f"python -m bench: unknown workload(s) {sorted(unknown)}; see --list", file=sys.stderr)
            return 2
        chosen = [w for w in chosen if w.name in wanted]
    args.log = lambda message: print(message, flush=True)
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": args.profile,
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "workloads": {},
    }
    for workload in chosen:
        print(f"==> {workload.name}: {workload.title}", flush=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"smvue-bench-{workload.name}-"))
        began = time.perf_counter()
        try:
            outcome = workload.run(args, workdir)
            outcome.setdefault("status", "ok")
        except Exception as exc:  # noqa: BLE001 - one workload failing must not hide the others
            traceback.print_exc()
            outcome = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        outcome["seconds"] = round(time.perf_counter() - began, 1)
        outcome["load_average_1m_after"] = machine()["load_average_1m"]
        results["workloads"][workload.name] = outcome
        print(f"    {outcome['status']} in {outcome['seconds']:.0f} s", flush=True)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write(results, args.out)
    print()
    print_table(results)
    print(f"\nJSON: {args.out}")
    return 0 if all(w["status"] != "error" for w in results["workloads"].values()) else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.chaos:
        from bench.chaos.runner import run_chaos

        return run_chaos(args)
    return run_benchmarks(args)

"""`python -m bench --chaos`: each scenario of SPEC.md's "Reliability and security" ends with a
verdict and its figures; after every scenario, every file written under its SMVUE_HOME(s) is
scanned for the emulator's description canary and every token it issued (GET /_admin/secrets).

Each scenario runs in its own temporary directory with its own emulator process. Trial counts are
flags: `--trials` (kill -9 trials per path, default 20), `--scenarios a,b`.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.common import RESULTS, machine, write


def scenarios():
    from bench.chaos import forged, notifications, replicas, snapshot, sync_chaos, writeback_chaos

    return {
        "kill_sync": ("kill -9 at random points of sync", sync_chaos.kill_sync),
        "kill_writeback": ("kill -9 at random points of write-back", writeback_chaos.kill_writeback),
        "provider_faults": (
            "429/5xx with Retry-After, timeouts, 410s, truncated bodies at 10%",
            sync_chaos.provider_faults,
        ),
        "notifications": (
            "notifications dropped / duplicated / reordered at 20%",
            notifications.notifications,
        ),
        "forged": ("forged and fuzzed gateway input", forged.forged),
        "snapshot": ("readers on the published snapshot through pipeline writes", snapshot.snapshot),
        "replicas": (
            "two gateway replicas on PostgreSQL, one kill -9'd mid-burst of genuine notifications",
            replicas.replicas,
        ),
    }


def run_chaos(args) -> int:
    quick = args.quick
    args.trials = args.trials or (2 if quick else 20)
    args.fault_rounds = 1 if quick else 5
    args.changes = 6 if quick else 30
    args.fuzz = 100 if quick else 1000
    args.writes = 50 if quick else 1000
    chosen = scenarios()
    if args.scenarios:
        wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
        unknown = set(wanted) - set(chosen)
        if unknown:
            print(
                f"python -m bench --chaos: unknown scenario(s) {sorted(unknown)}; known: {sorted(chosen)}",
                file=sys.stderr,
            )
            return 2
        chosen = {k: v for k, v in chosen.items() if k in wanted}
    out = args.out if args.out.name != "latest.json" else RESULTS / "chaos-latest.json"
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "trials": args.trials,
        "scenarios": {},
    }
    for name, (title, run) in chosen.items():
        print(f"==> {name}: {title}", flush=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"smvue-chaos-{name}-"))
        began = time.perf_counter()
        try:
            outcome = run(args, workdir)
            outcome["verdict"] = "PASS" if outcome.pop("passed") else "FAIL"
        except Exception as exc:  # noqa: BLE001 - reported as the scenario's verdict
            traceback.print_exc()
            outcome = {"verdict": "ERROR", "reason": f"{type(exc).__name__}: {exc}"[:500], "figures": {}}
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        outcome["seconds"] = round(time.perf_counter() - began, 1)
        results["scenarios"][name] = outcome
        print(
            f"    {outcome['verdict']} in {outcome['seconds']:.0f} s: {json.dumps(outcome['figures'])}",
            flush=True,
        )
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write(results, out)
    print()
    print_table(results)
    print(f"\nJSON: {out}")
    return 0 if all(s["verdict"] == "PASS" for s in results["scenarios"].values()) else 1


def print_table(results: dict) -> None:
    rows = [("scenario", "verdict", "figures")]
    for name, outcome in results["scenarios"].items():
        figures = ", ".join(f"{k}={v}" for k, v in outcome.get("figures", {}).items())
        if outcome["verdict"] == "ERROR":
            figures = outcome.get("reason", "")
        rows.append((name, outcome["verdict"], figures))
    widths = [max(len(str(r[i])) for r in rows) for i in range(3)]
    for index, row in enumerate(rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")

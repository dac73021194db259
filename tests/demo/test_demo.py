"""`smvue demo`, as `make demo` runs it: interrupted during the initial import (exit 130, no process
of it left behind), then run to the end in the same home (a re-run after an interrupted one wipes
what that left and succeeds).

One full stack and one partial one: the sync, cadence and write-back steps the demo walks through
are each proven on their own by faster tests; this proves the journey holds together."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import processes
from tests.waiting import scaled, wait_until

ROOT = Path(__file__).resolve().parents[2]
STATUSES = ("on_track", "due", "overdue", "never_met")

# Budgets on a quiet machine of this project's kind (all stretched by SMVUE_TEST_SLOWDOWN). The
# demo took 58-63 s here; 169 s on a slower machine of the same kind.
REACH_IMPORT = 120  # start → "initial import [" (dbt parse, dagster storage, gateway, daemon)
STOP_AFTER_CTRL_C = 60  # SIGINT → exit 130 with every child stopped
WHOLE_DEMO = 240  # start → exit 0
ORPHANS_GONE = 15  # the last SIGKILLed grandchildren finishing their exit
TEST_BUDGET = REACH_IMPORT + STOP_AFTER_CTRL_C + WHOLE_DEMO + 2 * ORPHANS_GONE + 30


def demo_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMVUE_", "DAGSTER_"))}
    env.update({"SMVUE_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"})
    return env


class Demo:
    """`smvue demo` in its own process group (a signal reaches the demo only, as Ctrl-C reaches
    `make demo`), its output collected line by line."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.process = processes.spawn(
            [sys.executable, "-m", "smvue.cli", "demo"],
            env=demo_env(home),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = processes.Output(self.process)

    def wait_exit(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"smvue demo still running after {scaled(timeout):g} s\n{self.output.tail()}"
            ) from None
        self.output.finish()
        return code

    def stop(self) -> None:
        processes.stop(self.process)
        processes.kill_marked(f"SMVUE_HOME={self.home}")


def check_report(output: str, home: Path) -> None:
    assert "initial import [" in output
    assert re.search(
        r"Maya Chen: webhook → raw\.calendar_events [\d.]+ s → analytics\.one_on_one_meetings", output
    )
    assert re.search(r"Omar Haddad: webhook → raw\.calendar_events [\d.]+ s", output)
    assert output.count("writeback synced") == 6, "schedule, move, cancel on both calendars"
    report = output.split("cadence report", 1)[1]
    for status in STATUSES:
        assert f" {status} " in report, f"{status} missing from the report"
    assert (home / "dashboard.html").stat().st_size > 1000
    assert "Traceback" not in output


def no_process_of(home: Path, what: str) -> None:
    wait_until(
        lambda: not processes.marked(f"SMVUE_HOME={home}"),
        ORPHANS_GONE,
        what,
        poll=0.05,
        detail=lambda: "\n".join(processes.describe(p) for p in processes.marked(f"SMVUE_HOME={home}")),
    )


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the orphan check reads /proc")
@pytest.mark.timeout(TEST_BUDGET)
def test_demo_interrupted_then_run_to_the_end_in_the_same_home(tmp_path):
    home = tmp_path / "data"

    interrupted = Demo(home)
    try:
        # Runs launched by the daemon are in flight once the initial import starts.
        interrupted.output.wait_for("initial import [", REACH_IMPORT)
        interrupted.process.send_signal(signal.SIGINT)
        assert interrupted.wait_exit(STOP_AFTER_CTRL_C) == 130, interrupted.output.tail()
        no_process_of(home, "every process of the interrupted demo gone")
    finally:
        interrupted.stop()

    demo = Demo(home)  # same home: what the interrupted one left is wiped and done again
    started = time.monotonic()
    try:
        assert demo.wait_exit(WHOLE_DEMO) == 0, demo.output.tail()
        check_report(demo.output.text, home)
        no_process_of(home, "every process of the finished demo gone")
    finally:
        demo.stop()
    print(f"demo wall time: {time.monotonic() - started:.0f} s")

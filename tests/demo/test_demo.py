"""`smvue demo`, as `make demo` runs it: twice in a row in the same home (both succeed), then
interrupted during the initial import (exit 130, no process of it left behind)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_TIMEOUT = 300
STATUSES = ("on_track", "due", "overdue", "never_met")


def demo_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMVUE_", "DAGSTER_"))}
    env.update({"SMVUE_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"})
    return env


def start_demo(home: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "smvue_pipeline.cli", "demo"],
        cwd=ROOT,
        env=demo_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a signal here reaches the demo only, as Ctrl-C reaches `make demo`
    )


def processes_using(home: Path) -> list[int]:
    """Live processes whose environment names this demo home: what an orphan would look like."""
    marker = f"SMVUE_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def run_to_end(home: Path) -> str:
    process = start_demo(home)
    try:
        output, _ = process.communicate(timeout=DEMO_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"smvue demo took over {DEMO_TIMEOUT} s:\n{output[-4000:]}")
    assert process.returncode == 0, output[-4000:]
    return output


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


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the orphan check reads /proc")
def test_demo_twice_in_a_row_then_interrupted(tmp_path):
    home = tmp_path / "data"
    started = time.monotonic()
    first = run_to_end(home)
    check_report(first, home)
    first_seconds = time.monotonic() - started
    second = run_to_end(home)  # same home: wiped and done again
    check_report(second, home)
    assert gone(home), "a finished demo left processes running"
    print(f"demo wall time: {first_seconds:.0f} s")

    process = start_demo(home)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert process.poll() is None, "".join(seen)
            continue
        seen.append(line)
        if "initial import [" in line:  # runs launched by the daemon are in flight now
            break
    else:
        pytest.fail("the demo never reached the initial import:\n" + "".join(seen))
    os.kill(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert gone(home), f"Ctrl-C left processes of the demo running: {processes_using(home)}"


def gone(home: Path, timeout: float = 5.0) -> bool:
    """No process of the demo left (polled briefly: the last SIGKILLed ones may still be exiting)."""
    deadline = time.monotonic() + timeout
    while processes_using(home):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

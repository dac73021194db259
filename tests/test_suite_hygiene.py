"""The suite's own guarantees, checked on an inner pytest run with this suite's conftest: a process
a test leaves behind fails the run (and is killed); a test stopped by its timeout still stops what
it started; a bad SMVUE_TEST_SLOWDOWN is refused in one line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests import processes

ROOT = Path(__file__).resolve().parents[1]
# A child that runs until it is signalled: no clock involved.
SLEEPER = "[sys.executable, '-c', 'import signal; signal.pause()']"
INNER_TESTS = f"""
import sys

import pytest

from tests import processes


def test_leaves_a_process_behind():
    processes.spawn({SLEEPER})


@pytest.mark.timeout(1)
def test_times_out_while_its_process_runs():
    with processes.running({SLEEPER}) as process:
        process.wait()  # never ends by itself: the test's timeout cuts it
"""


def inner_pytest(tmp_path: Path, select: str, slowdown: str = "1"):
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    # The inner run is a session of its own (with its own mark), as a bare `pytest` would be.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMVUE_TEST_SLOWDOWN": slowdown}
    argv = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q"]
    return processes.run([*argv, "-k", select, "test_inner.py"], timeout=120, env=env, cwd=tmp_path)


def sleepers_of(tmp_path: Path) -> list[int]:
    return [
        pid for pid in processes.marked(f"PYTHONPATH={ROOT}") if "signal.pause()" in processes.describe(pid)
    ]


def test_a_process_left_behind_fails_the_run_and_is_killed(tmp_path):
    done = inner_pytest(tmp_path, "leaves")
    assert done.returncode == 1, done.stdout
    assert "1 process(es) started by the tests outlived them (now killed)" in done.stdout
    assert "signal.pause()" in done.stdout  # named by its command line
    assert sleepers_of(tmp_path) == []


def test_a_timed_out_test_still_stops_its_process(tmp_path):
    done = inner_pytest(tmp_path, "times_out")
    assert done.returncode == 1, done.stdout
    assert "Timeout" in done.stdout and "1 failed" in done.stdout
    assert "outlived" not in done.stdout  # its `finally` stopped the process
    assert sleepers_of(tmp_path) == []


def test_a_bad_slowdown_factor_is_refused_in_one_line(tmp_path):
    done = inner_pytest(tmp_path, "leaves", slowdown="fast")
    assert done.returncode != 0
    assert "SMVUE_TEST_SLOWDOWN must be a number (got 'fast')" in done.stdout + done.stderr

"""The `smvue up` supervisor: children stop with everything they spawned; a dying child stops the
rest and is named in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from smvue_pipeline.runner import Child, Stack, StackError, group_alive

PY = sys.executable


def child(name: str, code: str) -> Child:
    return Child(name, [PY, "-c", code])


def test_a_dying_child_is_named_and_everything_stops(tmp_path):
    stack = Stack(
        [
            child("sleeper", "import time; time.sleep(60)"),
            child("dier", "import time; time.sleep(0.3); raise SystemExit(3)"),
        ],
        dict(os.environ),
        log_dir=tmp_path,
    )
    stack.start()
    with pytest.raises(StackError, match=r"^dier exited with status 3 \(log: .*dier\.log\)$"):
        stack.wait(poll=0.05)
    stack.stop(grace=5)
    assert not any(group_alive(c.process) for c in stack.children)


def test_stop_reaches_grandchildren_and_kills_what_ignores_sigterm(tmp_path):
    spawner = child(
        "spawner",
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        " time.sleep(60)",
    )
    stubborn = child(
        "stubborn",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True);"
        " time.sleep(60)",
    )
    stack = Stack([spawner, stubborn], dict(os.environ), log_dir=tmp_path)
    stack.start()
    deadline = time.monotonic() + 10
    while b"ready" not in (tmp_path / "stubborn.log").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    stack.stop(grace=1)
    assert time.monotonic() - started < 8
    assert not group_alive(spawner.process)  # the grandchild went with it
    assert not group_alive(stubborn.process)
    assert stubborn.process.returncode == -signal.SIGKILL


def test_smvue_up_exits_non_zero_in_one_line_when_the_gateway_cannot_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "SMVUE_HOME": str(tmp_path / "home")}
        env.pop("DAGSTER_HOME", None)
        result = subprocess.run(
            [PY, "-m", "smvue_pipeline.cli", "up", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("smvue up: gateway exited with status "), result.stderr[-2000:]

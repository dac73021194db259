"""The `smvue up` supervisor: children stop with everything they spawned; a dying child stops the
rest and is named in one line."""

from __future__ import annotations

import os
import signal
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


def test_smvue_up_exits_non_zero_in_one_line_when_a_child_dies(tmp_path, monkeypatch, capsys):
    from smvue_pipeline import cli, runner

    children = [
        child("gateway", "import time; time.sleep(0.3); raise SystemExit(3)"),
        child("dagster-daemon", "import time; time.sleep(60)"),
    ]
    monkeypatch.setattr(runner, "stack_children", lambda options: children)
    monkeypatch.setattr(runner, "prepare_dbt_manifest", lambda: False)
    monkeypatch.setenv("SMVUE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)

    assert cli.main(["up", "--port", "18780"]) == 1
    assert capsys.readouterr().err == "smvue up: gateway exited with status 3\n"
    assert not any(group_alive(c.process) for c in children)
    # The Dagster instance was prepared under $SMVUE_HOME/dagster.
    assert (tmp_path / "home" / "dagster" / "dagster.yaml").exists()

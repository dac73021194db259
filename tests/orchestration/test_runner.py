"""The `smvue up` supervisor: children stop with everything they spawned; a dying child stops the
rest and is named in one line."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from smvue.up import Child, Stack, StackError, group_alive
from tests.waiting import wait_until

PY = sys.executable


def child(name: str, code: str) -> Child:
    return Child(name, [PY, "-c", code])


def all_gone(children: list[Child]) -> None:
    """Every child's process group empty (a SIGKILLed grandchild may take a moment to be reaped)."""
    wait_until(lambda: not any(group_alive(c.process) for c in children), 10, "every process group gone")


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
    try:
        with pytest.raises(StackError, match=r"^dier exited with status 3 \(log: .*dier\.log\)$"):
            stack.wait(poll=0.05)
    finally:
        stack.stop(grace=5)
    all_gone(stack.children)


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
    try:
        wait_until(
            lambda: b"ready" in (tmp_path / "stubborn.log").read_bytes(), 10, "the stubborn child ready"
        )
    finally:
        stack.stop(grace=1)
    all_gone([spawner, stubborn])  # the grandchild went with the spawner's group
    assert stubborn.process.returncode == -signal.SIGKILL


def test_smvue_up_exits_non_zero_in_one_line_when_a_child_dies(tmp_path, monkeypatch, capsys):
    from smvue import cli
    from smvue import up as runner

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
    all_gone(children)
    # The Dagster instance was prepared under $SMVUE_HOME/dagster.
    assert (tmp_path / "home" / "dagster" / "dagster.yaml").exists()

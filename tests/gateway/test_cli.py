"""`smvue gateway`: serves until SIGTERM, then stops cleanly (workers included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests import processes
from tests.file_modes import group_or_world_accessible
from tests.waiting import free_port, scaled, wait_until

SMVUE = Path(sys.executable).with_name("smvue")


def wait_until_healthy(port: int, process) -> None:
    """Until `smvue gateway` answers /healthz (giving up, with its stderr, if it exited)."""
    http = requests.Session()
    http.trust_env = False

    def healthy() -> bool:
        try:
            return http.get(f"http://127.0.0.1:{port}/healthz", timeout=scaled(1)).status_code == 200
        except requests.ConnectionError:
            assert process.poll() is None, process.stderr.read()
            return False

    wait_until(healthy, timeout=30, what="the gateway answering /healthz")


def test_smvue_gateway_serves_until_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "SMVUE_HOME": str(tmp_path)}
    env.pop("SMVUE_PUBLIC_URL", None)
    process = processes.spawn(
        [str(SMVUE), "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy(port, process)
        assert (tmp_path / "api.token").stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=scaled(20))
    finally:
        processes.stop(process)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_smvue_gateway_creates_everything_owner_only_whatever_the_umask(tmp_path):
    """Started from a shell with the usual umask 022: the home folder, the operational store and
    its -wal/-shm and the generated secrets are still owner-only (issue 13, item 4)."""
    home = tmp_path / "home"
    port = free_port()
    env = {**os.environ, "SMVUE_HOME": str(home)}
    for name in ("SMVUE_PUBLIC_URL", "SMVUE_SECRET_KEY", "SMVUE_API_TOKEN"):
        env.pop(name, None)
    with processes.running(
        [str(SMVUE), "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        umask=0o022,
    ) as process:
        wait_until_healthy(port, process)
        # While it runs, so SQLite's -wal and -shm are there to be checked.
        names = {p.name for p in home.iterdir()}
        assert {"operational.sqlite-wal", "operational.sqlite-shm", "secret.key", "api.token"} <= names
        assert group_or_world_accessible(home) == []


def refused(argv: list[str], env: dict[str, str]) -> str:
    """The command exits 1 with one line on stderr (no traceback); returns that line."""
    result = processes.run([str(SMVUE), *argv], timeout=30, env=env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_group_or_world_readable_key_file_is_refused_naming_the_fix(tmp_path):
    """An existing secret.key readable by others may have leaked: refused, not silently used."""
    from cryptography.fernet import Fernet

    key_file = tmp_path / "secret.key"
    key_file.write_text(Fernet.generate_key().decode())
    key_file.chmod(0o644)
    env = {**os.environ, "SMVUE_HOME": str(tmp_path)}
    for name in ("SMVUE_PUBLIC_URL", "SMVUE_SECRET_KEY", "SMVUE_API_TOKEN"):
        env.pop(name, None)
    line = refused(["gateway", "--port", str(free_port())], env)
    assert str(key_file) in line and f"chmod 600 {key_file}" in line
    assert key_file.stat().st_mode & 0o777 == 0o644  # left for the operator to rotate or fix

    line = refused(["rotate-key"], env)
    assert f"chmod 600 {key_file}" in line

    # The write-back worker run as a process of its own refuses it the same way.
    worker = processes.run([sys.executable, "-m", "smvue_core.writeback", "--once"], timeout=30, env=env)
    assert worker.returncode == 2 and worker.stderr.strip().splitlines() == [
        f"writeback: {line.split(': ', 1)[1]}"
    ], worker.stderr

    # Once fixed, the same holds for the API's bearer token file.
    key_file.chmod(0o600)
    token_file = tmp_path / "api.token"
    token_file.write_text("t" * 43)
    token_file.chmod(0o640)
    line = refused(["gateway", "--port", str(free_port())], env)
    assert f"chmod 600 {token_file}" in line and "t" * 43 not in line


def test_a_short_api_token_is_refused_by_every_command(tmp_path):
    env = {**os.environ, "SMVUE_HOME": str(tmp_path), "SMVUE_API_TOKEN": "x" * 31}
    env.pop("SMVUE_PUBLIC_URL", None)
    for argv in (["gateway", "--port", str(free_port())], ["up", "--port", str(free_port())]):
        line = refused(argv, env)
        assert "SMVUE_API_TOKEN is 31 characters" in line and "at least 32" in line
        assert "x" * 31 not in line  # the token itself is never echoed


def test_a_short_api_token_file_is_refused_too(tmp_path):
    from smvue_core.settings import ConfigError, Settings

    token_file = tmp_path / "api.token"
    token_file.write_text("short-token")
    token_file.chmod(0o600)
    settings = Settings.from_env({"SMVUE_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match=f"{token_file} is 11 characters; it must be at least 32"):
        settings.api_token()

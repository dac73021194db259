"""`smvue gateway`: serves until SIGTERM, then stops cleanly (workers included)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.waiting import wait_until

SMVUE = Path(sys.executable).with_name("smvue")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_smvue_gateway_serves_until_sigterm(tmp_path):
    port = _free_port()
    env = {**os.environ, "SMVUE_HOME": str(tmp_path)}
    env.pop("SMVUE_PUBLIC_URL", None)
    process = subprocess.Popen(
        [str(SMVUE), "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        http = requests.Session()
        http.trust_env = False

        def healthy() -> bool:
            try:
                return http.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read()
                return False

        wait_until(healthy, timeout=30, what="the gateway answering /healthz")
        assert (tmp_path / "api.token").stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr

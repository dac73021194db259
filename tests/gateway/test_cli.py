"""`smvue gateway`: serves until SIGTERM, then stops cleanly (workers included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests import processes
from tests.waiting import free_port, scaled, wait_until

SMVUE = Path(sys.executable).with_name("smvue")


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
        http = requests.Session()
        http.trust_env = False

        def healthy() -> bool:
            try:
                return http.get(f"http://127.0.0.1:{port}/healthz", timeout=scaled(1)).status_code == 200
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read()
                return False

        wait_until(healthy, timeout=30, what="the gateway answering /healthz")
        assert (tmp_path / "api.token").stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=scaled(20))
    finally:
        processes.stop(process)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr

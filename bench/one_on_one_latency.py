"""Webhook → 1:1 row and webhook → cadence row latency through the real Dagster daemon (SPEC
Performance: p95 ≤ 15 s and ≤ 30 s).

`smvue up` (gateway + daemon) against the emulator; a manager connects through the gateway and a
rep is in the roster. Then, N times, the manager moves their next 1:1 with the rep in their
calendar (Google API client, as the user); the emulator's watch channel notifies the gateway, the
change queue sensor launches sync_calendars_job, and we time until the published snapshot shows
the new start in analytics.one_on_one_meetings and in analytics.cadence_metrics.next_scheduled_at.

    .venv/bin/python bench/one_on_one_latency.py [--changes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from calendar_emulator.actors import EmulatorAdminClient, GoogleActor  # noqa: E402
from calendar_emulator.server import EmulatorServer  # noqa: E402
from smvue_pipeline.security.cipher import TokenCipher  # noqa: E402
from smvue_pipeline.warehouse.database import open_database  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str, poll: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


class Published:
    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, params: list) -> list[tuple]:
        if not self.path.exists():
            return []
        try:
            con = open_database(self.path, read_only=True)
        except Exception:  # noqa: BLE001 - being replaced this instant: ask again
            return []
        try:
            return con.execute(sql, params).fetchall()
        except Exception:  # noqa: BLE001 - tables appear with the first run
            return []
        finally:
            con.close()

    def one_on_one_start(self, event_id: str):
        rows = self.query("SELECT start_at FROM analytics.one_on_one_meetings WHERE event_id = ?", [event_id])
        return rows[0][0] if rows else None

    def next_scheduled(self, rep_id: str):
        rows = self.query(
            "SELECT next_scheduled_at FROM analytics.cadence_metrics WHERE rep_id = ?", [rep_id]
        )
        return rows[0][0] if rows else None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="one-on-one-latency-"))
    home = workdir / "home"
    port = free_port()
    gateway = f"http://127.0.0.1:{port}"
    one_on_one_s: list[float] = []
    cadence_s: list[float] = []
    with EmulatorServer() as emulator:
        url = emulator.url
        env = {
            **os.environ,
            "SMVUE_HOME": str(home),
            "SMVUE_SECRET_KEY": TokenCipher.generate_key(),
            "SMVUE_API_TOKEN": f"bench-{uuid.uuid4().hex}",
            "SMVUE_GOOGLE_API_BASE": f"{url}/google/calendar/v3/",
            "SMVUE_GOOGLE_AUTH_BASE": f"{url}/google/oauth2/",
            "SMVUE_GRAPH_API_BASE": f"{url}/microsoft/v1.0/",
            "SMVUE_MS_AUTHORITY": f"{url}/microsoft/common",
            "SMVUE_PUBLIC_URL": gateway,
        }
        for name in ("DAGSTER_HOME", "SMVUE_WAREHOUSE", "SMVUE_PUBLISHED", "SMVUE_WAREHOUSE_KEY"):
            env.pop(name, None)
        log = open(workdir / "smvue-up.log", "wb")  # noqa: SIM115 - lives as long as the child
        up = subprocess.Popen(
            [sys.executable, "-m", "smvue_pipeline.cli", "up", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        http = requests.Session()
        http.trust_env = False
        api = requests.Session()
        api.trust_env = False
        api.headers["Authorization"] = f"Bearer {env['SMVUE_API_TOKEN']}"
        try:

            def healthy() -> bool:
                try:
                    return http.get(f"{gateway}/healthz", timeout=1).status_code == 200
                except requests.ConnectionError:
                    return False

            wait_until(healthy, 90, "gateway healthy", poll=0.25)
            admin = EmulatorAdminClient(url)
            manager_email = f"g-{uuid.uuid4().hex[:10]}@bench.example"
            rep_email = f"rep-{uuid.uuid4().hex[:10]}@bench.example"
            admin.create_user(manager_email, "google", "Bea Bench")
            actor = GoogleActor(url, admin.token(manager_email, "google"))
            start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
            event = actor.insert(
                {
                    "summary": "Rep 1:1",
                    "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
                    "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
                    "attendees": [{"email": manager_email}, {"email": rep_email}],
                }
            )
            manager_id, rep_id = f"mgr-{uuid.uuid4().hex[:8]}", f"rep-{uuid.uuid4().hex[:8]}"
            api.put(f"{gateway}/v1/managers/{manager_id}", json={"name": "Bea Bench", "email": manager_email})
            api.put(
                f"{gateway}/v1/team-members/{rep_id}",
                json={
                    "manager_id": manager_id,
                    "name": "Rex Rep",
                    "email": rep_email,
                    "start_date": "2025-01-01",
                },
            )
            started = api.get(
                f"{gateway}/oauth/google/start", params={"manager_id": manager_id}, allow_redirects=False
            )
            consent = http.get(started.headers["location"], allow_redirects=False, timeout=30)
            callback = http.get(consent.headers["location"], allow_redirects=False, timeout=60)
            assert callback.status_code == 200, callback.text
            published = Published(home / "published.duckdb")
            wait_until(lambda: published.next_scheduled(rep_id) == start, 300, "initial import with cadence")

            for i in range(1, args.changes + 1):
                moved = start + timedelta(hours=i)
                actor.patch(
                    event["id"],
                    {
                        "start": {"dateTime": moved.isoformat(), "timeZone": "UTC"},
                        "end": {"dateTime": (moved + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
                    },
                )
                changed = time.monotonic()
                wait_until(
                    lambda m=moved: published.one_on_one_start(event["id"]) == m, 120, f"change {i} (1:1)"
                )
                one_on_one_s.append(time.monotonic() - changed)
                wait_until(
                    lambda m=moved: published.next_scheduled(rep_id) == m, 120, f"change {i} (cadence)"
                )
                cadence_s.append(time.monotonic() - changed)
                print(
                    f"change {i}: 1:1 row {one_on_one_s[-1]:.1f} s, cadence row {cadence_s[-1]:.1f} s",
                    flush=True,
                )
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
            log.close()
    result = {
        "changes": len(one_on_one_s),
        "webhook_to_one_on_one_s": {
            "p50": round(statistics.median(one_on_one_s), 1),
            "p95": round(percentile(one_on_one_s, 95), 1),
            "max": round(max(one_on_one_s), 1),
        },
        "webhook_to_cadence_s": {
            "p50": round(statistics.median(cadence_s), 1),
            "p95": round(percentile(cadence_s, 95), 1),
            "max": round(max(cadence_s), 1),
        },
        "targets_s": {"one_on_one_p95": 15, "cadence_p95": 30},
    }
    result["within_targets"] = (
        result["webhook_to_one_on_one_s"]["p95"] <= 15 and result["webhook_to_cadence_s"]["p95"] <= 30
    )
    print(json.dumps(result, indent=2))
    return 0 if result["within_targets"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

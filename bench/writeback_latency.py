"""SMVue meeting API call → event on the calendar (SPEC Performance: p95 ≤ 5 s).

Starts the calendar emulator and a real gateway (uvicorn, write-back workers included) on loopback
in a temporary SMVUE_HOME, connects a Google and an Outlook manager through OAuth, then times
`POST /v1/meetings` until the event shows on the manager's calendar as the emulator holds it (admin
dump, SMVue's tag). Two runs: one meeting at a time, and a burst of all of them at once. Prints JSON.

    .venv/bin/python bench/writeback_latency.py [--meetings 100] [--burst 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from calendar_emulator.actors import EmulatorAdminClient  # noqa: E402
from calendar_emulator.server import EmulatorServer  # noqa: E402
from smvue.demo.run import connect_manager, point_at_emulator  # noqa: E402
from smvue_core.connect import ConnectService  # noqa: E402
from smvue_core.opstore import OpStore  # noqa: E402
from smvue_core.opstore.roster import RosterRepository  # noqa: E402
from smvue_core.providers.tags import smvue_meeting_id  # noqa: E402
from smvue_core.security.cipher import TokenCipher  # noqa: E402
from smvue_core.settings import Settings  # noqa: E402
from webhook_gateway.app import create_app  # noqa: E402
from webhook_gateway.server import GatewayServer  # noqa: E402
from webhook_gateway.services import build_providers  # noqa: E402

TARGET_P95_SECONDS = 5.0
POLL_SECONDS = 0.01
TIMEOUT_SECONDS = 60.0


def tag_of(row: dict) -> str | None:
    return smvue_meeting_id(row["event"])


def on_calendar(admin: EmulatorAdminClient, manager) -> set[str]:
    return {
        tag
        for row in admin.dump(manager.email, manager.provider)
        if not row["deleted"] and (tag := tag_of(row))
    }


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    p99 = ordered[max(0, round(0.99 * len(ordered)) - 1)]
    return {
        "n": len(ordered),
        "p50_s": round(statistics.median(ordered), 4),
        "p95_s": round(p95, 4),
        "p99_s": round(p99, 4),
        "max_s": round(ordered[-1], 4),
    }


class Bench:
    def __init__(self, api_url: str, token: str, admin: EmulatorAdminClient, managers: list) -> None:
        self.url = api_url
        self.admin = admin
        self.managers = managers
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.slot = 0

    def schedule(self, manager) -> str:
        self.slot += 1
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        start += timedelta(minutes=30 * self.slot)
        body = {
            "manager_id": manager.manager_id,
            "rep_id": manager.rep_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "title": "Weekly 1:1",
            "meeting_type": "Weekly",
        }
        answer = self.http.post(
            self.url + "/v1/meetings", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30
        )
        if answer.status_code != 202:
            raise RuntimeError(f"POST /v1/meetings: {answer.status_code} {answer.text[:300]}")
        return answer.json()["meeting_id"]

    def one_at_a_time(self, count: int) -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {m.provider: [] for m in self.managers}
        for index in range(count):
            manager = self.managers[index % len(self.managers)]
            started = time.perf_counter()
            meeting_id = self.schedule(manager)
            while meeting_id not in on_calendar(self.admin, manager):
                if time.perf_counter() - started > TIMEOUT_SECONDS:
                    raise RuntimeError(f"meeting {meeting_id} never reached the calendar")
                time.sleep(POLL_SECONDS)
            samples[manager.provider].append(time.perf_counter() - started)
        return samples

    def burst(self, count: int) -> dict[str, list[float]]:
        """All requests at once (16 client threads); each meeting timed from its own request."""
        started_at: dict[str, tuple[float, object]] = {}

        def send(index: int) -> None:
            manager = self.managers[index % len(self.managers)]
            began = time.perf_counter()
            started_at[self.schedule(manager)] = (began, manager)

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(send, range(count)))
        samples: dict[str, list[float]] = {m.provider: [] for m in self.managers}
        waiting = dict(started_at)
        deadline = time.perf_counter() + TIMEOUT_SECONDS
        while waiting:
            now = time.perf_counter()
            for manager in self.managers:
                present = on_calendar(self.admin, manager)
                for meeting_id in [m for m, (_, who) in waiting.items() if who is manager and m in present]:
                    began, _ = waiting.pop(meeting_id)
                    samples[manager.provider].append(now - began)
            if now > deadline:
                raise RuntimeError(f"{len(waiting)} meetings never reached the calendar")
            time.sleep(POLL_SECONDS)
        return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--meetings", type=int, default=100, help="one-at-a-time meetings (half per provider)"
    )
    parser.add_argument("--burst", type=int, default=100, help="meetings sent at once")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smvue-bench-writeback-") as home, EmulatorServer() as emulator:
        os.environ["SMVUE_HOME"] = home
        for name in ("SMVUE_WAREHOUSE", "SMVUE_PUBLISHED", "SMVUE_WAREHOUSE_KEY", "SMVUE_API_TOKEN"):
            os.environ.pop(name, None)
        point_at_emulator(emulator.url)
        settings = Settings.from_env()
        admin = EmulatorAdminClient(emulator.url)
        store = OpStore(settings.opstore_target)
        roster = RosterRepository(store)
        connect = ConnectService(
            store, TokenCipher(settings.secret_key()), build_providers(settings), settings.public_url
        )
        managers = []
        for provider in ("google", "microsoft"):
            tag = uuid.uuid4().hex[:8]
            manager = SimpleNamespace(
                manager_id=f"mgr_{tag}",
                provider=provider,
                email=f"{provider}-{tag}@bench.example",
                rep_id=f"rep_{tag}",
            )
            admin.create_user(manager.email, provider, "Bench Manager")
            roster.upsert_manager(manager.manager_id, "Bench Manager", manager.email)
            roster.upsert_team_member(
                manager.rep_id, manager.manager_id, "Bench Rep", f"rep-{tag}@bench.example", None
            )
            connect_manager(connect, manager)
            managers.append(manager)
        with GatewayServer(create_app(settings)) as gateway:
            bench = Bench(gateway.url, settings.api_token(), admin, managers)
            bench.schedule(managers[0])  # warm up: sessions, token refresh, discovery
            sequential = bench.one_at_a_time(args.meetings)
            burst = bench.burst(args.burst)
    report = {
        "benchmark": "writeback_latency",
        "what": "POST /v1/meetings -> event on the manager's calendar (emulator admin dump)",
        "one_at_a_time": {provider: percentiles(s) for provider, s in sequential.items()},
        "burst": {provider: percentiles(s) for provider, s in burst.items()},
        "target_p95_s": TARGET_P95_SECONDS,
    }
    worst = max(v["p95_s"] for run in ("one_at_a_time", "burst") for v in report[run].values())
    report["worst_p95_s"] = worst
    report["meets_target"] = worst <= TARGET_P95_SECONDS
    print(json.dumps(report, indent=2))
    return 0 if report["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())

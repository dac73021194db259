"""Fixtures for the write-back tests: the sync harness (private SMVUE_HOME on the session emulator,
managers connected through real OAuth) plus a rep on each manager's team, the meeting service and
write-back workers with an injected clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests

from smvue_core.opstore.meetings import Meeting, MeetingRepository
from smvue_core.opstore.outbox import Outbox
from smvue_core.providers.tags import smvue_meeting_id
from smvue_core.writeback.scheduling import MeetingService, ScheduleRequest
from smvue_core.writeback.worker import WorkerConfig, WritebackWorker, writeback_providers
from tests.sync.conftest import Mailbox, SyncHarness
from tests.sync.conftest import harness as harness  # noqa: F401 - the fixture, re-exported
from tests.waiting import scaled, wait_until


@dataclass
class Team:
    mailbox: Mailbox
    rep_id: str
    rep_email: str

    @property
    def manager_id(self) -> str:
        return self.mailbox.manager_id


class Clock:
    """A settable clock: backoff and lease expiry without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class WritebackHarness:
    def __init__(self, sync: SyncHarness) -> None:
        self.sync = sync
        self.store = sync.store
        self.settings = sync.settings
        self.clock = Clock()
        self.service = MeetingService(
            self.store, self.settings.published_path, self.settings.warehouse_key, clock=self.clock
        )
        self.meetings = MeetingRepository(self.store)
        self.outbox = Outbox(self.store)

    def team(self, provider: str) -> Team:
        mailbox = self.sync.connect(provider, second_calendar=False)
        rep_id = f"rep_{uuid.uuid4().hex[:8]}"
        rep_email = f"rep-{rep_id}@smvue-test.example"
        self.sync.connect_service.roster.upsert_team_member(
            rep_id, mailbox.manager_id, "Riley Rep", rep_email, "2025-01-06"
        )
        return Team(mailbox, rep_id, rep_email)

    def request(
        self, team: Team, start: datetime | None = None, minutes: int = 30, **extra
    ) -> ScheduleRequest:
        start = start or (datetime.now(UTC) + timedelta(days=2)).replace(
            hour=10, minute=0, second=0, microsecond=0
        )
        body = {
            "manager_id": team.manager_id,
            "rep_id": team.rep_id,
            "start": start,
            "end": start + timedelta(minutes=minutes),
            "title": "Weekly 1:1",
            "meeting_type": "Weekly",
        } | extra
        return ScheduleRequest(**body)

    def worker(
        self, config: WorkerConfig | None = None, clock: Callable[[], datetime] | None = None, **kwargs
    ):
        return WritebackWorker(
            self.store,
            self.sync.cipher,
            writeback_providers(self.settings),
            config=config or WorkerConfig(lease_seconds=30),
            clock=clock or self.clock,
            points=frozenset(),
            **kwargs,
        )

    def drain(self, worker: WritebackWorker | None = None, rounds: int = 20) -> None:
        worker = worker or self.worker()
        for _ in range(rounds):
            if worker.run_once() == 0:
                return
        raise AssertionError("the outbox did not drain")

    def meeting(self, meeting_id: str) -> Meeting:
        found = self.meetings.get(meeting_id)
        assert found is not None
        return found

    def events(self, team: Team, live_only: bool = False) -> list[dict]:
        """The manager's calendar as the emulator holds it (admin dump), SMVue-tagged or not."""
        rows = self.sync.admin.dump(team.mailbox.email, team.mailbox.provider)
        return [r for r in rows if not (live_only and r["deleted"])]


def event_times(row: dict) -> tuple[datetime, datetime]:
    """Start and end (UTC) of an admin-dump row, for either provider's shape."""
    event = row["event"]

    def parse(value: dict) -> datetime:
        text = value["dateTime"].rstrip("Z")
        if "." in text:
            head, fraction = text.split(".", 1)
            text = f"{head}.{fraction[:6]}"
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # Graph: UTC unless a zone is given
        return parsed.astimezone(UTC)

    return parse(event["start"]), parse(event["end"])


def smvue_tag(row: dict) -> str | None:
    return smvue_meeting_id(row["event"])


@pytest.fixture
def wb(harness) -> WritebackHarness:  # noqa: F811 - harness is the sync fixture
    return WritebackHarness(harness)


class Api:
    """The gateway's app API over real HTTP, as the SMVue web app calls it."""

    def __init__(self, url: str, token: str, services) -> None:
        self.url = url
        self.services = services
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.url + path, timeout=scaled(30), **kwargs)

    def schedule(self, team: Team, start: datetime, minutes: int = 30, key: str | None = None, **extra):
        body = {
            "manager_id": team.manager_id,
            "rep_id": team.rep_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=minutes)).isoformat(),
            "title": "Weekly 1:1",
            "meeting_type": "Weekly",
        } | extra
        headers = {"Idempotency-Key": key} if key else {}
        return self.call("POST", "/v1/meetings", json=body, headers=headers)

    def meeting(self, meeting_id: str) -> dict:
        answer = self.call("GET", f"/v1/meetings/{meeting_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_settled(self, meeting_ids, timeout: float = 30.0) -> dict[str, dict]:
        """Poll GET until no meeting is pending (the gateway's workers run on their own)."""
        last: dict[str, dict] = {}

        def settled() -> dict[str, dict] | None:
            last.update({m: self.meeting(m) for m in meeting_ids})
            return dict(last) if all(s["writeback"] != "pending" for s in last.values()) else None

        def still_pending() -> str:
            return f"pending: {[m for m, s in last.items() if s['writeback'] == 'pending'][:3]}"

        return wait_until(
            settled, timeout, f"{len(meeting_ids)} meetings settled", poll=0.05, detail=still_pending
        )


@pytest.fixture
def api(wb):
    """A real gateway (uvicorn on loopback) on the test's SMVUE_HOME, write-back workers included."""
    from webhook_gateway.app import create_app
    from webhook_gateway.server import GatewayServer

    app = create_app(
        wb.settings, maintenance_interval=3600, writeback_options={"threads": 4, "interval": 0.2}
    )
    with GatewayServer(app) as server:
        yield Api(server.url, wb.settings.api_token(), app.state.services)

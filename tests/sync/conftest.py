"""Fixtures for the sync tests: a private SMVUE_HOME pointed at the session emulator, managers
connected through the real OAuth flow, and two ways to run a sync — the Dagster assets
(`harness.materialize`) or the SyncEngine directly with an injected retry sleep
(`harness.engine_sync`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import dagster as dg
import pytest
import requests

from calendar_emulator.actors import GoogleActor, GraphActor
from smvue_core.connect import ConnectService
from smvue_core.opstore import OpStore
from smvue_core.opstore.connections import Connection
from smvue_core.providers.base import CalendarProvider
from smvue_core.providers.factory import calendar_providers
from smvue_core.providers.retry import RetryPolicy
from smvue_core.security.cipher import TokenCipher
from smvue_core.settings import Settings
from smvue_core.sync.engine import ConnectionResult, SyncEngine
from smvue_core.sync.service import record_outcomes, select_jobs
from smvue_core.warehouse import database
from smvue_pipeline.assets.app_tables import app_tables
from smvue_pipeline.assets.raw_events import SyncConfig, raw_calendar_events
from smvue_pipeline.resources.bindings import build_resources
from smvue_pipeline.resources.opstore import OperationalStoreResource
from tests.admin import AdminClient
from tests.waiting import scaled

RAW_OP = "raw_calendar_events"


@dataclass
class Mailbox:
    """An emulator user connected to SMVue through OAuth."""

    provider: str
    email: str
    manager_id: str
    connection_id: str
    primary_calendar_id: str
    calendars: dict[str, str]  # name -> id, every calendar selected for sync
    base_url: str
    admin: AdminClient

    def actor(self) -> GoogleActor | GraphActor:
        """The user's own calendar app, with a fresh token (tests expire tokens)."""
        token = self.admin.token(self.email, self.provider)
        return (
            GoogleActor(self.base_url, token)
            if self.provider == "google"
            else GraphActor(self.base_url, token)
        )

    @property
    def second_calendar_id(self) -> str:
        return self.calendars["Coaching"]


@dataclass
class RecordingSleep:
    """A RetryPolicy sleep that records instead of sleeping."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class SyncHarness:
    def __init__(self, emulator, home: Path) -> None:
        self.emulator = emulator
        self.url = emulator.url
        self.home = home
        self.admin = AdminClient(emulator.url)
        self.settings = Settings.from_env()
        self.store = OpStore(self.settings.opstore_path)
        self.cipher = TokenCipher(self.settings.secret_key())
        self.connect_service = ConnectService(
            self.store, self.cipher, self.clients(), self.settings.public_url
        )
        self.connections = self.connect_service.connections

    # --- providers and resources -------------------------------------------------------------
    def clients(
        self, google: dict | None = None, microsoft: dict | None = None
    ) -> dict[str, CalendarProvider]:
        return calendar_providers(self.settings, google=google, microsoft=microsoft)

    def resources(self, google: dict | None = None, microsoft: dict | None = None) -> dict:
        return build_resources(self.settings, google=google, microsoft=microsoft)

    # --- connecting --------------------------------------------------------------------------
    def new_manager(self, provider: str, *, second_calendar: bool = True, name: str = "Mara Manager"):
        """A new emulator user (with a second calendar), in the roster as a manager: (id, email)."""
        email = f"{provider[0]}-{uuid.uuid4().hex[:10]}@smvue-test.example"
        self.admin.create_user(email, provider, name)
        if second_calendar:
            self.admin.add_calendar(email, provider, "Coaching")
        manager_id = f"mgr_{uuid.uuid4().hex[:8]}"
        self.connect_service.roster.upsert_manager(manager_id, name, email)
        return manager_id, email

    def connect(self, provider: str, *, second_calendar: bool = True, name: str = "Mara Manager") -> Mailbox:
        """A new manager connected through the OAuth flow, every calendar selected."""
        manager_id, email = self.new_manager(provider, second_calendar=second_calendar, name=name)
        connection_id = self.authorize(manager_id, provider).connection.connection_id
        every = self.connections.calendars(connection_id, selected_only=False)
        self.connections.select_calendars(connection_id, {c.calendar_id for c in every})
        names = {c.name: c.calendar_id for c in every}
        primary = next(c.calendar_id for c in every if c.is_primary)
        return Mailbox(provider, email, manager_id, connection_id, primary, names, self.url, self.admin)

    def authorize(self, manager_id: str, provider: str):
        """The OAuth round trip: authorize (the emulator approves the login_hint user at once,
        answering with a redirect we do not follow), then the callback's query to ConnectService."""
        return self.connect_service.finish(provider, self.consent(manager_id, provider))

    def consent(self, manager_id: str, provider: str, browser_binding: str | None = None) -> dict[str, str]:
        """The callback's query parameters, as the browser would bring them back."""
        url = self.connect_service.start(manager_id, provider, browser_binding)
        http = requests.Session()
        http.trust_env = False
        answer = http.get(url, allow_redirects=False, timeout=scaled(30))
        assert answer.status_code == 302, answer.text[:300]
        return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))

    # --- running a sync ----------------------------------------------------------------------
    def materialize(
        self,
        *,
        google: dict | None = None,
        microsoft: dict | None = None,
        raise_on_error: bool = True,
        **request,
    ) -> dg.ExecuteInProcessResult:
        """raw_calendar_events then the app mirrors, as sync_calendars_job runs them."""
        return dg.materialize(
            [raw_calendar_events, app_tables],
            resources=self.resources(google, microsoft),
            run_config={"ops": {RAW_OP: {"config": request}}},
            raise_on_error=raise_on_error,
        )

    def engine_sync(
        self,
        *,
        sleep: Callable[[float], None] | None = None,
        google: dict | None = None,
        microsoft: dict | None = None,
        warehouse_path: Path | None = None,
        now: Callable[[], datetime] | None = None,
        **request,
    ) -> list[ConnectionResult]:
        """The asset's steps without Dagster, so a test can inject the retry sleep (a private
        attribute Dagster would not carry into a run)."""
        clients = self.clients(google, microsoft)
        if sleep is not None:
            for client in clients.values():
                policy = RetryPolicy.timing(
                    client.retry_base_seconds, client.retry_cap_seconds, client.max_retry_after_seconds
                )
                policy.sleep = sleep
                client.with_retry(policy)
        opstore = OperationalStoreResource(path=str(self.settings.opstore_path))
        config = SyncConfig(**request).to_request()
        jobs = select_jobs(config, opstore.connections, clients)
        with database.writer(warehouse_path or self.settings.warehouse_path, None) as con:
            engine = SyncEngine(
                con,
                now=now or (lambda: datetime.now(UTC)),
                past_days=config.past_days,
                future_days=config.future_days,
            )
            results = engine.run(jobs)
        if warehouse_path is None:
            record_outcomes(results, opstore.connections, opstore.queue, config.queue_up_to)
        return results

    def expire_access_tokens(self, *mailboxes: Mailbox) -> None:
        """What the `expire_access_tokens` fault does, for these users only: the fault flag expires
        every token the shared session emulator ever issued, other tests' included."""
        state = self.emulator.state
        with state.lock:
            for mailbox in mailboxes:
                assert state.identity.expire_access_tokens(mailbox.provider, mailbox.email) > 0

    # --- reading back ------------------------------------------------------------------------
    def query(self, sql: str, params=None, path: Path | None = None) -> list[dict]:
        con = database.open_database(path or self.settings.warehouse_path, read_only=True)
        try:
            cursor = con.execute(sql, params or {})
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()

    def rows(self, connection_id: str, path: Path | None = None, live_only: bool = False) -> dict[str, dict]:
        """raw.calendar_events of one connection by event id."""
        rows = self.query(
            "SELECT * FROM raw.calendar_events WHERE connection_id = $c"
            + (" AND status <> 'cancelled'" if live_only else "")
            + " ORDER BY calendar_id, event_id",
            {"c": connection_id},
            path,
        )
        keyed = {r["event_id"]: r for r in rows}
        assert len(keyed) == len(rows), "an event id appears under two calendars"
        return keyed

    def sync_state(self, connection_id: str, path: Path | None = None) -> dict[str, dict]:
        rows = self.query("SELECT * FROM raw.sync_state WHERE connection_id = $c", {"c": connection_id}, path)
        return {r["calendar_id"]: r for r in rows}

    def connection(self, connection_id: str) -> Connection:
        found = self.connections.get(connection_id)
        assert found is not None
        return found

    def session(self, mailbox: Mailbox, **client_fields):
        """SMVue's own provider session for a connection (the write-back side, for tagged events)."""
        client = self.clients(**{mailbox.provider: client_fields})[mailbox.provider]
        credentials = self.connections.credentials(mailbox.connection_id)
        return client.session(
            credentials, lambda fresh: self.connections.save_credentials(mailbox.connection_id, fresh)
        )

    def stored_secret(self, connection_id: str) -> bytes:
        row = self.store.query_one("SELECT secret FROM connections WHERE connection_id = ?", (connection_id,))
        return bytes(row["secret"])


@pytest.fixture
def harness(emulator, tmp_path, monkeypatch) -> SyncHarness:
    """A fresh SMVUE_HOME wired to the session emulator; faults cleared afterwards."""
    url = emulator.url
    home = tmp_path / "smvue-home"
    env = {
        "SMVUE_HOME": str(home),
        "SMVUE_SECRET_KEY": TokenCipher.generate_key(),
        "SMVUE_GOOGLE_API_BASE": f"{url}/google/calendar/v3/",
        "SMVUE_GOOGLE_AUTH_BASE": f"{url}/google/oauth2/",
        "SMVUE_GRAPH_API_BASE": f"{url}/microsoft/v1.0/",
        "SMVUE_MS_AUTHORITY": f"{url}/microsoft/common",
        "SMVUE_PRIVACY_CANARY": emulator.state.identity.canary,
    }
    for name in ("SMVUE_WAREHOUSE", "SMVUE_PUBLISHED", "SMVUE_WAREHOUSE_KEY", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    harness = SyncHarness(emulator, home)
    yield harness
    harness.admin.clear_faults()
    harness.store.close()

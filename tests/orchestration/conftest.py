"""Fixtures for the orchestration tests: a private SMVUE_HOME pointed at the session emulator,
the operational store, and sensor evaluation through Dagster's own test context."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import dagster as dg
import pytest

from smvue_core.opstore import OpStore
from smvue_core.opstore.connections import ConnectionRepository
from smvue_core.opstore.queue import ChangeQueue
from smvue_core.providers.base import CalendarInfo
from smvue_core.security.cipher import TokenCipher
from smvue_core.settings import Settings
from smvue_pipeline.resources.opstore import OperationalStoreResource
from tests.waiting import scaled

# The op a sync run's config is addressed to, spelled out: stored runs and bench/burst.py read it.
RAW_OP = "raw_calendar_events"


def emulator_env(url: str, home: Path) -> dict[str, str]:
    return {
        "SMVUE_HOME": str(home),
        "SMVUE_SECRET_KEY": TokenCipher.generate_key(),
        "SMVUE_API_TOKEN": f"test-{uuid.uuid4().hex}",
        "SMVUE_GOOGLE_API_BASE": f"{url}/google/calendar/v3/",
        "SMVUE_GOOGLE_AUTH_BASE": f"{url}/google/oauth2/",
        "SMVUE_GRAPH_API_BASE": f"{url}/microsoft/v1.0/",
        "SMVUE_MS_AUTHORITY": f"{url}/microsoft/common",
    }


@pytest.fixture
def smvue_env(emulator, tmp_path, monkeypatch) -> Settings:
    """A fresh SMVUE_HOME wired to the session emulator."""
    for name in (
        "SMVUE_WAREHOUSE",
        "SMVUE_PUBLISHED",
        "SMVUE_WAREHOUSE_KEY",
        "DAGSTER_HOME",
        "SMVUE_PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    env = emulator_env(emulator.url, tmp_path / "smvue-home")
    env["SMVUE_PRIVACY_CANARY"] = emulator.state.identity.canary
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


@pytest.fixture
def opstore(tmp_path) -> OperationalStoreResource:
    """An operational store of its own (pure sensor tests need no emulator)."""
    resource = OperationalStoreResource(path=str(tmp_path / "operational.sqlite"))
    yield resource
    resource.store.close()


class QueueWorld:
    """Connections with calendars in the operational store, and their change queue."""

    def __init__(self, opstore: OperationalStoreResource) -> None:
        self.opstore = opstore
        self.repo = ConnectionRepository(opstore.store, TokenCipher(TokenCipher.generate_key()))
        self.queue = ChangeQueue(opstore.store)

    def connection(self, provider: str = "google", calendars: int = 2, selected: int | None = None) -> str:
        manager_id = f"mgr_{uuid.uuid4().hex[:8]}"
        connection = self.repo.connect(manager_id, provider, f"{manager_id}@example.com", "{}")
        infos = [
            CalendarInfo(f"cal-{i}-{uuid.uuid4().hex[:6]}", f"Calendar {i}", i == 0) for i in range(calendars)
        ]
        chosen = {c.calendar_id for c in infos[: calendars if selected is None else selected]}
        self.repo.save_calendars(connection.connection_id, infos, selected=chosen)
        return connection.connection_id

    def calendars(self, connection_id: str) -> list[str]:
        return [c.calendar_id for c in self.repo.calendars(connection_id)]


@pytest.fixture
def world(opstore) -> QueueWorld:
    return QueueWorld(opstore)


@pytest.fixture(scope="module")
def dagster_instance():
    """One test instance per module: creating one runs its storage migrations (~0.3-1 s)."""
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(
    sensor: dg.SensorDefinition,
    opstore: OperationalStoreResource,
    cursor: str | None = None,
    instance: dg.DagsterInstance | None = None,
):
    """One tick, as the daemon evaluates it."""
    if instance is None:
        with dg.instance_for_test() as temporary:
            return evaluate(sensor, opstore, cursor, temporary)
    # The context is closed here: a resource context left to the garbage collector would later
    # restore a dead instance's state into Dagster's context variables.
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"opstore": opstore}) as context:
        return sensor.evaluate_tick(context)


def opstore_of(store: OpStore) -> OperationalStoreResource:
    return OperationalStoreResource(path=str(store.path))


class Pipeline:
    """The pipeline side of a test: connect mailboxes, evaluate the sensor / schedule, execute the
    requested run in process (raw_calendar_events + app mirrors, as sync_calendars_job starts)."""

    def __init__(self, emulator, settings: Settings) -> None:
        from smvue_core.connect import ConnectService
        from smvue_pipeline.resources.bindings import build_resources
        from tests.admin import AdminClient

        self.url = emulator.url
        self.settings = settings
        self.admin = AdminClient(emulator.url)
        self.resources = build_resources(settings)
        self.opstore: OperationalStoreResource = self.resources["opstore"]
        providers = {
            "google": self.resources["google_calendar"].client(),
            "microsoft": self.resources["outlook_calendar"].client(),
        }
        self.connect_service = ConnectService(
            self.opstore.store, self.opstore.cipher, providers, settings.public_url
        )
        self.queue = ChangeQueue(self.opstore.store)
        self.instance: dg.DagsterInstance | None = None

    def connect(self, provider: str, extra_calendars: int = 0) -> Mailbox:
        """A new emulator user, a manager in the roster, connected through the OAuth flow with
        every calendar selected."""
        import requests

        email = f"{provider[0]}-{uuid.uuid4().hex[:10]}@orchestration.example"
        self.admin.create_user(email, provider, "Olive Orchestration")
        for index in range(extra_calendars):
            self.admin.add_calendar(email, provider, f"Calendar {index + 2}")
        manager_id = f"mgr_{uuid.uuid4().hex[:8]}"
        self.connect_service.roster.upsert_manager(manager_id, "Olive Orchestration", email)
        url = self.connect_service.start(manager_id, provider)
        http = requests.Session()
        http.trust_env = False
        answer = http.get(url, allow_redirects=False, timeout=scaled(30))
        assert answer.status_code == 302, answer.text[:300]
        params = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
        connection_id = self.connect_service.finish(provider, params).connection.connection_id
        repo = self.connect_service.connections
        every = repo.calendars(connection_id, selected_only=False)
        repo.select_calendars(connection_id, {c.calendar_id for c in every})
        primary = next(c.calendar_id for c in every if c.is_primary)
        return Mailbox(provider, email, connection_id, primary, [c.calendar_id for c in every], self)

    def tick(self, sensor: dg.SensorDefinition, cursor: str | None = None):
        return evaluate(sensor, self.opstore, cursor, self.instance)

    def execute(self, run_request) -> dg.ExecuteInProcessResult:
        from smvue_pipeline.assets.app_tables import app_tables
        from smvue_pipeline.assets.raw_events import raw_calendar_events

        result = dg.materialize(
            [raw_calendar_events, app_tables],
            resources=self.resources,
            run_config=run_request.run_config,
            tags=run_request.tags,
        )
        assert result.success
        return result

    def raw_titles(self, connection_id: str) -> dict[str, tuple[str, str]]:
        """event_id -> (title, status) in the published snapshot."""
        from smvue_core.warehouse.database import open_database

        con = open_database(self.settings.published_path, read_only=True)
        try:
            rows = con.execute(
                "SELECT event_id, title, status FROM raw.calendar_events WHERE connection_id = ?",
                [connection_id],
            ).fetchall()
        finally:
            con.close()
        return {event_id: (title, status) for event_id, title, status in rows}


class Mailbox:
    def __init__(self, provider, email, connection_id, primary, calendars, pipeline: Pipeline) -> None:
        self.provider = provider
        self.email = email
        self.connection_id = connection_id
        self.primary_calendar_id = primary
        self.calendar_ids = calendars
        self.pipeline = pipeline

    def actor(self):
        from calendar_emulator.actors import GoogleActor, GraphActor

        token = self.pipeline.admin.token(self.email, self.provider)
        cls = GoogleActor if self.provider == "google" else GraphActor
        return cls(self.pipeline.url, token)


@pytest.fixture
def pipeline(emulator, smvue_env, dagster_instance) -> Pipeline:
    harness = Pipeline(emulator, smvue_env)
    harness.instance = dagster_instance
    yield harness
    harness.admin.clear_faults()
    harness.opstore.store.close()


class SecretLog:
    """Every watch secret the gateway hands out (it stores digests only), so the test can post
    notifications exactly as the provider would: to the gateway's webhook routes, over HTTP."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self) -> str:
        import secrets

        value = secrets.token_urlsafe(32)
        self.issued.append(value)
        return value

    def for_digest(self, digest: str) -> str:
        from smvue_core.security.watch_secrets import secret_digest

        return next(s for s in self.issued if secret_digest(s) == digest)


class GatewayPipeline(Pipeline):
    """A Pipeline whose managers connect through a real gateway (thread, real port): the /oauth
    routes open a watch per selected calendar, and the emulator delivers to /webhooks/*."""

    def __init__(self, emulator, settings: Settings, server, secrets: SecretLog) -> None:
        import requests

        super().__init__(emulator, settings)
        self.server = server
        self.gateway_url = server.url
        self.services = server.app.state.services
        self.secrets = secrets
        self.http = requests.Session()
        self.http.trust_env = False
        self.api = requests.Session()
        self.api.trust_env = False
        self.api.headers["Authorization"] = f"Bearer {settings.api_token()}"
        # Rising, as Google's are, and far above what the emulator's channels have sent.
        self._message_numbers = itertools.count(1_000_000)

    def connect(self, provider: str, extra_calendars: int = 0) -> Mailbox:
        email = f"{provider[0]}-{uuid.uuid4().hex[:10]}@orchestration.example"
        self.admin.create_user(email, provider, "Gale Gateway")
        for index in range(extra_calendars):
            self.admin.add_calendar(email, provider, f"Calendar {index + 2}")
        manager_id = f"mgr-{uuid.uuid4().hex[:8]}"
        put = self.api.put(
            f"{self.gateway_url}/v1/managers/{manager_id}", json={"name": "Gale", "email": email}
        )
        assert put.status_code in (200, 201), put.text
        start = self.api.get(
            f"{self.gateway_url}/oauth/{provider}/start",
            params={"manager_id": manager_id},
            allow_redirects=False,
        )
        assert start.status_code == 302, start.text
        consent = self.http.get(start.headers["location"], allow_redirects=False, timeout=scaled(30))
        assert consent.status_code == 302, consent.text
        callback = self.http.get(
            consent.headers["location"], cookies=start.cookies, allow_redirects=False, timeout=scaled(60)
        )
        assert callback.status_code == 200, callback.text
        connection_id = callback.json()["connection_id"]
        repo = self.connect_service.connections
        every = repo.calendars(connection_id, selected_only=False)
        if extra_calendars:
            repo.select_calendars(connection_id, {c.calendar_id for c in every})
            self.services.watches.ensure(connection_id)
        primary = next(c.calendar_id for c in every if c.is_primary)
        return Mailbox(provider, email, connection_id, primary, [c.calendar_id for c in every], self)

    def watch_of(self, connection_id: str, calendar_id: str):
        [watch] = [
            w for w in self.services.watches.list(connection_id, ("active",)) if w.calendar_id == calendar_id
        ]
        row = self.opstore.store.query_one(
            "SELECT secret_sha256 FROM watches WHERE watch_id = ?", (watch.watch_id,)
        )
        return watch, self.secrets.for_digest(row["secret_sha256"])

    def notify_graph_batch(self, http, items: list[tuple]) -> int:
        """Several Graph change notifications in one POST, as Graph batches them."""
        value = [self._graph_item(watch, secret) for watch, secret in items]
        answer = http.post(
            f"{self.gateway_url}/webhooks/microsoft", json={"value": value}, timeout=scaled(30)
        )
        assert answer.status_code == 202, answer.text
        return answer.json()["enqueued"]

    def _graph_item(self, watch, secret: str) -> dict:
        """A change notification as Graph sends it: with the subscription's tenant and user."""
        row = self.opstore.store.query_one(
            "SELECT tenant_id, owner_id FROM watches WHERE watch_id = ?", (watch.watch_id,)
        )
        return {
            "subscriptionId": watch.watch_id,
            "clientState": secret,
            "changeType": "updated",
            "tenantId": row["tenant_id"],
            "resource": f"Users/{row['owner_id']}/Events/AAMkAD-evt",
        }

    def notify(self, http, provider: str, watch, secret: str) -> int:
        """One notification as the provider sends it; returns how many rows the gateway queued."""
        if provider == "google":
            headers = {
                "X-Goog-Channel-ID": watch.watch_id,
                "X-Goog-Resource-ID": watch.resource_id,
                "X-Goog-Resource-State": "exists",
                "X-Goog-Message-Number": str(next(self._message_numbers)),
                "X-Goog-Channel-Token": secret,
            }
            answer = http.post(f"{self.gateway_url}/webhooks/google", headers=headers, timeout=scaled(30))
        else:
            answer = http.post(
                f"{self.gateway_url}/webhooks/microsoft",
                json={"value": [self._graph_item(watch, secret)]},
                timeout=scaled(30),
            )
        assert answer.status_code == 202, answer.text
        return answer.json()["enqueued"]


@pytest.fixture
def gateway_pipeline(emulator, smvue_env, dagster_instance) -> GatewayPipeline:
    from dataclasses import replace

    from webhook_gateway.app import create_app
    from webhook_gateway.server import GatewayServer

    secrets = SecretLog()

    def build(url: str):
        return create_app(
            replace(smvue_env, public_url=url),
            maintenance_interval=3600,
            watch_options={"new_secret": secrets},
        )

    with GatewayServer(build) as server:
        harness = GatewayPipeline(emulator, replace(smvue_env, public_url=server.url), server, secrets)
        harness.instance = dagster_instance
        yield harness
        harness.admin.clear_faults()
    harness.opstore.store.close()

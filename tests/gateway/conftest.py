"""Fixtures for the gateway tests: one real gateway (uvicorn on loopback) pointed at the session
emulator, with a private SMVUE_HOME; managers connected through /oauth exactly as the web app
would; and the watch secrets the WatchManager handed out, so a test can forge a notification that
carries a genuine secret (for a stopped channel or a disconnected connection)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from calendar_emulator.actors import GoogleActor, GraphActor
from smvue_core.providers.factory import calendar_providers
from smvue_core.providers.retry import RetryPolicy
from smvue_core.security.cipher import TokenCipher
from smvue_core.settings import Settings
from tests.admin import AdminClient
from tests.waiting import scaled
from webhook_gateway.app import create_app
from webhook_gateway.server import GatewayServer
from webhook_gateway.services import GatewayServices

API_TOKEN = "test-api-token-" + "x" * 24


def emulator_env(url: str, home: Path) -> dict[str, str]:
    return {
        "SMVUE_HOME": str(home),
        "SMVUE_SECRET_KEY": TokenCipher.generate_key(),
        "SMVUE_API_TOKEN": API_TOKEN,
        "SMVUE_GOOGLE_API_BASE": f"{url}/google/calendar/v3/",
        "SMVUE_GOOGLE_AUTH_BASE": f"{url}/google/oauth2/",
        "SMVUE_GRAPH_API_BASE": f"{url}/microsoft/v1.0/",
        "SMVUE_MS_AUTHORITY": f"{url}/microsoft/common",
    }


def fast_providers(settings: Settings) -> dict:
    """The real clients, retrying twice without sleeping (fault tests stay fast)."""
    policy = RetryPolicy(max_attempts=2, sleep=lambda _seconds: None)
    providers = calendar_providers(settings, google={"max_attempts": 2}, microsoft={"max_attempts": 2})
    return {name: client.with_retry(policy) for name, client in providers.items()}


class SecretLog:
    """Records every watch secret handed out (the store keeps only digests)."""

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


@dataclass
class Connected:
    provider: str
    email: str
    manager_id: str
    connection_id: str
    primary_calendar_id: str
    callback: dict


class Gateway:
    """The running gateway plus helpers to drive it as the app, the user and a forger."""

    def __init__(self, server: GatewayServer, emulator_url: str, secrets: SecretLog) -> None:
        self.server = server
        self.url = server.url
        self.services: GatewayServices = server.app.state.services
        self.secrets = secrets
        self.emulator_url = emulator_url
        self.admin = AdminClient(emulator_url)
        self.http = requests.Session()
        self.http.trust_env = False
        self.api = requests.Session()
        self.api.trust_env = False
        self.api.headers["Authorization"] = f"Bearer {API_TOKEN}"
        self._message_numbers: dict[str, int] = {}

    # --- the app's side ----------------------------------------------------------------------
    def connect(self, provider: str, email: str | None = None, manager_id: str | None = None) -> Connected:
        """A new emulator user (unless given) connected through /oauth/start → authorize → /callback."""
        if email is None:
            email = f"{provider[:1]}-{uuid.uuid4().hex[:10]}@example.com"
            created = self.admin.create_user(email, provider, "Manager")
            primary = created["primary_calendar_id"]
        else:
            primary = ""
        manager_id = manager_id or f"mgr-{uuid.uuid4().hex[:8]}"
        put = self.api.put(f"{self.url}/v1/managers/{manager_id}", json={"name": "Manager", "email": email})
        assert put.status_code in (200, 201), put.text
        callback = self.oauth(provider, manager_id)
        assert callback.status_code == 200, callback.text
        body = callback.json()
        return Connected(provider, email, manager_id, body["connection_id"], primary, body)

    def oauth(self, provider: str, manager_id: str, consent_as: str | None = None) -> requests.Response:
        """The whole round trip in one browser; `consent_as` signs in as another account on the
        provider's consent screen than the manager the flow was started for."""
        start = self.start_oauth(provider, manager_id)
        location = self.consent(provider, start.headers["location"], consent_as)
        # The browser follows the redirect to the gateway (no bearer token: the state and the
        # cookie the start set in this browser authenticate).
        return self.http.get(location, cookies=start.cookies, allow_redirects=False, timeout=scaled(60))

    def start_oauth(self, provider: str, manager_id: str) -> requests.Response:
        start = self.api.get(
            f"{self.url}/oauth/{provider}/start", params={"manager_id": manager_id}, allow_redirects=False
        )
        assert start.status_code == 302, start.text
        return start

    def consent(self, provider: str, authorize_url: str, consent_as: str | None = None) -> str:
        """The provider's consent screen approves at once; returns the callback URL it redirects to."""
        if consent_as is not None:
            parts = urlsplit(authorize_url)
            query = dict(parse_qsl(parts.query)) | {"login_hint": consent_as}
            authorize_url = parts._replace(query=urlencode(query)).geturl()
        consent = self.http.get(authorize_url, allow_redirects=False, timeout=scaled(30))
        assert consent.status_code == 302, consent.text
        location = consent.headers["location"]
        assert location.startswith(f"{self.url}/oauth/{provider}/callback"), location
        return location

    def actor(self, connected: Connected) -> GoogleActor | GraphActor:
        token = self.admin.token(connected.email, connected.provider)
        if connected.provider == "google":
            return GoogleActor(self.emulator_url, token)
        return GraphActor(self.emulator_url, token)

    # --- looking inside ----------------------------------------------------------------------
    def queue_rows(self, connection_id: str) -> list[dict]:
        rows = self.services.store.query(
            "SELECT * FROM change_queue WHERE connection_id = ? ORDER BY queue_id", (connection_id,)
        )
        return [dict(r) for r in rows]

    def watches(self, connection_id: str, state: str | None = "active"):
        return self.services.watches.list(connection_id, (state,) if state else None)

    def counters(self) -> dict[str, int]:
        return self.services.store.counters()

    def emulator_watches(self, provider: str) -> list[dict]:
        listing = self.admin.watches()
        return listing["google_channels" if provider == "google" else "graph_subscriptions"]

    def secret_of(self, watch) -> str:
        row = self.services.store.query_one(
            "SELECT secret_sha256 FROM watches WHERE watch_id = ?", (watch.watch_id,)
        )
        return self.secrets.for_digest(row["secret_sha256"])

    # --- as a provider (or a forger) ---------------------------------------------------------
    def google_notify(
        self,
        channel_id: str,
        resource_id: str,
        token: str | None,
        state: str = "exists",
        number: int | None = None,
    ):
        """A Google push; its message number (unless given) newer than any the channel has sent."""
        if number is None:
            number = self.next_message_number(channel_id)
        headers = {
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Resource-ID": resource_id,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(number),
        }
        if token is not None:
            headers["X-Goog-Channel-Token"] = token
        return self.http.post(f"{self.url}/webhooks/google", headers=headers, timeout=scaled(10))

    def next_message_number(self, channel_id: str) -> int:
        sent = [c["message_number"] for c in self.emulator_watches("google") if c["id"] == channel_id]
        number = max([*sent, self._message_numbers.get(channel_id, 6)]) + 1
        self._message_numbers[channel_id] = number
        return number

    def graph_notify(self, items: list[dict], lifecycle: bool = False, as_graph: bool = True, **kwargs):
        """Graph notifications; `as_graph` fills in the tenantId and resource Graph sends for a
        subscription the gateway knows (unless an item sets them)."""
        if as_graph:
            items = [self._as_graph(item, lifecycle) for item in items]
        path = "/webhooks/microsoft/lifecycle" if lifecycle else "/webhooks/microsoft"
        return self.http.post(f"{self.url}{path}", json={"value": items}, timeout=scaled(10), **kwargs)

    def _as_graph(self, item: dict, lifecycle: bool) -> dict:
        row = self.services.store.query_one(
            "SELECT tenant_id, owner_id FROM watches WHERE watch_id = ? AND provider = 'microsoft'",
            (item.get("subscriptionId"),),
        )
        if row is None or not isinstance(item, dict):
            return item
        filled = {"tenantId": row["tenant_id"], **item}
        if not lifecycle:
            filled.setdefault("resource", f"Users/{row['owner_id']}/Events/AAMkAD-evt")
        return filled

    def kick_maintenance(self) -> None:
        worker = self.services.workers.periodic["watch_maintenance"]
        assert worker.kick_and_wait(timeout=scaled(30)), "watch_maintenance did not run"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def gateway_settings(request, emulator, tmp_path_factory) -> Iterator[Settings]:
    """The gateway's settings, once per backend of the operational store: every test on the
    session gateway runs on SQLite and again on PostgreSQL."""
    home = tmp_path_factory.mktemp("gateway-home")
    env = emulator_env(emulator.url, home)
    if request.param == "sqlite":
        yield Settings.from_env(env)
        return
    with request.getfixturevalue("postgres_server").database() as url:
        yield Settings.from_env({**env, "SMVUE_DATABASE_URL": url})


@contextmanager
def serve_gateway(
    emulator, base: Settings, public_url: str | None = None, **app_options
) -> Iterator[Gateway]:
    """A real gateway (uvicorn on loopback) on `base`, its public URL its own (or `public_url`: the
    address a load balancer gives a set of replicas), fast provider clients, maintenance left to
    the tests to kick; `app_options` go to create_app."""
    secrets = SecretLog()

    def build(url: str):
        settings = replace(base, public_url=public_url or url)
        return create_app(
            settings,
            providers=fast_providers(settings),
            maintenance_interval=3600,  # tests kick it
            watch_options={"new_secret": secrets},
            **app_options,
        )

    with GatewayServer(build) as server:
        yield Gateway(server, emulator.url, secrets)


@pytest.fixture(scope="session")
def gateway(emulator, gateway_settings) -> Gateway:
    """One gateway for the session; tests keep apart through their own emulator users."""
    with serve_gateway(emulator, gateway_settings) as served:
        assert served.services.store.is_postgres == (gateway_settings.database_url is not None)
        yield served


@pytest.fixture
def clear_faults(emulator):
    admin = AdminClient(emulator.url)
    yield admin
    admin.clear_faults()


def callback_params(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))

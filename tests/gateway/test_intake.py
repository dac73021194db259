"""The intake's failure mode: when the change queue cannot be written, the notification is answered
503 (providers retry 5xx) and nothing is acknowledged that was not committed."""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from smvue_core.opstore.connections import ConnectionRepository
from smvue_core.security.watch_secrets import secret_digest
from smvue_core.settings import Settings
from tests.gateway.conftest import emulator_env
from webhook_gateway.app import create_app
from webhook_gateway.intake import NotificationIntake

HEADERS = {
    "X-Goog-Channel-ID": "smvue-channel-1",
    "X-Goog-Resource-ID": "resource-1",
    "X-Goog-Resource-State": "exists",
    "X-Goog-Channel-Token": "the-channel-token",
    "X-Goog-Message-Number": "12",
}


def add_google_watch(services, connection_id: str) -> None:
    """The channel HEADERS notify about, as the gateway stores it (only its token's digest)."""
    with services.store.transaction() as conn:
        conn.execute(
            """INSERT INTO watches (watch_id, connection_id, calendar_id, provider, resource_id, secret_sha256,
                   expires_at, state, created_at, updated_at)
               VALUES ('smvue-channel-1', ?, 'a@x.io', 'google', 'resource-1', ?, '2999-01-01', 'active', 'x', 'x')""",
            (connection_id, secret_digest("the-channel-token")),
        )


def test_a_locked_queue_is_answered_503_and_nothing_is_acknowledged(emulator, tmp_path):
    app = create_app(Settings.from_env(emulator_env(emulator.url, tmp_path)), maintenance_interval=3600)
    services = app.state.services
    services.intake = NotificationIntake(services.settings.opstore_path, busy_timeout_ms=50)
    connection = ConnectionRepository(services.store, services.cipher).connect("m1", "google", "a@x.io", "{}")
    add_google_watch(services, connection.connection_id)
    with TestClient(app) as client:
        blocker = sqlite3.connect(services.settings.opstore_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the intake's patience
        try:
            answer = client.post("/webhooks/google", headers=HEADERS)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert answer.status_code == 503 and answer.json()["error"].startswith("queue:")
        assert services.store.query_one("SELECT count(*) AS n FROM change_queue")["n"] == 0

        # The provider's retry carries the same message number: the failed attempt recorded none.
        retried = client.post("/webhooks/google", headers=HEADERS)
        assert retried.status_code == 202
        rows = services.store.query("SELECT connection_id, calendar_id, reason FROM change_queue")
        assert [tuple(r) for r in rows] == [(connection.connection_id, "a@x.io", "google:exists")]
        # Once committed, the same number again is a replay.
        assert client.post("/webhooks/google", headers=HEADERS).status_code == 409


# The watches table as it shipped before it recorded tenants, owners and message numbers.
OLD_WATCHES = """CREATE TABLE watches (
    watch_id TEXT PRIMARY KEY, connection_id TEXT NOT NULL, calendar_id TEXT NOT NULL,
    provider TEXT NOT NULL, resource_id TEXT, secret_sha256 TEXT NOT NULL, expires_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'stopping', 'stopped')),
    stop_attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"""


def test_an_existing_store_is_migrated_and_its_watches_keep_working(emulator, tmp_path):
    settings = Settings.from_env(emulator_env(emulator.url, tmp_path))
    settings.opstore_path.parent.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(settings.opstore_path)
    old.execute(OLD_WATCHES)
    old.commit()
    old.close()
    app = create_app(settings, maintenance_interval=3600)
    services = app.state.services
    columns = {row["name"] for row in services.store.query("PRAGMA table_info(watches)")}
    assert {"tenant_id", "owner_id", "last_message_number"} <= columns
    connection = ConnectionRepository(services.store, services.cipher).connect("m1", "google", "a@x.io", "{}")
    add_google_watch(services, connection.connection_id)
    with TestClient(app) as client:
        assert client.post("/webhooks/google", headers=HEADERS).status_code == 202
        assert client.post("/webhooks/google", headers=HEADERS).status_code == 409

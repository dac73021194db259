"""One digest for watch secrets (smvue_core/security/watch_secrets.py): the digest stored for a
watch is what the gateway computes from a notification carrying the same secret, for Google's
channel token and Graph's clientState alike. test_forged.py drives the same through real watches
that WatchManager opened on the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from smvue_core.opstore.connections import ConnectionRepository
from smvue_core.opstore.watches import WatchRepository
from smvue_core.security.watch_secrets import secret_digest
from smvue_core.settings import Settings
from tests.gateway.conftest import emulator_env
from webhook_gateway.app import create_app
from webhook_gateway.notifications import parse_google_headers, verify_google

SECRET = "the-watch-secret-\u00e9"  # non-ASCII on purpose: text is digested as UTF-8


def test_the_digest_is_the_sha256_hex_of_the_utf8_secret():
    # Stores already hold digests made this way: changing the function would orphan every watch.
    assert secret_digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert secret_digest(SECRET) == secret_digest(SECRET.encode())


def _stored_row(digest: str, provider: str) -> tuple:
    # The columns smvue_core/opstore/notices.py's lookup gives the intake.
    return ("conn-1", "cal-1", provider, "resource-1", digest, "active", "connected", None, None, None)


def test_a_google_token_header_verifies_against_the_stored_digest():
    headers = [
        (b"x-goog-channel-id", b"channel-1"),
        (b"x-goog-resource-id", b"resource-1"),
        (b"x-goog-resource-state", b"exists"),
        (b"x-goog-message-number", b"7"),
        (b"x-goog-channel-token", SECRET.encode()),
    ]
    notice = parse_google_headers(headers)
    assert notice is not None and notice.token_sha256 == secret_digest(SECRET)
    assert verify_google(notice, _stored_row(secret_digest(SECRET), "google")).accepted
    other = _stored_row(secret_digest(SECRET + "x"), "google")
    assert verify_google(notice, other).reason == "bad_token"


def test_a_graph_client_state_verifies_against_the_stored_digest(emulator, tmp_path):
    app = create_app(Settings.from_env(emulator_env(emulator.url, tmp_path)), maintenance_interval=3600)
    services = app.state.services
    connection = ConnectionRepository(services.store, services.cipher).connect(
        "m1", "microsoft", "a@x.io", "{}"
    )
    now = datetime.now(UTC)
    WatchRepository(services.store).save_active(
        watch_id="sub-1",
        connection_id=connection.connection_id,
        calendar_id="cal-1",
        provider="microsoft",
        resource_id=None,
        secret_sha256=secret_digest(SECRET),  # what WatchManager._insert records
        expires_at=now + timedelta(days=1),
        tenant_id=None,
        owner_id=None,
        now=now,
    )
    item = {"subscriptionId": "sub-1", "changeType": "updated"}
    with TestClient(app) as client:
        genuine = client.post("/webhooks/microsoft", json={"value": [{**item, "clientState": SECRET}]})
        assert genuine.status_code == 202 and genuine.json()["enqueued"] == 1, genuine.text
        forged = client.post("/webhooks/microsoft", json={"value": [{**item, "clientState": SECRET + "x"}]})
        assert forged.status_code == 403, forged.text
    assert services.store.counters().get("webhook_rejected_microsoft_bad_client_state") == 1

"""Disconnect and reconnect (F15): notifications rejected at once, watches stopped, the token revoked
(Google) and deleted, queued changes discarded; reconnect revives the same connection id and opens
new watches. When a watch cannot be stopped yet, the credentials stay until the background worker
has stopped it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from smvue_core.connect import REVOKE_GIVE_UP
from tests.waiting import scaled, wait_until

REVOKE_DOWN = {"kind": "server_error", "status": 503, "retry_after": 0, "path": "/google/oauth2/revoke$"}


def _secret_stored(gateway, connection_id: str) -> bool:
    row = gateway.services.store.query_one(
        "SELECT secret FROM connections WHERE connection_id = ?", (connection_id,)
    )
    return row["secret"] is not None


def _refresh_works(gateway, credentials: str) -> bool:
    import json

    settings = gateway.services.settings
    answer = requests.post(
        f"{gateway.emulator_url}/google/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": json.loads(credentials)["refresh_token"],
            "client_id": settings.google_client_id,
            "client_secret": settings.google_client_secret,
        },
        timeout=scaled(10),
    )
    return answer.status_code == 200


def _stopped_at_provider(gateway, provider: str, watch_id: str) -> bool:
    listed = {w["id"]: w for w in gateway.emulator_watches(provider)}
    return listed[watch_id]["active"] is False


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_disconnect_then_reconnect(gateway, provider):
    connected = gateway.connect(provider)
    cid = connected.connection_id
    (watch,) = gateway.watches(cid)
    secret = gateway.secret_of(watch)
    credentials = gateway.services.connect.connections.credentials(cid)
    gateway.admin.wait_notifications()

    answer = gateway.api.delete(f"{gateway.url}/v1/connections/{cid}")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "connection_id": cid,
        "status": "disconnected",
        "discarded_changes": 1,  # the queued initial import
        "pending_watch_stops": 0,
        "credentials_deleted": True,
        "revocation": "revoked" if provider == "google" else "not_supported",
    }
    assert gateway.queue_rows(cid) == []
    assert not _secret_stored(gateway, cid)
    assert gateway.services.watches.get(watch.watch_id).state == "stopped"
    assert _stopped_at_provider(gateway, provider, watch.watch_id)
    if provider == "google":
        assert not _refresh_works(gateway, credentials)  # revoked at Google

    # Later notifications for it are rejected and counted, even carrying the genuine secret.
    counter = f"webhook_rejected_{provider}_disconnected"
    before = gateway.counters().get(counter, 0)
    if provider == "google":
        late = gateway.google_notify(watch.watch_id, watch.resource_id, secret)
    else:
        late = gateway.graph_notify([{"subscriptionId": watch.watch_id, "clientState": secret}])
    assert late.status_code == 410
    assert gateway.counters()[counter] == before + 1
    assert gateway.queue_rows(cid) == []
    assert gateway.api.post(f"{gateway.url}/v1/connections/{cid}/sync").status_code == 409
    again_delete = gateway.api.delete(f"{gateway.url}/v1/connections/{cid}").json()  # idempotent
    assert again_delete["credentials_deleted"] is True and again_delete["pending_watch_stops"] == 0
    shown = gateway.api.get(f"{gateway.url}/v1/connections/{cid}").json()
    assert shown["status"] == "disconnected" and shown["watches"] == [] and shown["disconnected_at"]

    # Reconnect: same id, new watch, sync resumes ("reconnect": from the stored cursor).
    again = gateway.oauth(provider, connected.manager_id)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["connection_id"] == cid and body["reconnected"] is True and body["queued"] == "reconnect"
    assert body["status"] == "connected"
    (new_watch,) = gateway.watches(cid)
    assert new_watch.watch_id != watch.watch_id
    assert [r["reason"] for r in gateway.queue_rows(cid)] == ["reconnect"]
    queued = gateway.api.post(f"{gateway.url}/v1/connections/{cid}/sync")
    assert queued.status_code == 202 and queued.json()["reason"] == "sync_now"


@pytest.mark.parametrize(
    ("provider", "rule"),
    [
        ("google", {"kind": "server_error", "provider": "google", "path": "channels/stop"}),
        (
            "microsoft",
            {"kind": "server_error", "provider": "microsoft", "method": "DELETE", "path": "subscriptions/"},
        ),
    ],
)
def test_credentials_stay_until_the_worker_has_stopped_the_watches(gateway, clear_faults, provider, rule):
    connected = gateway.connect(provider)
    cid = connected.connection_id
    (watch,) = gateway.watches(cid)
    gateway.admin.wait_notifications()
    clear_faults.faults({"rules": [{**rule, "user": connected.email}]})

    answer = gateway.api.delete(f"{gateway.url}/v1/connections/{cid}").json()
    assert answer["pending_watch_stops"] == 1 and answer["credentials_deleted"] is False
    stopping = gateway.services.watches.get(watch.watch_id)
    assert stopping.state == "stopping" and "stopping failed" in stopping.last_error
    assert _secret_stored(gateway, cid)  # still needed to stop the watch
    assert not _stopped_at_provider(gateway, provider, watch.watch_id)

    gateway.kick_maintenance()  # the provider still fails: nothing changes
    assert gateway.services.watches.get(watch.watch_id).state == "stopping"
    assert _secret_stored(gateway, cid)

    clear_faults.clear_faults()
    gateway.kick_maintenance()
    assert gateway.services.watches.get(watch.watch_id).state == "stopped"
    assert _stopped_at_provider(gateway, provider, watch.watch_id)
    wait_until(lambda: not _secret_stored(gateway, cid), what="the credentials deleted")


def test_disconnect_of_an_unknown_connection_is_404(gateway):
    answer = gateway.api.delete(f"{gateway.url}/v1/connections/conn_nope")
    assert answer.status_code == 404 and answer.json()["error"].startswith("id:")


def test_disconnect_after_the_user_revoked_access_gives_the_watch_up(gateway):
    connected = gateway.connect("google")
    cid = connected.connection_id
    (watch,) = gateway.watches(cid)
    gateway.admin.wait_notifications()
    gateway.admin.revoke(connected.email, "google")  # the user removed SMVue's access at Google

    answer = gateway.api.delete(f"{gateway.url}/v1/connections/{cid}").json()
    # The channel cannot be stopped without a token; it is given up (it expires at Google) and
    # nothing holds the credentials back.
    assert answer["pending_watch_stops"] == 0 and answer["credentials_deleted"] is True
    given_up = gateway.services.watches.get(watch.watch_id)
    assert given_up.state == "stopped" and "not stopped" in given_up.last_error
    assert "expires at" in given_up.last_error


def _revocation(gateway, connection_id: str) -> dict | None:
    return gateway.api.get(f"{gateway.url}/v1/connections/{connection_id}").json()["revocation"]


def test_a_failed_revoke_keeps_the_token_encrypted_and_is_retried_until_it_succeeds(gateway, clear_faults):
    connected = gateway.connect("google")
    cid = connected.connection_id
    credentials = gateway.services.connect.connections.credentials(cid)
    gateway.admin.wait_notifications()
    failures = gateway.counters().get("token_revoke_failures_google", 0)
    clear_faults.faults({"rules": [REVOKE_DOWN]})

    answer = gateway.api.delete(f"{gateway.url}/v1/connections/{cid}").json()
    # Google answered 503: the grant still works, so the disconnect must not claim otherwise.
    assert answer["pending_watch_stops"] == 0
    assert answer["credentials_deleted"] is False and answer["revocation"] == "pending"
    assert _secret_stored(gateway, cid)  # kept (encrypted) for the retry
    assert _refresh_works(gateway, credentials)
    shown = gateway.api.get(f"{gateway.url}/v1/connections/{cid}").json()
    assert shown["revocation"]["state"] == "pending" and shown["revocation"]["attempts_failed"] == 1
    assert "503" in shown["revocation"]["last_error"] and shown["last_error"].startswith(
        "token revoke pending"
    )
    assert gateway.counters()["token_revoke_failures_google"] == failures + 1

    gateway.kick_maintenance()  # Google still fails: retried, counted, nothing deleted
    assert _revocation(gateway, cid)["attempts_failed"] >= 2
    assert gateway.counters()["token_revoke_failures_google"] >= failures + 2
    assert _secret_stored(gateway, cid)

    clear_faults.clear_faults()
    gateway.kick_maintenance()
    wait_until(lambda: not _secret_stored(gateway, cid), what="the credentials deleted once revoked")
    shown = gateway.api.get(f"{gateway.url}/v1/connections/{cid}").json()
    assert shown["revocation"]["state"] == "revoked" and shown["revocation"]["last_error"] is None
    assert shown["last_error"] is None
    assert not _refresh_works(gateway, credentials)  # revoked at Google


def test_a_revoke_that_keeps_failing_is_given_up_visibly(gateway, clear_faults):
    connected = gateway.connect("google")
    cid = connected.connection_id
    gateway.admin.wait_notifications()
    given_up = gateway.counters().get("token_revoke_given_up_google", 0)
    clear_faults.faults({"rules": [REVOKE_DOWN]})
    assert gateway.api.delete(f"{gateway.url}/v1/connections/{cid}").json()["revocation"] == "pending"

    # The worker's pass a day after the disconnect (the clock injected, not slept on).
    later = datetime.now(UTC) + REVOKE_GIVE_UP + timedelta(minutes=1)
    assert gateway.services.connect.finish_disconnects(later) >= 1
    assert not _secret_stored(gateway, cid)  # not kept forever
    shown = gateway.api.get(f"{gateway.url}/v1/connections/{cid}").json()
    assert shown["revocation"]["state"] == "given_up" and shown["revocation"]["attempts_failed"] == 2
    assert "may still be valid" in shown["revocation"]["last_error"]
    assert shown["last_error"].startswith("token revoke given up")
    assert gateway.counters()["token_revoke_given_up_google"] == given_up + 1

"""Graph's validation handshake and lifecycle notifications (F7, providers.md 2.2)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.waiting import scaled, wait_until

TOKEN = "Validation: Testing client application reachability for subscription Request-Id: 3c1a-9f:00"


@pytest.mark.parametrize("path", ["/webhooks/microsoft", "/webhooks/microsoft/lifecycle"])
def test_validation_handshake_echoes_the_decoded_token(gateway, path):
    answer = gateway.http.post(
        f"{gateway.url}{path}?validationToken={quote(TOKEN, safe='')}",
        headers={"Content-Type": "text/plain; charset=utf-8"},
        timeout=scaled(10),
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == TOKEN


def _sub(gateway, watch_id: str) -> dict:
    return next(w for w in gateway.emulator_watches("microsoft") if w["id"] == watch_id)


def _reasons(gateway, connection_id: str) -> list[str]:
    return [r["reason"] for r in gateway.queue_rows(connection_id)]


def test_reauthorization_required_reauthorizes_in_the_background(gateway):
    connected = gateway.connect("microsoft")
    (watch,) = gateway.watches(connected.connection_id)
    gateway.admin.call(
        "POST",
        f"subscriptions/{watch.watch_id}/lifecycle",
        json={"lifecycleEvent": "reauthorizationRequired"},
    )
    assert _sub(gateway, watch.watch_id)["paused"] is True
    wait_until(lambda: not _sub(gateway, watch.watch_id)["paused"], what="the subscription reauthorized")
    # Changes made while Graph held delivery are caught by a resync.
    wait_until(lambda: "microsoft:reauthorized" in _reasons(gateway, connected.connection_id))
    assert [w.watch_id for w in gateway.watches(connected.connection_id)] == [watch.watch_id]


def test_subscription_removed_recreates_it_and_queues_a_resync(gateway):
    connected = gateway.connect("microsoft")
    (watch,) = gateway.watches(connected.connection_id)
    gateway.admin.call(
        "POST", f"subscriptions/{watch.watch_id}/lifecycle", json={"lifecycleEvent": "subscriptionRemoved"}
    )
    wait_until(lambda: "microsoft:subscriptionRemoved" in _reasons(gateway, connected.connection_id))
    replacement = wait_until(
        lambda: [w for w in gateway.watches(connected.connection_id) if w.watch_id != watch.watch_id],
        what="a new subscription",
    )
    (new,) = replacement
    assert new.calendar_id == watch.calendar_id
    assert gateway.services.watches.get(watch.watch_id).state == "stopped"
    assert _sub(gateway, new.watch_id)["active"] is True
    assert _sub(gateway, watch.watch_id)["active"] is False


def test_missed_queues_a_resync_and_keeps_the_subscription(gateway):
    connected = gateway.connect("microsoft")
    (watch,) = gateway.watches(connected.connection_id)
    gateway.admin.call("POST", f"subscriptions/{watch.watch_id}/lifecycle", json={"lifecycleEvent": "missed"})
    rows = wait_until(
        lambda: [r for r in gateway.queue_rows(connected.connection_id) if r["reason"] == "microsoft:missed"]
    )
    assert rows[0]["calendar_id"] == watch.calendar_id
    assert gateway.services.workers.wait_idle()
    assert [w.watch_id for w in gateway.watches(connected.connection_id)] == [watch.watch_id]

"""Connect through /oauth on a real gateway; the watches appear in the emulator; a change made by
the user reaches the change queue through a verified push notification (F1, F2, F7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.waiting import wait_until


def _change_as_user(gateway, connected) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    end = start + timedelta(minutes=30)
    actor = gateway.actor(connected)
    if connected.provider == "google":
        actor.insert(
            {
                "summary": "1:1",
                "start": {"dateTime": start.isoformat().replace("+00:00", "Z")},
                "end": {"dateTime": end.isoformat().replace("+00:00", "Z")},
            }
        )
    else:
        actor.create(
            {
                "subject": "1:1",
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            }
        )


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_oauth_connect_creates_a_watch_and_a_real_change_is_queued(gateway, provider):
    connected = gateway.connect(provider)
    body = connected.callback
    assert body["status"] == "connected" and body["reconnected"] is False and body["queued"] == "connect"
    assert [c["is_selected"] for c in body["calendars"] if c["is_primary"]] == [True]
    assert [w["action"] for w in body["watches"]] == ["created"], body["watches"]

    (watch,) = gateway.watches(connected.connection_id)
    listed = {w["id"]: w for w in gateway.emulator_watches(provider)}
    assert listed[watch.watch_id]["active"] is True
    if provider == "google":
        assert listed[watch.watch_id]["address"] == f"{gateway.url}/webhooks/google"
        assert watch.resource_id == listed[watch.watch_id]["resource_id"]
        expires = datetime.fromisoformat(watch.expires_at)
        assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    else:
        sub = listed[watch.watch_id]
        assert sub["notificationUrl"] == f"{gateway.url}/webhooks/microsoft"
        assert sub["lifecycleNotificationUrl"] == f"{gateway.url}/webhooks/microsoft/lifecycle"
        # The secret went to Graph; only its digest is here.
        stored = gateway.services.store.query_one(
            "SELECT secret_sha256 FROM watches WHERE watch_id = ?", (watch.watch_id,)
        )["secret_sha256"]
        assert sub["clientState"] != stored and gateway.secret_of(watch) == sub["clientState"]
        expires = datetime.fromisoformat(watch.expires_at)
        assert timedelta(minutes=4190) < expires - datetime.now(UTC) <= timedelta(minutes=4230)

    assert [r["reason"] for r in gateway.queue_rows(connected.connection_id)] == ["connect"]
    _change_as_user(gateway, connected)
    rows = wait_until(
        lambda: [r for r in gateway.queue_rows(connected.connection_id) if r["reason"] != "connect"],
        what="the notification's queue row",
    )
    expected = "google:exists" if provider == "google" else "microsoft:created"
    assert {r["reason"] for r in rows} == {expected}
    assert {r["calendar_id"] for r in rows} == {watch.calendar_id}

    listing = gateway.api.get(f"{gateway.url}/v1/connections/{connected.connection_id}").json()
    assert listing["status"] == "connected"
    assert [w["watch_id"] for w in listing["watches"]] == [watch.watch_id]


def test_google_sync_message_is_acknowledged_without_a_queue_row(gateway):
    connected = gateway.connect("google")
    (watch,) = gateway.watches(connected.connection_id)
    before = gateway.queue_rows(connected.connection_id)
    answer = gateway.google_notify(watch.watch_id, watch.resource_id, gateway.secret_of(watch), state="sync")
    assert answer.status_code == 202 and answer.json() == {"status": "accepted", "enqueued": 0, "rejected": 0}
    assert gateway.queue_rows(connected.connection_id) == before


def test_graph_batch_of_several_items_is_queued_together(gateway):
    first, second = gateway.connect("microsoft"), gateway.connect("microsoft")
    items = []
    for connected in (first, second):
        (watch,) = gateway.watches(connected.connection_id)
        items.append(
            {
                "subscriptionId": watch.watch_id,
                "clientState": gateway.secret_of(watch),
                "changeType": "updated",
            }
        )
    forged = {"subscriptionId": items[0]["subscriptionId"], "clientState": "guess", "changeType": "deleted"}
    answer = gateway.graph_notify([*items, forged])
    assert answer.status_code == 202
    assert answer.json() == {"status": "accepted", "enqueued": 2, "rejected": 1}
    ids = [
        r["queue_id"]
        for c in (first, second)
        for r in gateway.queue_rows(c.connection_id)
        if r["reason"] == "microsoft:updated"
    ]
    assert len(ids) == 2 and abs(ids[0] - ids[1]) == 1  # one transaction, adjacent ids
    assert not any(r["reason"] == "microsoft:deleted" for r in gateway.queue_rows(first.connection_id))

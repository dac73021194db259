"""Forged, unknown and malformed notifications: rejected with 4xx, nothing queued, one counter
bumped per reason (F7; the reliability row "forged notifications: zero accepted, zero enqueued")."""

from __future__ import annotations

import pytest

from tests.waiting import scaled, wait_until


@pytest.fixture(scope="module")
def google_conn(gateway):
    connected = gateway.connect("google")
    (watch,) = gateway.watches(connected.connection_id)
    gateway.admin.wait_notifications()
    return connected, watch


@pytest.fixture(scope="module")
def graph_conn(gateway):
    connected = gateway.connect("microsoft")
    (watch,) = gateway.watches(connected.connection_id)
    return connected, watch


def _queue_total(gateway) -> int:
    return gateway.services.store.query_one("SELECT count(*) AS n FROM change_queue")["n"]


def _rejected(gateway, send, counter: str, status: int) -> None:
    before_rows, before = _queue_total(gateway), gateway.counters().get(counter, 0)
    answer = send()
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"}
    assert _queue_total(gateway) == before_rows
    assert gateway.counters().get(counter, 0) == before + 1


def test_google_forgeries_are_rejected_and_counted(gateway, google_conn):
    _, watch = google_conn
    token = gateway.secret_of(watch)
    cases = [
        (lambda: gateway.google_notify(watch.watch_id, watch.resource_id, "wrong-token"), "bad_token", 403),
        (lambda: gateway.google_notify(watch.watch_id, watch.resource_id, None), "missing_token", 401),
        (lambda: gateway.google_notify("smvue-unknown", watch.resource_id, token), "unknown_channel", 404),
        (lambda: gateway.google_notify(watch.watch_id, "other-resource", token), "resource_mismatch", 404),
        (
            lambda: gateway.google_notify(watch.watch_id, watch.resource_id, token, state="bogus"),
            "malformed",
            400,
        ),
        (lambda: gateway.http.post(f"{gateway.url}/webhooks/google", timeout=scaled(10)), "malformed", 400),
    ]
    for send, reason, status in cases:
        _rejected(gateway, send, f"webhook_rejected_google_{reason}", status)
    # A Graph subscription's id and secret are no Google channel.
    _rejected(
        gateway,
        lambda: gateway.google_notify("x" * 300, watch.resource_id, token),
        "webhook_rejected_google_malformed",
        400,
    )


def test_genuine_google_notification_is_queued(gateway, google_conn):
    connected, watch = google_conn
    before = len(gateway.queue_rows(connected.connection_id))
    answer = gateway.google_notify(watch.watch_id, watch.resource_id, gateway.secret_of(watch), "not_exists")
    assert answer.status_code == 202 and answer.json()["enqueued"] == 1
    rows = gateway.queue_rows(connected.connection_id)
    assert len(rows) == before + 1 and rows[-1]["reason"] == "google:not_exists"


def test_graph_forgeries_are_rejected_and_counted(gateway, graph_conn, google_conn):
    _, watch = graph_conn
    _, google_watch = google_conn
    secret = gateway.secret_of(watch)
    item = {"subscriptionId": watch.watch_id, "changeType": "updated"}
    cases = [
        (lambda: gateway.graph_notify([{**item, "clientState": "wrong"}]), "bad_client_state", 403),
        (lambda: gateway.graph_notify([item]), "missing_client_state", 401),
        (
            lambda: gateway.graph_notify([{**item, "subscriptionId": "nope", "clientState": secret}]),
            "unknown_subscription",
            404,
        ),
        # A Google channel's id and token do not make a Graph subscription.
        (
            lambda: gateway.graph_notify(
                [
                    {
                        **item,
                        "subscriptionId": google_watch.watch_id,
                        "clientState": gateway.secret_of(google_watch),
                    }
                ]
            ),
            "unknown_subscription",
            404,
        ),
        (lambda: gateway.graph_notify([]), "malformed", 400),
        (lambda: gateway.graph_notify([{"clientState": secret}]), "malformed", 400),
        (
            lambda: gateway.http.post(
                f"{gateway.url}/webhooks/microsoft",
                data=b"{not json",
                headers={"Content-Type": "application/json"},
                timeout=scaled(10),
            ),
            "malformed",
            400,
        ),
        (
            lambda: gateway.http.post(
                f"{gateway.url}/webhooks/microsoft", json={"value": "x"}, timeout=scaled(10)
            ),
            "malformed",
            400,
        ),
        (
            lambda: gateway.http.post(
                f"{gateway.url}/webhooks/microsoft", data=b"x" * 1_000_001, timeout=scaled(10)
            ),
            "malformed",
            413,
        ),
    ]
    for send, reason, status in cases:
        _rejected(gateway, send, f"webhook_rejected_microsoft_{reason}", status)
    _rejected(
        gateway,
        lambda: gateway.graph_notify(
            [{"subscriptionId": watch.watch_id, "clientState": "x", "lifecycleEvent": "missed"}],
            lifecycle=True,
        ),
        "webhook_rejected_microsoft_lifecycle_bad_client_state",
        403,
    )


def test_malformed_answers_name_the_field(gateway):
    answer = gateway.graph_notify([{"clientState": "x"}])
    assert answer.json() == {"error": "value.0.subscriptionId: Field required"}
    answer = gateway.http.post(f"{gateway.url}/webhooks/google", timeout=scaled(10))
    assert answer.json()["error"].startswith("x-goog-channel-id:")


def test_stopped_channel_is_rejected_even_with_its_genuine_token(gateway):
    connected = gateway.connect("google")
    (watch,) = gateway.watches(connected.connection_id)
    token = gateway.secret_of(watch)
    gateway.admin.wait_notifications()  # the channel's own `sync` message is not part of this
    gateway.services.watches._set_state([watch.watch_id], "stopped")  # as after an overlap ended
    _rejected(
        gateway,
        lambda: gateway.google_notify(watch.watch_id, watch.resource_id, token),
        "webhook_rejected_google_inactive_channel",
        410,
    )


def test_rejections_never_log_a_secret(gateway, google_conn, caplog):
    _, watch = google_conn
    with caplog.at_level("INFO"):
        gateway.google_notify(watch.watch_id, watch.resource_id, "leaky-guess-123")
        wait_until(lambda: "rejected google" in caplog.text, what="the rejection's log line")
    assert "leaky-guess-123" not in caplog.text
    assert gateway.secret_of(watch) not in caplog.text

"""Forged, unknown, replayed and malformed notifications: rejected with 4xx, nothing queued, one
counter bumped per reason (F7; the reliability row "forged notifications: zero accepted, zero
enqueued"). Whatever a forger gets wrong, the answer is the same (no oracle); the ids they chose
are logged escaped, and a flood of rejections is logged at a bounded rate."""

from __future__ import annotations

import logging

import pytest

from tests.waiting import scaled, wait_until
from webhook_gateway.rejection_log import RejectionLog, printable

GOOGLE_UNVERIFIED = {
    "error": "x-goog-channel-token: no channel matches this channel id, resource id and token"
}
GRAPH_UNVERIFIED = {
    "error": "clientState: no subscription matches this subscriptionId, tenantId, resource and clientState"
}


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


@pytest.fixture
def rejection_log(gateway, monkeypatch) -> RejectionLog:
    """A fresh budget of rejection log lines: earlier tests in the session may have spent it."""
    fresh = RejectionLog(logging.getLogger("webhook_gateway.intake"))
    monkeypatch.setattr(gateway.services.intake, "rejections", fresh)
    return fresh


def _queue_total(gateway) -> int:
    return gateway.services.store.query_one("SELECT count(*) AS n FROM change_queue")["n"]


def _rejected(gateway, send, counter: str, status: int, body: dict | None = None) -> None:
    before_rows, before = _queue_total(gateway), gateway.counters().get(counter, 0)
    answer = send()
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"}
    if body is not None:
        assert answer.json() == body
    assert _queue_total(gateway) == before_rows
    assert gateway.counters().get(counter, 0) == before + 1


def test_google_forgeries_are_rejected_and_counted(gateway, google_conn):
    _, watch = google_conn
    token = gateway.secret_of(watch)
    # One answer, whatever is wrong: a prober cannot tell a live channel id from an unknown one.
    unverified = [
        (lambda: gateway.google_notify(watch.watch_id, watch.resource_id, "wrong-token"), "bad_token"),
        (lambda: gateway.google_notify(watch.watch_id, watch.resource_id, None), "missing_token"),
        (lambda: gateway.google_notify("smvue-unknown", watch.resource_id, token), "unknown_channel"),
        (lambda: gateway.google_notify(watch.watch_id, "other-resource", token), "resource_mismatch"),
    ]
    for send, reason in unverified:
        _rejected(gateway, send, f"webhook_rejected_google_{reason}", 403, GOOGLE_UNVERIFIED)
    cases = [
        (
            lambda: gateway.google_notify(watch.watch_id, watch.resource_id, token, state="bogus"),
            "malformed",
            400,
        ),
        (lambda: gateway.http.post(f"{gateway.url}/webhooks/google", timeout=scaled(10)), "malformed", 400),
        # Google always numbers its messages; without a number a replay could not be told apart.
        (lambda: _google_without_number(gateway, watch, token), "malformed", 400),
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
    genuine = {**item, "clientState": secret}
    other_user = "Users/00000000-0000-0000-0000-000000000001/Events/AAMkAD-evt"
    unverified = [
        (lambda: gateway.graph_notify([{**item, "clientState": "wrong"}]), "bad_client_state"),
        (lambda: gateway.graph_notify([item]), "missing_client_state"),
        (
            lambda: gateway.graph_notify([{**item, "subscriptionId": "nope", "clientState": secret}]),
            "unknown_subscription",
        ),
        # The genuine clientState, but another tenant or another user's event.
        (lambda: gateway.graph_notify([{**genuine, "tenantId": "other-tenant"}]), "tenant_mismatch"),
        (lambda: gateway.graph_notify([genuine], as_graph=False), "tenant_mismatch"),
        (lambda: gateway.graph_notify([{**genuine, "resource": other_user}]), "resource_mismatch"),
        (lambda: gateway.graph_notify([{**genuine, "resource": "me/events"}]), "resource_mismatch"),
    ]
    for send, reason in unverified:
        _rejected(gateway, send, f"webhook_rejected_microsoft_{reason}", 403, GRAPH_UNVERIFIED)
    cases = [
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
            403,
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
        GRAPH_UNVERIFIED,
    )
    _rejected(
        gateway,
        lambda: gateway.graph_notify(
            [{**genuine, "lifecycleEvent": "missed", "tenantId": "other-tenant"}], lifecycle=True
        ),
        "webhook_rejected_microsoft_lifecycle_tenant_mismatch",
        403,
        GRAPH_UNVERIFIED,
    )


def test_graph_watch_records_its_tenant_and_owner(gateway, graph_conn):
    """What the tenantId / resource checks compare with; were they NULL, nothing would be checked."""
    _, watch = graph_conn
    row = gateway.services.store.query_one(
        "SELECT tenant_id, owner_id FROM watches WHERE watch_id = ?", (watch.watch_id,)
    )
    assert row["tenant_id"] and row["owner_id"]
    answer = gateway.graph_notify(
        [{"subscriptionId": watch.watch_id, "clientState": gateway.secret_of(watch)}]
    )
    assert answer.status_code == 202 and answer.json()["enqueued"] == 1


def _google_without_number(gateway, watch, token):
    headers = {
        "X-Goog-Channel-ID": watch.watch_id,
        "X-Goog-Resource-ID": watch.resource_id,
        "X-Goog-Resource-State": "exists",
        "X-Goog-Channel-Token": token,
    }
    return gateway.http.post(f"{gateway.url}/webhooks/google", headers=headers, timeout=scaled(10))


def test_replayed_google_message_number_is_rejected(gateway):
    connected = gateway.connect("google")
    (watch,) = gateway.watches(connected.connection_id)
    token = gateway.secret_of(watch)
    gateway.admin.wait_notifications()  # the channel's own `sync` message (number 1) has arrived
    number = gateway.next_message_number(watch.watch_id)
    first = gateway.google_notify(watch.watch_id, watch.resource_id, token, number=number)
    assert first.status_code == 202 and first.json()["enqueued"] == 1
    replayed = {"error": "x-goog-message-number: not newer than the last message of this channel"}
    for stale in (number, number - 1, 1):  # the same message again, an older one, the sync number
        _rejected(
            gateway,
            lambda n=stale: gateway.google_notify(watch.watch_id, watch.resource_id, token, number=n),
            "webhook_rejected_google_replayed",
            409,
            replayed,
        )
    newer = gateway.google_notify(watch.watch_id, watch.resource_id, token, number=number + 3)
    assert newer.status_code == 202 and newer.json()["enqueued"] == 1
    # Recorded in the store with the queue row, so a restarted gateway refuses the replay too.
    row = gateway.services.store.query_one(
        "SELECT last_message_number FROM watches WHERE watch_id = ?", (watch.watch_id,)
    )
    assert row["last_message_number"] == number + 3
    assert len(gateway.queue_rows(connected.connection_id)) >= 2


def test_a_forged_id_is_logged_escaped_on_one_line(gateway, caplog, rejection_log):
    forged_id = "sub-1\nINFO webhook_gateway: accepted everything \x1b[31m" + "x" * 200
    with caplog.at_level("INFO"):
        answer = gateway.graph_notify([{"subscriptionId": forged_id, "clientState": "guess"}])
        assert answer.status_code == 403
        wait_until(lambda: "rejected microsoft" in caplog.text, what="the rejection's log line")
    (line,) = [r.getMessage() for r in caplog.records if "rejected microsoft" in r.getMessage()]
    assert "\n" not in line and "\x1b" not in line  # the raw characters never reach the log
    assert "'sub-1\\nINFO webhook_gateway" in line and line.endswith(": unknown_subscription")
    assert len(line) < 200  # the id is cut


def test_printable_escapes_and_cuts():
    assert printable("a\r\nb\x00\u2028") == "'a\\r\\nb\\x00\\u2028'"
    assert printable("x" * 100, limit=5) == "'xxxxx'…"
    assert printable(None) == "?"


def test_a_flood_of_rejections_is_logged_at_a_bounded_rate(gateway, caplog, monkeypatch):
    now = [0.0]
    limited = RejectionLog(
        logging.getLogger("webhook_gateway.intake"), limit=5, interval=60, clock=lambda: now[0]
    )
    monkeypatch.setattr(gateway.services.intake, "rejections", limited)
    with caplog.at_level("INFO"):
        for i in range(12):
            gateway.google_notify(f"smvue-flood-{i}", "resource", "guess", number=2)
        gateway.graph_notify([{"clientState": "x"}])  # malformed: the same budget
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected ")]
        assert len(lines) == 5
        now[0] = 61.0
        limited.flush()  # as the gateway's rejection_log worker does
    summaries = [r.getMessage() for r in caplog.records if "not logged one by one" in r.getMessage()]
    assert len(summaries) == 1 and summaries[0].startswith("8 more rejected notifications in the last 61 s")


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


def test_rejections_never_log_a_secret(gateway, google_conn, caplog, rejection_log):
    _, watch = google_conn
    with caplog.at_level("INFO"):
        gateway.google_notify(watch.watch_id, watch.resource_id, "leaky-guess-123")
        wait_until(lambda: "rejected google" in caplog.text, what="the rejection's log line")
    assert "leaky-guess-123" not in caplog.text
    assert gateway.secret_of(watch) not in caplog.text

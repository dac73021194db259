"""Graph's slow-endpoint throttling: once an endpoint has had enough notifications, a slow share
of 10% delays its deliveries and 15% drops them. A dedicated emulator with a small notification
count, and the slow threshold moved through the admin API (0 ms: every answer is slow), stands in
for 100 real answers of 2.9 s."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from calendar_emulator.endpoint_health import EndpointHealth, SlowEndpointPolicy
from calendar_emulator.server import EmulatorServer
from calendar_emulator.state import EmulatorConfig
from tests.conftest import EmulatorAdmin
from tests.emulator.microsoft_support import event, new_user
from tests.receiver import NotificationReceiver
from tests.waiting import wait_until

MIN_NOTIFICATIONS = 4


@pytest.fixture
def small_emulator():
    config = EmulatorConfig(graph_slow_min_notifications=MIN_NOTIFICATIONS, notification_batch_window=0.01)
    with EmulatorServer(config=config) as server:
        yield server, EmulatorAdmin(server.url)


def _health(admin, **changes) -> dict:
    return admin._call("POST" if changes else "GET", "graph/endpoint_health", json=changes or None)


def _subscribe(graph, admin, rx) -> str:
    body = {
        "changeType": "created",
        "notificationUrl": f"{rx.url}/notify",
        "resource": "me/events",
        "expirationDateTime": (datetime.fromisoformat(admin.clock()["now"]) + timedelta(hours=1)).isoformat(),
        "clientState": "s",
    }
    response = graph.post("subscriptions", json=body)
    assert response.status_code == 201, response.text
    return body["notificationUrl"]


def _create_and_settle(graph, admin, n: int, start_day: int = 1) -> None:
    """n events, each notification delivered (or decided on) before the next: one POST each."""
    for day in range(start_day, start_day + n):
        graph.create(event(f"e{day}", f"2030-01-{day:02d}T09:00:00", f"2030-01-{day:02d}T10:00:00"))
        assert admin.wait_notifications()["idle"]


def _delivered(rx) -> int:
    return sum(len(json.loads(r.body)["value"]) for r in rx.received if r.path == "/notify" and r.body)


def test_defaults_follow_providers_md():
    policy = EmulatorConfig()
    assert (policy.graph_slow_ms, policy.graph_slow_min_notifications) == (2900, 100)
    assert (policy.graph_slow_delay_share, policy.graph_slow_drop_share) == (0.10, 0.15)
    assert policy.graph_slow_delay_seconds == 600


def test_verdicts_with_the_default_policy():
    health = EndpointHealth()  # 2,900 ms, 100 notifications, 10% delays, 15% drops
    url = "http://127.0.0.1:1/notify"
    for _ in range(12):
        health.record(url, 2.95)  # slow, but too few notifications to judge
    assert health.verdict(url) == "ok"
    for _ in range(88):
        health.record(url, 2.85)  # under the threshold
    assert health.snapshot()["endpoints"][url] == {"notifications": 100, "slow": 12, "state": "delayed"}
    for _ in range(6):
        health.record(url, 3.0)
    assert health.verdict(url) == "dropped"  # 18/106 is over 15%


def test_shares_between_thresholds():
    health = EndpointHealth(SlowEndpointPolicy(min_notifications=10))
    url = "http://127.0.0.1:1/notify"
    for elapsed in [3.0] * 1 + [0.1] * 9:
        health.record(url, elapsed)
    assert health.verdict(url) == "delayed"  # 10% slow
    for _ in range(2):
        health.record(url, None)  # timed out: slow
    assert health.verdict(url) == "dropped"  # 3/12 = 25%
    health.configure(slow_ms=10_000, reset=True)
    health.record(url, 3.0)
    assert health.verdict(url) == "ok"


def test_a_slow_endpoint_loses_its_notifications(small_emulator):
    emulator, admin = small_emulator
    _, graph = new_user(admin, emulator)
    with NotificationReceiver() as rx:
        url = _subscribe(graph, admin, rx)
        _health(admin, slow_ms=0)  # from now on every answer counts as slow
        _create_and_settle(graph, admin, MIN_NOTIFICATIONS)
        assert _delivered(rx) == MIN_NOTIFICATIONS  # judged only after enough notifications
        assert _health(admin)["endpoints"][url] == {
            "notifications": MIN_NOTIFICATIONS,
            "slow": MIN_NOTIFICATIONS,
            "state": "dropped",
        }
        _create_and_settle(graph, admin, 3, start_day=10)
        assert _delivered(rx) == MIN_NOTIFICATIONS
        assert admin.stats()["notifications"]["dropped_slow_endpoint"] == 3


def test_a_partly_slow_endpoint_gets_its_notifications_late(small_emulator):
    emulator, admin = small_emulator
    _, graph = new_user(admin, emulator)
    _health(admin, delay_share=0.25, drop_share=0.75, delay_seconds=600)
    with NotificationReceiver() as rx:
        url = _subscribe(graph, admin, rx)
        _health(admin, slow_ms=0)
        _create_and_settle(graph, admin, 1)  # 1 slow ...
        _health(admin, slow_ms=2900)
        _create_and_settle(graph, admin, MIN_NOTIFICATIONS - 1, start_day=5)  # ... of 4: 25%
        assert _health(admin)["endpoints"][url]["state"] == "delayed"
        graph.create(event("late", "2030-01-20T09:00:00", "2030-01-20T10:00:00"))
        wait_until(lambda: admin.stats()["notifications"].get("delayed_slow_endpoint") == 1, what="the delay")
        # Held back for ten minutes: still pending, not received.
        assert admin.stats()["notifications_pending"] == 1
        assert _delivered(rx) == MIN_NOTIFICATIONS


def test_admin_api_refuses_bad_thresholds(small_emulator):
    _, admin = small_emulator
    response = admin.http.post(f"{admin.base_url}/_admin/graph/endpoint_health", json={"drop_share": 2})
    assert response.status_code == 400 and "drop_share" in response.json()["error"]

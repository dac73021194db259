"""What the gateway would lose to Graph's slow-endpoint throttling (providers.md: after enough
notifications, 15% of answers over 2,900 ms drop the endpoint's notifications): nothing, because
it answers fast. For contrast, the emulator is then told to count every answer as slow, and the
changes made after that never reach the queue. The emulator judges after a few notifications
here instead of 100; its slow threshold stays Graph's own until the contrast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.waiting import wait_until

JUDGED_AFTER = 5


def _health(gateway, **changes) -> dict:
    return gateway.admin.call("POST", "graph/endpoint_health", json=changes)


def _change(gateway, connected, n: int) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2, hours=n)
    created = gateway.actor(connected).create(
        {
            "subject": f"1:1 #{n}",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {
                "dateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
        }
    )
    assert gateway.admin.wait_notifications()["idle"]  # delivered (or dropped) before the next
    return created["id"]


def _queued(gateway, connected) -> int:
    return len([r for r in gateway.queue_rows(connected.connection_id) if r["reason"] == "microsoft:created"])


def test_a_fast_gateway_loses_no_notification_and_a_slow_one_would(gateway):
    connected = gateway.connect("microsoft")
    endpoint = f"{gateway.url}/webhooks/microsoft"
    before = gateway.admin.stats()["notifications"].get("dropped_slow_endpoint", 0)
    policy = gateway.admin.call("GET", "graph/endpoint_health")["policy"]
    _health(gateway, min_notifications=JUDGED_AFTER, reset=True)
    try:
        for n in range(JUDGED_AFTER + 3):
            _change(gateway, connected, n)
        wait_until(lambda: _queued(gateway, connected) == JUDGED_AFTER + 3, what="a queue row per change")
        health = _health(gateway)["endpoints"][endpoint]
        assert health["slow"] == 0 and health["state"] == "ok"
        assert health["notifications"] >= JUDGED_AFTER + 3
        assert gateway.admin.stats()["notifications"].get("dropped_slow_endpoint", 0) == before

        # The contrast: were every answer slow, Graph would stop delivering once it had judged.
        _health(gateway, slow_ms=0, reset=True)
        for n in range(10, 10 + JUDGED_AFTER + 3):
            _change(gateway, connected, n)
        assert _health(gateway)["endpoints"][endpoint]["state"] == "dropped"
        lost = gateway.admin.stats()["notifications"]["dropped_slow_endpoint"] - before
        assert lost == 3
        expected = 2 * (JUDGED_AFTER + 3) - lost
        wait_until(lambda: _queued(gateway, connected) >= expected, what="the delivered changes' rows")
        assert _queued(gateway, connected) == expected
    finally:
        _health(gateway, **policy, reset=True)  # the session emulator back to Graph's thresholds

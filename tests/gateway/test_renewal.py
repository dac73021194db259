"""Renewal (F7): Google opens a new channel, keeps both through the overlap, then stops the old one;
Graph PATCHes its subscription, or recreates it when Graph no longer knows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smvue_core.watches import GOOGLE_OVERLAP


def _emulator(gateway, provider: str) -> dict[str, dict]:
    return {w["id"]: w for w in gateway.emulator_watches(provider)}


def test_renewal_leaves_exactly_one_active_watch_per_calendar_after_the_overlap(gateway):
    google, graph = gateway.connect("google"), gateway.connect("microsoft")
    (old_channel,) = gateway.watches(google.connection_id)
    (subscription,) = gateway.watches(graph.connection_id)
    manager = gateway.services.watches
    now = datetime.now(UTC)

    outcomes = manager.renew_due(now, within=timedelta(days=8))
    mine = {
        o.connection_id: o for o in outcomes if o.connection_id in (google.connection_id, graph.connection_id)
    }
    assert mine[google.connection_id].action == "replaced"
    assert (
        mine[graph.connection_id].action == "renewed"
        and mine[graph.connection_id].watch_id == subscription.watch_id
    )

    # The overlap: both Google channels deliver until it has passed.
    channels = gateway.watches(google.connection_id)
    assert len(channels) == 2
    listed = _emulator(gateway, "google")
    assert all(listed[c.watch_id]["active"] for c in channels)
    new_channel = next(c for c in channels if c.watch_id != old_channel.watch_id)
    # Not yet: the overlap has not passed.
    manager.renew_due(now + GOOGLE_OVERLAP / 2, within=timedelta(hours=1))
    assert len(gateway.watches(google.connection_id)) == 2

    manager.renew_due(now + GOOGLE_OVERLAP + timedelta(seconds=1), within=timedelta(hours=1))
    assert [c.watch_id for c in gateway.watches(google.connection_id)] == [new_channel.watch_id]
    assert manager.get(old_channel.watch_id).state == "stopped"
    listed = _emulator(gateway, "google")
    assert listed[old_channel.watch_id]["stopped"] is True
    assert listed[new_channel.watch_id]["active"] is True
    assert [s.watch_id for s in gateway.watches(graph.connection_id)] == [subscription.watch_id]
    assert _emulator(gateway, "microsoft")[subscription.watch_id]["active"] is True


def test_a_subscription_graph_lost_is_recreated_on_renewal(gateway):
    graph = gateway.connect("microsoft")
    (lost,) = gateway.watches(graph.connection_id)
    gateway.actor(graph)._call("DELETE", f"subscriptions/{lost.watch_id}")  # gone at Graph
    outcomes = gateway.services.watches.renew_due(datetime.now(UTC), within=timedelta(days=4))
    (mine,) = [o for o in outcomes if o.connection_id == graph.connection_id]
    assert mine.action == "replaced" and mine.watch_id != lost.watch_id
    assert [w.watch_id for w in gateway.watches(graph.connection_id)] == [mine.watch_id]
    assert gateway.services.watches.get(lost.watch_id).state == "stopped"
    assert _emulator(gateway, "microsoft")[mine.watch_id]["active"] is True


def test_provider_failure_is_recorded_not_raised(gateway, clear_faults):
    google = gateway.connect("google")
    (channel,) = gateway.watches(google.connection_id)
    clear_faults.faults(
        {"rules": [{"kind": "server_error", "provider": "google", "path": "/watch$", "user": google.email}]}
    )
    outcomes = gateway.services.watches.renew_due(datetime.now(UTC), within=timedelta(days=8))
    (mine,) = [o for o in outcomes if o.connection_id == google.connection_id]
    assert mine.action == "failed" and "renewing the watch" in mine.error
    assert gateway.services.watches.get(channel.watch_id).last_error == mine.error
    connection = gateway.api.get(f"{gateway.url}/v1/connections/{google.connection_id}").json()
    assert connection["status"] == "connected" and "renewing the watch" in connection["last_error"]

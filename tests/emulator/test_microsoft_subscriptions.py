"""Graph subscriptions: validation handshake, change notifications, renewal, deletion, expiry and
lifecycle events, delivered for real to a local NotificationReceiver."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from calendar_emulator.server import EmulatorServer
from calendar_emulator.state import EmulatorConfig
from tests.conftest import EmulatorAdmin
from tests.emulator.microsoft_support import Graph, event, graph_error, new_user
from tests.receiver import NotificationReceiver, Received


def _expires(admin, minutes: float = 60) -> str:
    now = datetime.fromisoformat(admin.clock()["now"])
    return (now + timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _subscribe(graph: Graph, admin, rx: NotificationReceiver, **overrides) -> dict:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{rx.url}/notify?tenant=acme",
        "lifecycleNotificationUrl": f"{rx.url}/lifecycle",
        "resource": "me/events",
        "expirationDateTime": _expires(admin),
        "clientState": "secret-client-state",
        **overrides,
    }
    response = graph.post("subscriptions", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 201, response.text
    return response.json()


def _notifications(received: list[Received], path: str = "/notify") -> list[dict]:
    return [item for r in received if r.path == path and r.body for item in json.loads(r.body)["value"]]


def _posts(received: list[Received], path: str) -> list[dict]:
    return [json.loads(r.body) for r in received if r.path == path and r.body]


def test_handshake_then_batched_notifications_with_client_state(emulator, admin):
    user, graph = new_user(admin, emulator)
    with NotificationReceiver() as rx:
        sub = _subscribe(graph, admin, rx)
        handshakes = [r for r in rx.received if "validationToken" in r.query]
        assert {r.path for r in handshakes} == {"/notify", "/lifecycle"}
        assert all(" " in r.query["validationToken"][0] for r in handshakes)  # decoded, spaces and all
        assert handshakes[0].query["tenant"] == ["acme"]  # the notificationUrl's own query is kept
        assert sub["changeType"] == "created,updated,deleted" and sub["clientState"] == "secret-client-state"
        assert sub["resource"] == "me/events" and sub["expirationDateTime"].endswith("Z")
        assert sub["lifecycleNotificationUrl"] == f"{rx.url}/lifecycle"
        assert sub["creatorId"] == user["user_id"]  # whose events its notifications name (below)

        ids = admin.seed(
            "microsoft",
            user["email"],
            [event(f"E{i}", "2030-01-10T09:00:00", "2030-01-10T09:30:00") for i in range(3)],
        )
        received = rx.wait_for(lambda got: len(_notifications(got)) >= 3)
        batches = _posts(received, "/notify")
        assert any(len(batch["value"]) == 3 for batch in batches)  # one POST carried all three
        items = _notifications(received)
        for item, event_id in zip(items, ids, strict=True):
            assert item["subscriptionId"] == sub["id"] and item["clientState"] == "secret-client-state"
            assert item["changeType"] == "created"
            assert item["resource"] == f"Users/{user['user_id']}/Events/{event_id}"
            assert item["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
            assert item["resourceData"]["id"] == event_id and item["resourceData"]["@odata.etag"].startswith(
                'W/"'
            )
            assert item["tenantId"] and item["subscriptionExpirationDateTime"]
        assert len({item["tenantId"] for item in items}) == 1

        graph.patch(f"me/events/{ids[0]}", json={"subject": "changed"})
        graph.delete(f"me/events/{ids[1]}")
        received = rx.wait_for(lambda got: len(_notifications(got)) >= 5)
        assert [i["changeType"] for i in _notifications(received)[3:]] == ["updated", "deleted"]
        watch = next(w for w in admin.watches()["graph_subscriptions"] if w["id"] == sub["id"])
        assert watch["active"] is True and watch["resource"] == "me/events"
        assert (
            watch["notificationUrl"] == f"{rx.url}/notify?tenant=acme"
            and watch["clientState"] == "secret-client-state"
        )


def test_change_types_and_calendar_resources_filter_notifications(emulator, admin):
    user, graph = new_user(admin, emulator)
    team = admin.add_calendar("microsoft", user["email"], "Team")
    with NotificationReceiver() as rx:
        _subscribe(graph, admin, rx, changeType="deleted", lifecycleNotificationUrl=None)
        _subscribe(
            graph,
            admin,
            rx,
            resource=f"users/{user['email']}/calendars/{team}/events",
            notificationUrl=f"{rx.url}/team",
            lifecycleNotificationUrl=None,
        )
        mine = graph.create(event("Mine", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
        theirs = graph.create(
            event("Team", "2030-01-10T09:00:00", "2030-01-10T09:30:00"), path=f"me/calendars/{team}/events"
        )
        graph.delete(f"me/events/{mine['id']}")
        received = rx.wait_for(lambda got: _notifications(got) and _notifications(got, "/team"))
        admin.wait_notifications()
        received = rx.received
        assert [i["changeType"] for i in _notifications(received)] == ["deleted"]
        assert [i["resourceData"]["id"] for i in _notifications(received, "/team")] == [theirs["id"]]


def test_immutable_id_subscription_reports_immutable_ids(emulator, admin):
    user, graph = new_user(admin, emulator)
    immutable = Graph(emulator.url, admin.token("microsoft", user["email"]), prefer='IdType="ImmutableId"')
    with NotificationReceiver() as rx:
        body = {
            "changeType": "created",
            "notificationUrl": f"{rx.url}/notify",
            "resource": "me/events",
            "expirationDateTime": _expires(admin),
        }
        assert immutable.post("subscriptions", json=body).status_code == 201
        created = immutable.create(event("x", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
        received = rx.wait_for(lambda got: _notifications(got))
        assert _notifications(received)[0]["resourceData"]["id"] == created["id"]
        assert created["id"].startswith("AAkALg")


def test_expiration_cap_and_renewal(emulator, admin):
    _, graph = new_user(admin, emulator)
    with NotificationReceiver() as rx:
        base = {"changeType": "created", "notificationUrl": f"{rx.url}/n", "resource": "me/events"}
        too_long = graph.post("subscriptions", json={**base, "expirationDateTime": _expires(admin, 4300)})
        assert "4230 minutes" in graph_error(too_long, 400)["message"]
        past = graph.post("subscriptions", json={**base, "expirationDateTime": _expires(admin, -5)})
        assert "future" in graph_error(past, 400)["message"]
        graph_error(graph.post("subscriptions", json={**base, "expirationDateTime": "soon"}), 400)
        sub = _subscribe(
            graph, admin, rx, expirationDateTime=_expires(admin, 30), lifecycleNotificationUrl=None
        )
        renewed = graph.patch(
            f"subscriptions/{sub['id']}", json={"expirationDateTime": _expires(admin, 4200)}
        )
        assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] > sub["expirationDateTime"]
        graph_error(
            graph.patch(f"subscriptions/{sub['id']}", json={"expirationDateTime": _expires(admin, 5000)}), 400
        )
        graph_error(
            graph.patch(f"subscriptions/{sub['id']}", json={"lifecycleNotificationUrl": f"{rx.url}/l"}), 400
        )
        graph_error(graph.patch(f"subscriptions/{sub['id']}", json={"resource": "me/events"}), 400)
        listed = graph.get("subscriptions").json()["value"]
        assert [s["id"] for s in listed] == [sub["id"]]
        assert (
            graph.get(f"subscriptions/{sub['id']}").json()["expirationDateTime"]
            == renewed.json()["expirationDateTime"]
        )


def test_delete_stops_notifications(emulator, admin):
    _, graph = new_user(admin, emulator)
    with NotificationReceiver() as rx:
        sub = _subscribe(graph, admin, rx, lifecycleNotificationUrl=None)
        assert graph.delete(f"subscriptions/{sub['id']}").status_code == 204
        graph_error(graph.get(f"subscriptions/{sub['id']}"), 404)
        graph_error(graph.delete(f"subscriptions/{sub['id']}"), 404)
        graph.create(event("Unheard", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
        assert admin.wait_notifications()["idle"] is True
        assert _notifications(rx.received) == []
        watch = next(w for w in admin.watches()["graph_subscriptions"] if w["id"] == sub["id"])
        assert watch["active"] is False


def test_expired_subscriptions_deliver_nothing(emulator, admin):
    _, graph = new_user(admin, emulator)
    with NotificationReceiver() as rx:
        sub = _subscribe(
            graph, admin, rx, expirationDateTime=_expires(admin, 2), lifecycleNotificationUrl=None
        )
        try:
            admin.clock(advance_seconds=300)
            graph.create(event("Too late", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
            assert admin.wait_notifications()["idle"] is True
            assert _notifications(rx.received) == []
            graph_error(
                graph.patch(f"subscriptions/{sub['id']}", json={"expirationDateTime": _expires(admin, 60)}),
                404,
            )
        finally:
            admin.clock(reset=True)


def test_lifecycle_events(emulator, admin):
    _, graph = new_user(admin, emulator)
    with NotificationReceiver() as rx:
        sub = _subscribe(graph, admin, rx)
        admin.lifecycle(sub["id"], "reauthorizationRequired")
        received = rx.wait_for(lambda got: _posts(got, "/lifecycle"))
        [item] = _posts(received, "/lifecycle")[0]["value"]
        assert item == {
            "subscriptionId": sub["id"],
            "subscriptionExpirationDateTime": item["subscriptionExpirationDateTime"],
            "tenantId": item["tenantId"],
            "clientState": "secret-client-state",
            "lifecycleEvent": "reauthorizationRequired",
        }
        graph.create(event("Lost while paused", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
        assert admin.wait_notifications()["idle"] is True
        assert _notifications(rx.received) == []
        assert graph.post(f"subscriptions/{sub['id']}/reauthorize").status_code == 204
        graph.create(event("Heard again", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
        received = rx.wait_for(lambda got: _notifications(got))
        assert len(_notifications(received)) == 1

        # Renewing also resumes a paused subscription.
        admin.lifecycle(sub["id"], "reauthorizationRequired")
        rx.wait_for(lambda got: len(_posts(got, "/lifecycle")) >= 2)
        graph.create(event("Lost again", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
        renewed = graph.patch(f"subscriptions/{sub['id']}", json={"expirationDateTime": _expires(admin, 120)})
        assert renewed.status_code == 200
        graph.create(event("Heard after renewal", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
        rx.wait_for(lambda got: len(_notifications(got)) >= 2)
        assert admin.wait_notifications()["idle"] is True
        assert len(_notifications(rx.received)) == 2

        admin.lifecycle(sub["id"], "missed")
        rx.wait_for(lambda got: len(_posts(got, "/lifecycle")) >= 3)
        admin.lifecycle(sub["id"], "subscriptionRemoved")
        received = rx.wait_for(lambda got: len(_posts(got, "/lifecycle")) >= 4)
        events = [p["value"][0]["lifecycleEvent"] for p in _posts(received, "/lifecycle")]
        assert events == [
            "reauthorizationRequired",
            "reauthorizationRequired",
            "missed",
            "subscriptionRemoved",
        ]
        graph_error(graph.get(f"subscriptions/{sub['id']}"), 404)
        missing = admin.http.post(
            f"{emulator.url}/_admin/subscriptions/{sub['id']}/lifecycle", json={"lifecycleEvent": "missed"}
        )
        assert missing.status_code == 404


def test_lifecycle_without_lifecycle_url_goes_to_notification_url(emulator, admin):
    _, graph = new_user(admin, emulator)
    with NotificationReceiver() as rx:
        sub = _subscribe(graph, admin, rx, lifecycleNotificationUrl=None)
        admin.lifecycle(sub["id"], "missed")
        received = rx.wait_for(lambda got: _posts(got, "/notify"))
        assert _posts(received, "/notify")[0]["value"][0]["lifecycleEvent"] == "missed"
        graph.patch(f"subscriptions/{sub['id']}", json={"expirationDateTime": _expires(admin, 90)})


def _wrong_echo(item: Received) -> tuple[int, str, bytes]:
    if "validationToken" in item.query:
        return 200, "text/plain", b"not the token"
    return 202, "text/plain", b""


def _json_echo(item: Received) -> tuple[int, str, bytes]:
    token = item.query.get("validationToken", [""])[0]
    return 200, "application/json", json.dumps(token).encode()


def test_creation_fails_when_the_endpoint_does_not_echo(emulator, admin):
    _, graph = new_user(admin, emulator)
    base = {"changeType": "created", "resource": "me/events", "expirationDateTime": _expires(admin)}
    for respond in (_wrong_echo, _json_echo):
        with NotificationReceiver(respond) as rx:
            response = graph.post("subscriptions", json={**base, "notificationUrl": f"{rx.url}/n"})
            assert "Subscription validation request failed" in graph_error(response, 400)["message"]
            rx.wait_for(lambda got: got)  # the handshake really happened
    with NotificationReceiver() as good, NotificationReceiver(_wrong_echo) as bad:
        response = graph.post(
            "subscriptions",
            json={**base, "notificationUrl": f"{good.url}/n", "lifecycleNotificationUrl": f"{bad.url}/l"},
        )
        graph_error(response, 400)
    response = graph.post("subscriptions", json={**base, "notificationUrl": "http://127.0.0.1:9/closed"})
    graph_error(response, 400)
    assert graph.get("subscriptions").json()["value"] == []


def test_creation_fails_when_the_endpoint_is_too_slow():
    release = threading.Event()

    def slow(item: Received) -> tuple[int, str, bytes]:
        release.wait(5)
        return NotificationReceiver.default_response(item)

    config = EmulatorConfig(graph_validation_timeout=0.3)
    with EmulatorServer(config=config) as server, NotificationReceiver(slow) as rx:
        local = EmulatorAdmin(server.url)
        user = local.new_user("microsoft")
        graph = Graph(server.url, local.token("microsoft", user["email"]))
        body = {
            "changeType": "created",
            "notificationUrl": f"{rx.url}/n",
            "resource": "me/events",
            "expirationDateTime": _expires(local),
        }
        try:
            graph_error(graph.post("subscriptions", json=body), 400)
        finally:
            release.set()


@pytest.mark.parametrize(
    "overrides",
    [
        {"notificationUrl": "http://example.com/hook"},
        {"notificationUrl": "ftp://127.0.0.1/hook"},
        {"notificationUrl": None},
        {"resource": "me/messages"},
        {"changeType": "created,moved"},
        {"changeType": "created,created"},
        {"changeType": ""},
        {"clientState": "x" * 129},
        {"clientState": 7},
        {"includeResourceData": True},
        {"unknownField": 1},
    ],
)
def test_subscription_input_validation(emulator, admin, overrides):
    _, graph = new_user(admin, emulator)
    body = {
        "changeType": "created",
        "notificationUrl": "https://hooks.example.com/n",
        "resource": "me/events",
        "expirationDateTime": _expires(admin),
        **overrides,
    }
    graph_error(graph.post("subscriptions", json={k: v for k, v in body.items() if v is not None}), 400)


def test_subscription_to_another_mailbox_is_forbidden(emulator, admin):
    _, graph = new_user(admin, emulator)
    other = admin.new_user("microsoft")
    body = {
        "changeType": "created",
        "notificationUrl": "https://hooks.example.com/n",
        "resource": f"users/{other['user_id']}/events",
        "expirationDateTime": _expires(admin),
    }
    graph_error(graph.post("subscriptions", json=body), 403, "ErrorAccessDenied")
    unknown_calendar = {**body, "resource": "me/calendars/AAMkAGCalnope/events"}
    graph_error(graph.post("subscriptions", json=unknown_calendar), 404)

"""DELETE me/calendars/{id} (Graph): a secondary calendar goes with its events, and everything naming
it afterwards (views, events, delta and its links) answers 404; the default calendar is refused."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from calendar_emulator.actors import GraphActor
from tests.emulator.microsoft_support import WINDOW, Graph, event, graph_error, new_user, weekly
from tests.emulator.test_microsoft_identity import _app, _sign_in
from tests.emulator.test_microsoft_subscriptions import _expires, _notifications
from tests.receiver import NotificationReceiver

NOT_FOUND = "ErrorItemNotFound"
# msal recommends form_post on every auth-code flow; the query mode is what _sign_in exercises.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode:UserWarning")


def _delta_url(emulator, path: str) -> str:
    return f"{emulator.url}/microsoft/v1.0/{path}?{urlencode(WINDOW)}"


def _team_with_events(admin, graph, user) -> tuple[str, list[dict]]:
    team = admin.add_calendar("microsoft", user["email"], "Team")
    path = f"me/calendars/{team}/events"
    created = [
        graph.create(event("Team sync", "2030-01-05T09:00:00", "2030-01-05T10:00:00"), path=path),
        graph.create(
            weekly("Standup", "2030-01-07T09:00:00", "2030-01-07T09:15:00", ["monday"], 3), path=path
        ),
    ]
    return team, created


def test_deleting_a_secondary_calendar_removes_it_and_its_events(emulator, admin):
    user, graph = new_user(admin, emulator)
    team, created = _team_with_events(admin, graph, user)
    mine = graph.create(event("Mine", "2030-01-05T11:00:00", "2030-01-05T12:00:00"))
    team_delta = f"me/calendars/{team}/calendarView/delta"
    _, delta_link, _ = graph.delta_round(_delta_url(emulator, team_delta))
    next_link = graph.get(_delta_url(emulator, team_delta), headers={"Prefer": "odata.maxpagesize=1"}).json()[
        "@odata.nextLink"
    ]
    _, default_link, _ = graph.delta_round(_delta_url(emulator, "me/calendarView/delta"))

    response = graph.delete(f"me/calendars/{team}")
    assert response.status_code == 204 and response.content == b""

    calendars = graph.get("me/calendars").json()["value"]
    assert [c["id"] for c in calendars] == [user["primary_calendar_id"]]
    for path, params in (
        (f"me/calendars/{team}", None),
        (f"me/calendars/{team}/calendarView", WINDOW),
        (f"me/calendars/{team}/events", None),
        (team_delta, WINDOW),
        (delta_link, None),  # gone, not expired: 404, not 410 SyncStateNotFound
        (next_link, None),
        (f"users/{user['email']}/calendars/{team}/events", None),
    ):
        error = graph_error(graph.get(path, params=params), 404, NOT_FOUND)
        assert "not found in the store" in error["message"]
    for item in created:
        graph_error(graph.get(f"me/events/{item['id']}"), 404, NOT_FOUND)
        graph_error(graph.get(f"me/calendars/{team}/events/{item['id']}"), 404, NOT_FOUND)
        graph_error(graph.patch(f"me/events/{item['id']}", json={"subject": "x"}), 404, NOT_FOUND)
        graph_error(graph.delete(f"me/events/{item['id']}"), 404, NOT_FOUND)
    graph_error(
        graph.post(
            f"me/calendars/{team}/events", json=event("x", "2030-01-09T09:00:00", "2030-01-09T10:00:00")
        ),
        404,
        NOT_FOUND,
    )
    graph_error(graph.delete(f"me/calendars/{team}"), 404, NOT_FOUND)  # a second delete
    dumped = [row for row in admin.dump("microsoft", user["email"]) if row["calendar_id"] == team]
    assert dumped and all(row["deleted"] for row in dumped)

    # The default calendar is untouched: its events, its views, and its delta link (nothing new).
    assert [e["subject"] for e in graph.get("me/events").json()["value"]] == ["Mine"]
    assert [e["id"] for e in graph.get("me/calendarView", params=WINDOW).json()["value"]] == [mine["id"]]
    items, _, _ = graph.delta_round(default_link)
    assert items == []


def test_the_default_calendar_cannot_be_deleted(emulator, admin):
    user, graph = new_user(admin, emulator)
    created = graph.create(event("Mine", "2030-01-05T11:00:00", "2030-01-05T12:00:00"))
    error = graph_error(graph.delete(f"me/calendars/{user['primary_calendar_id']}"), 400)
    assert error["code"] == "ErrorDeleteDistinguishedFolder"
    graph_error(graph.delete(f"users/{user['email']}/calendars/{user['primary_calendar_id']}"), 400)
    assert graph.get("me/calendar").json()["id"] == user["primary_calendar_id"]
    assert graph.get(f"me/events/{created['id']}").status_code == 200


def test_someone_elses_calendar_is_not_found(emulator, admin):
    _, graph = new_user(admin, emulator)
    bob, bob_graph = new_user(admin, emulator)
    bobs = admin.add_calendar("microsoft", bob["email"], "Bob's")
    graph_error(graph.delete(f"me/calendars/{bobs}"), 404, NOT_FOUND)
    graph_error(graph.delete(f"me/calendars/{bob['primary_calendar_id']}"), 404, NOT_FOUND)
    graph_error(graph.delete(f"users/{bob['email']}/calendars/{bobs}"), 403, "ErrorAccessDenied")
    assert bob_graph.get(f"me/calendars/{bobs}").status_code == 200


def test_deleting_a_calendar_needs_write_access(emulator, admin):
    user, graph = new_user(admin, emulator)
    team = admin.add_calendar("microsoft", user["email"], "Team")
    read_only = _sign_in(
        emulator, _app(emulator), user["email"], scopes=["https://graph.microsoft.com/Calendars.Read"]
    )
    graph_error(
        Graph(emulator.url, read_only["access_token"]).delete(f"me/calendars/{team}"),
        403,
        "ErrorAccessDenied",
    )
    assert graph.get(f"me/calendars/{team}").status_code == 200


def test_actor_deletes_a_calendar_through_the_api(emulator, admin):
    user, graph = new_user(admin, emulator)
    team, _ = _team_with_events(admin, graph, user)
    actor = GraphActor(emulator.url, admin.token("microsoft", user["email"]))
    actor.delete_calendar(team)
    graph_error(graph.get(f"me/calendars/{team}/events"), 404, NOT_FOUND)
    with pytest.raises(RuntimeError, match="404"):
        actor.delete_calendar(team)
    with pytest.raises(RuntimeError, match="400"):
        actor.delete_calendar(user["primary_calendar_id"])


def test_subscriptions_on_a_deleted_calendar_stop_firing(emulator, admin):
    user, graph = new_user(admin, emulator)
    team, created = _team_with_events(admin, graph, user)
    with NotificationReceiver() as rx:
        for resource, path in ((f"me/calendars/{team}/events", "/team"), ("me/events", "/notify")):
            body = {
                "changeType": "created,updated,deleted",
                "notificationUrl": f"{rx.url}{path}",
                "resource": resource,
                "expirationDateTime": _expires(admin),
            }
            assert graph.post("subscriptions", json=body).status_code == 201
        assert graph.delete(f"me/calendars/{team}").status_code == 204
        mine = graph.create(event("Mine", "2030-01-05T11:00:00", "2030-01-05T12:00:00"))
        rx.wait_for(lambda got: _notifications(got))
        admin.wait_notifications()
        assert _notifications(rx.received, "/team") == []
        assert [(i["changeType"], i["resourceData"]["id"]) for i in _notifications(rx.received)] == [
            ("created", mine["id"])
        ]
    assert created  # the calendar had events; none of them notified on the way out

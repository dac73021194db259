"""What Microsoft's SDKs and O365 send that a hand-written client would not: delta in OData's
function form `delta()` on every collection, and Edm.Boolean values as quoted literals."""

from __future__ import annotations

import pytest

from tests.emulator.microsoft_support import WINDOW, event, new_user

COLLECTIONS = (
    "me/calendarView",
    "me/calendar/calendarView",
    "me/calendars/{calendar}/calendarView",
    "me/events",
    "me/calendar/events",
    "me/calendars/{calendar}/events",
    "users/{user}/calendarView",
    "users/{user}/calendars/{calendar}/events",
)


@pytest.mark.parametrize("function", ["delta", "delta()"])
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_delta_in_every_form_the_sdks_send(emulator, admin, collection, function):
    user, graph = new_user(admin, emulator)
    calendar = graph.get("me/calendar").json()["id"]
    created = graph.create(event("In window", "2030-01-05T09:00:00", "2030-01-05T10:00:00"))
    path = collection.format(calendar=calendar, user=user["email"])
    items, delta_link, _ = graph.delta_round(
        f"{path}/{function}?startDateTime={WINDOW['startDateTime']}&endDateTime={WINDOW['endDateTime']}"
    )
    assert [item["id"] for item in items] == [created["id"]]
    # The round goes on from the link the form it started with returned.
    assert f"/{path}/{function}?$deltatoken=" in delta_link
    graph.patch(f"me/events/{created['id']}", json={"subject": "Renamed"})
    changed, _, _ = graph.delta_round(delta_link)
    assert [(item["id"], item["subject"]) for item in changed] == [(created["id"], "Renamed")]


def test_delta_function_still_needs_a_window(emulator, admin):
    _, graph = new_user(admin, emulator)
    response = graph.get("me/calendarView/delta()")
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("literal, expected", [("false", False), ("true", True), ("True", True)])
def test_quoted_boolean_literals_are_accepted_and_answered_as_booleans(emulator, admin, literal, expected):
    _, graph = new_user(admin, emulator)
    # O365 sends isOnlineMeeting as a string on every save.
    created = graph.create(
        event(
            "O365 save",
            "2030-01-05T09:00:00",
            "2030-01-05T10:00:00",
            isOnlineMeeting=literal,
            isReminderOn="false",
        )
    )
    assert created["isOnlineMeeting"] is expected and created["isReminderOn"] is False
    patched = graph.patch(
        f"me/events/{created['id']}", json={"isOnlineMeeting": "false", "isAllDay": "false"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["isOnlineMeeting"] is False and patched.json()["isAllDay"] is False


@pytest.mark.parametrize("value", ["no", "", "1", 1, None])
def test_other_boolean_spellings_are_refused_naming_the_field(emulator, admin, value):
    _, graph = new_user(admin, emulator)
    response = graph.post(
        "me/events",
        json=event("Bad", "2030-01-05T09:00:00", "2030-01-05T10:00:00", isOnlineMeeting=value),
    )
    assert response.status_code == 400 and "isOnlineMeeting" in response.json()["error"]["message"]

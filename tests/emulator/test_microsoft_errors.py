"""Graph errors: authentication, injected faults (scoped to one user), and malformed input, which
must always be a 4xx in Graph's error shape and never a 500."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.emulator.microsoft_support import WINDOW, Graph, event, graph_error, new_user
from tests.waiting import scaled


@pytest.fixture
def faulty(admin):
    """Fault rules for one test; cleared afterwards whatever happens."""
    yield admin.faults
    admin.clear_faults()


def test_missing_invalid_expired_and_revoked_tokens(emulator, admin):
    user, graph = new_user(admin, emulator)
    anonymous = requests.get(f"{emulator.url}/microsoft/v1.0/me/events", timeout=scaled(10))
    assert "empty" in graph_error(anonymous, 401, "InvalidAuthenticationToken")["message"]
    graph_error(Graph(emulator.url, "EwBnot-a-token").get("me/events"), 401, "InvalidAuthenticationToken")
    google = admin.new_user("google")
    graph_error(Graph(emulator.url, admin.token("google", google["email"])).get("me"), 401)
    try:
        admin.clock(advance_seconds=7200)
        assert "expired" in graph_error(graph.get("me/events"), 401, "InvalidAuthenticationToken")["message"]
    finally:
        admin.clock(reset=True)
    assert graph.get("me/events").status_code == 200


def test_rate_limit_and_server_errors_carry_retry_after(emulator, admin, faulty):
    user, graph = new_user(admin, emulator)
    _, bystander = new_user(admin, emulator)
    faulty(
        {
            "rules": [
                {"kind": "rate_limit", "user": user["email"], "count": 1, "retry_after": 3},
                {"kind": "server_error", "status": 503, "user": user["email"], "count": 1, "retry_after": 2},
            ]
        }
    )
    assert bystander.get("me/events").status_code == 200  # scoped to the other user
    throttled = graph.get("me/events")
    graph_error(throttled, 429, "TooManyRequests")
    assert throttled.headers["Retry-After"] == "3"
    unavailable = graph.get("me/events")
    graph_error(unavailable, 503)
    assert unavailable.headers["Retry-After"] == "2"
    assert graph.get("me/events").status_code == 200
    assert admin.stats()["faults"].get("rate_limit", 0) >= 1


def test_sync_token_expired_hits_only_delta_token_requests(emulator, admin, faulty):
    user, graph = new_user(admin, emulator)
    graph.create(event("E", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
    _, delta_link, _ = graph.delta_round(
        f"{emulator.url}/microsoft/v1.0/me/calendarView/delta?startDateTime={WINDOW['startDateTime']}&endDateTime={WINDOW['endDateTime']}"
    )
    faulty({"rules": [{"kind": "sync_token_expired", "user": user["email"], "count": 1}]})
    assert graph.get("me/calendarView", params=WINDOW).status_code == 200
    graph_error(graph.get(delta_link), 410, "SyncStateNotFound")
    assert graph.get(delta_link).status_code == 200  # count=1: the token itself was not harmed


def test_truncated_body_is_not_json(emulator, admin, faulty):
    user, graph = new_user(admin, emulator)
    graph.create(event("E", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
    faulty({"rules": [{"kind": "truncate", "user": user["email"], "count": 1}]})
    cut = graph.get("me/calendarView", params=WINDOW)
    assert cut.status_code == 200
    with pytest.raises(ValueError):
        cut.json()
    assert graph.get("me/calendarView", params=WINDOW).json()["value"][0]["subject"] == "E"


def test_foreign_link_fault_moves_paging_links_to_another_origin(emulator, admin, faulty):
    user, graph = new_user(admin, emulator)
    for n in range(3):
        graph.create(event(f"E{n}", f"2030-01-1{n}T09:00:00", f"2030-01-1{n}T09:30:00"))
    first = (
        f"{emulator.url}/microsoft/v1.0/me/calendarView/delta?startDateTime={WINDOW['startDateTime']}"
        f"&endDateTime={WINDOW['endDateTime']}"
    )
    _, genuine_delta, pages = graph.delta_round(first, page_size=2)
    genuine_next = pages[0]["@odata.nextLink"]
    faulty({"rules": [{"kind": "foreign_link", "user": user["email"], "link_base": "http://127.0.0.1:9"}]})
    paged = graph.get(first, headers={"Prefer": "odata.maxpagesize=2"}).json()
    moved = urlsplit(paged["@odata.nextLink"])
    # Same path and query (the $skiptoken still works at home); only the origin is foreign.
    assert (moved.scheme, moved.netloc) == ("http", "127.0.0.1:9")
    assert moved.path == urlsplit(genuine_next).path and len(paged["value"]) == 2
    delta = urlsplit(graph.get(genuine_delta).json()["@odata.deltaLink"])
    assert delta.netloc == "127.0.0.1:9" and "deltatoken=" in delta.query.lower()
    admin.clear_faults()
    assert graph.get(genuine_delta).json()["@odata.deltaLink"].startswith(emulator.url)
    with pytest.raises(requests.HTTPError):  # link_base is required for the kind
        admin.faults({"rules": [{"kind": "foreign_link"}]})


def test_unauthorized_fault_is_graph_shaped(emulator, admin, faulty):
    user, graph = new_user(admin, emulator)
    faulty({"rules": [{"kind": "unauthorized", "user": user["email"], "count": 1}]})
    graph_error(graph.get("me/calendars"), 401, "InvalidAuthenticationToken")


def test_malformed_requests_are_4xx_in_graph_shape(emulator, admin):
    _, graph = new_user(admin, emulator)
    created = graph.create(event("E", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
    event_path = f"me/events/{created['id']}"
    json_headers = {"Content-Type": "application/json"}
    cases = [
        ("POST", "me/events", {"data": b"{not json", "headers": json_headers}, 400),
        ("POST", "me/events", {"data": b"[1, 2]", "headers": json_headers}, 400),
        ("PATCH", event_path, {"data": b"\xff\xfe", "headers": json_headers}, 400),
        ("POST", "me/events", {"json": event("x", "2030-02-30T09:00:00", "2030-03-01T09:00:00")}, 400),
        ("POST", "me/events", {"json": {"subject": ["list"], "start": 1, "end": None}}, 400),
        ("PATCH", event_path, {"json": {"start": {"dateTime": 20300101, "timeZone": "UTC"}}}, 400),
        ("PATCH", event_path, {"json": {"attendees": "everyone"}}, 400),
        ("PATCH", event_path, {"json": {"isAllDay": True}}, 400),
        ("GET", "me/events/not-an-id", {}, 400),
        ("GET", "me/events/AAMkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", {}, 400),
        ("GET", "me/events/AAkALgQUFBQUFBQUFBQUFBQUFBQ=", {}, 400),
        ("DELETE", "me/events/AAMkA!!", {}, 400),
        ("GET", "me/calendars/unknown/events", {}, 404),
        ("GET", "me/calendarView", {"params": {**WINDOW, "$top": "-1"}}, 400),
        ("GET", "me/calendarView", {"params": {**WINDOW, "$top": "0"}}, 400),
        ("GET", "me/calendarView", {"params": {**WINDOW, "$skip": "x"}}, 400),
        ("GET", "me/calendarView", {"params": {**WINDOW, "$orderby": "bogus"}}, 400),
        (
            "GET",
            "me/calendarView",
            {"params": {"startDateTime": "2030-01-01T25:00:00", "endDateTime": "2030-02-01"}},
            400,
        ),
        (
            "GET",
            "me/events",
            {"params": {"$filter": "singleValueExtendedProperties/Any(ep: ep/id eq 'x' and"}},
            400,
        ),
        ("GET", "me/events", {"params": {"$filter": "start/dateTime ge 'not a date'"}}, 400),
        ("GET", "me/events", {"params": {"$filter": "isAllDay eq maybe"}}, 400),
        ("GET", "me/events", {"params": {"$top": "5000"}}, 400),
        ("GET", "me/nothing-here", {}, 404),
        ("PUT", event_path, {"json": {}}, 404),  # the app's catch-all answers unknown method+path pairs
        ("POST", "subscriptions", {"data": b"{", "headers": json_headers}, 400),
        (
            "PATCH",
            "subscriptions/00000000-0000-0000-0000-000000000000",
            {"json": {"expirationDateTime": "2030-01-01T00:00:00Z"}},
            404,
        ),
        ("POST", "subscriptions/unknown/reauthorize", {}, 404),
        ("GET", "users/ghost@example.com", {}, 404),
    ]
    # Other tests inject 500s on purpose (server_error faults): count only this test's.
    errors_before = admin.stats()["statuses"].get("500", 0)
    for method, path, kwargs, status in cases:
        response = graph.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        graph_error(response, status)
    assert admin.stats()["statuses"].get("500", 0) == errors_before

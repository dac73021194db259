"""calendarView/delta: initial and incremental rounds, paging, sparse occurrences, @removed, 410s."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.emulator.microsoft_support import WINDOW, event, graph_error, new_user, weekly

DELTA = "me/calendarView/delta"


def _delta_url(emulator, path: str = DELTA) -> str:
    return f"{emulator.url}/microsoft/v1.0/{path}?startDateTime={WINDOW['startDateTime']}&endDateTime={WINDOW['endDateTime']}"


def test_initial_round_full_items_sparse_occurrences_and_paging(emulator, admin):
    _, graph = new_user(admin, emulator)
    canary = admin.secrets()["description_canary"]
    single = graph.create(
        event(
            "Single",
            "2030-01-03T09:00:00",
            "2030-01-03T10:00:00",
            body={"contentType": "text", "content": f"Notes {canary}-own"},
        )
    )
    graph.create(event("Far away", "2031-05-01T09:00:00", "2031-05-01T10:00:00"))
    series = graph.create(weekly("Weekly", "2030-01-07T15:00:00", "2030-01-07T15:30:00", ["monday"], 3))
    occurrences = graph.get(f"me/events/{series['id']}/instances", params=WINDOW).json()["value"]
    exception_id = occurrences[1]["id"]
    graph.patch(f"me/events/{exception_id}", json={"subject": "Weekly (moved)"})

    items, delta_link, pages = graph.delta_round(_delta_url(emulator), page_size=1)
    assert delta_link.startswith(f"{emulator.url}/microsoft/v1.0/me/calendarView/delta?$deltatoken=")
    for page in pages[:-1]:
        assert len(page["value"]) <= 1
        assert "@odata.nextLink" in page and "$skiptoken=" in page["@odata.nextLink"]
        assert page["@odata.nextLink"].startswith(emulator.url)
        assert "startDateTime" not in page["@odata.nextLink"]  # the window lives in the token
    assert any(not page["value"] and "@odata.nextLink" in page for page in pages)  # the master's slot
    by_id = {item["id"]: item for item in items}
    assert len(by_id) == len(items) == 4  # single + 2 occurrences + 1 exception; no master
    assert series["id"] not in by_id
    full = by_id[single["id"]]
    assert (
        full["subject"] == "Single"
        and canary in full["body"]["content"]
        and "Notes" in full["body"]["content"]
    )
    assert full["@odata.type"] == "#microsoft.graph.event"
    sparse = [item for item in items if item["type"] == "occurrence"]
    assert len(sparse) == 2
    for item in sparse:
        assert set(item) <= {"@odata.type", "@odata.etag", "id", "type", "seriesMasterId", "start", "end"}
        assert item["seriesMasterId"] == series["id"]
    exception = by_id[exception_id]
    assert (
        exception["type"] == "exception"
        and exception["subject"] == "Weekly (moved)"
        and canary in exception["body"]["content"]
    )
    # The master, which delta never lists, is fetched by id.
    master = graph.get(f"me/events/{sparse[0]['seriesMasterId']}").json()
    assert master["type"] == "seriesMaster" and master["subject"] == "Weekly"

    again, _, _ = graph.delta_round(delta_link)
    assert again == []


def test_default_page_size_and_cap(emulator, admin):
    _, graph = new_user(admin, emulator)
    for day in range(1, 13):
        graph.create(event(f"E{day}", f"2030-01-{day:02d}T09:00:00", f"2030-01-{day:02d}T10:00:00"))
    first = graph.get(_delta_url(emulator)).json()
    assert len(first["value"]) == 10 and "@odata.nextLink" in first  # default page size 10
    big = graph.get(_delta_url(emulator), headers={"Prefer": "odata.maxpagesize=5000"})
    assert len(big.json()["value"]) == 12 and "@odata.deltaLink" in big.json()
    assert big.headers["Preference-Applied"] == "odata.maxpagesize=1000"


def test_incremental_round_reports_every_kind_of_change(emulator, admin):
    _, graph = new_user(admin, emulator)
    stays = graph.create(event("Stays", "2030-01-03T09:00:00", "2030-01-03T10:00:00"))
    updated = graph.create(event("Will change", "2030-01-04T09:00:00", "2030-01-04T10:00:00"))
    leaves = graph.create(event("Will leave", "2030-01-05T09:00:00", "2030-01-05T10:00:00"))
    deleted = graph.create(event("Will go", "2030-01-06T09:00:00", "2030-01-06T10:00:00"))
    cancelled = graph.create(event("Will be cancelled", "2030-01-08T09:00:00", "2030-01-08T10:00:00"))
    series = graph.create(weekly("Series", "2030-01-07T15:00:00", "2030-01-07T15:30:00", ["monday"], 4))
    items, delta_link, _ = graph.delta_round(_delta_url(emulator), page_size=3)
    occurrence_ids = [i["id"] for i in items if i.get("seriesMasterId") == series["id"]]
    assert len(occurrence_ids) == 4

    created = graph.create(event("New", "2030-01-09T09:00:00", "2030-01-09T10:00:00"))
    assert graph.patch(f"me/events/{updated['id']}", json={"subject": "Changed"}).status_code == 200
    outside = {
        "start": {"dateTime": "2030-06-01T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-06-01T10:00:00", "timeZone": "UTC"},
    }
    assert graph.patch(f"me/events/{leaves['id']}", json=outside).status_code == 200
    assert graph.delete(f"me/events/{deleted['id']}").status_code == 204
    assert graph.post(f"me/events/{cancelled['id']}/cancel", json={"comment": "sorry"}).status_code == 202
    assert graph.delete(f"me/events/{occurrence_ids[2]}").status_code == 204

    changes, delta_link, _ = graph.delta_round(delta_link, page_size=2)
    by_id = {item["id"]: item for item in changes}
    assert by_id[created["id"]]["subject"] == "New"
    assert by_id[updated["id"]]["subject"] == "Changed" and "body" in by_id[updated["id"]]
    removed = {item["id"] for item in changes if "@removed" in item}
    assert removed == {leaves["id"], deleted["id"], cancelled["id"], occurrence_ids[2]}
    for item in changes:
        if "@removed" in item:
            assert item == {
                "@odata.type": "#microsoft.graph.event",
                "id": item["id"],
                "@removed": {"reason": "deleted"},
            }
    assert stays["id"] not in by_id and series["id"] not in by_id
    assert not any(item.get("seriesMasterId") == series["id"] and "@removed" not in item for item in changes)

    # Changing the series re-emits its occurrences (sparse), still without the master.
    assert graph.patch(f"me/events/{series['id']}", json={"subject": "Series renamed"}).status_code == 200
    changes, delta_link, _ = graph.delta_round(delta_link)
    assert sorted(i["id"] for i in changes) == sorted(occurrence_ids[:2] + occurrence_ids[3:])
    assert all(i["type"] == "occurrence" and "subject" not in i for i in changes)

    # Moving the series to another hour replaces every occurrence: old ids removed, new ids listed.
    later = {
        "start": {"dateTime": "2030-01-07T16:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-07T16:30:00", "timeZone": "UTC"},
    }
    assert graph.patch(f"me/events/{series['id']}", json=later).status_code == 200
    changes, _, _ = graph.delta_round(delta_link)
    gone = {i["id"] for i in changes if "@removed" in i}
    fresh = [i for i in changes if "@removed" not in i]
    assert gone == set(occurrence_ids) and len(fresh) == 4
    assert all(i["start"]["dateTime"][11:16] == "16:00" for i in fresh)


def test_incremental_round_follows_exceptions(emulator, admin):
    _, graph = new_user(admin, emulator)
    series = graph.create(weekly("Series", "2030-01-07T15:00:00", "2030-01-07T15:30:00", ["monday"], 3))
    _, delta_link, _ = graph.delta_round(_delta_url(emulator))
    first, second, _ = graph.get(f"me/events/{series['id']}/instances", params=WINDOW).json()["value"]

    graph.patch(f"me/events/{first['id']}", json={"subject": "Only this week"})
    changes, delta_link, _ = graph.delta_round(delta_link)
    assert [(c["id"], c["type"], c["subject"]) for c in changes] == [
        (first["id"], "exception", "Only this week")
    ]
    assert "body" in changes[0] and changes[0]["originalStart"] == "2030-01-07T15:00:00Z"

    away = {
        "start": {"dateTime": "2030-03-04T15:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-03-04T15:30:00", "timeZone": "UTC"},
    }
    graph.patch(f"me/events/{second['id']}", json=away)
    changes, delta_link, _ = graph.delta_round(delta_link)
    assert changes == [
        {"@odata.type": "#microsoft.graph.event", "id": second["id"], "@removed": {"reason": "deleted"}}
    ]

    graph.delete(f"me/events/{series['id']}")
    changes, _, _ = graph.delta_round(delta_link)
    assert {c["id"] for c in changes} >= {first["id"]} and all("@removed" in c for c in changes)


def test_delta_rejects_query_options_and_needs_a_window(emulator, admin):
    _, graph = new_user(admin, emulator)
    for option in ("$select", "$filter", "$orderby", "$expand", "$top"):
        graph_error(graph.get(DELTA, params={**WINDOW, option: "subject"}), 400)
    graph_error(graph.get(DELTA), 400, "ErrorInvalidParameter")
    graph_error(graph.get(DELTA, params={"$deltatoken": "garbage"}), 400)
    graph_error(graph.get(DELTA, params={"$skiptoken": "garbage"}), 400)


def test_delta_tokens_belong_to_their_user_and_calendar(emulator, admin):
    user, graph = new_user(admin, emulator)
    team = admin.add_calendar("microsoft", user["email"], "Team")
    graph.create(
        event("Team", "2030-01-03T09:00:00", "2030-01-03T10:00:00"), path=f"me/calendars/{team}/events"
    )
    graph.create(event("Mine", "2030-01-03T11:00:00", "2030-01-03T12:00:00"))
    team_items, team_link, _ = graph.delta_round(
        _delta_url(emulator, f"me/calendars/{team}/calendarView/delta")
    )
    assert [i["subject"] for i in team_items] == ["Team"]
    token = parse_qs(urlsplit(team_link).query)["$deltatoken"][0]
    graph_error(graph.get(DELTA, params={"$deltatoken": token}), 400)
    _, other = new_user(admin, emulator)
    graph_error(other.get(f"me/calendars/{team}/calendarView/delta", params={"$deltatoken": token}), 404)
    graph_error(other.get(DELTA, params={"$deltatoken": token}), 400)


def test_invalidated_tokens_answer_410_sync_state_not_found(emulator, admin):
    user, graph = new_user(admin, emulator)
    for day in range(1, 5):
        graph.create(event(f"E{day}", f"2030-01-{day:02d}T09:00:00", f"2030-01-{day:02d}T10:00:00"))
    _, delta_link, _ = graph.delta_round(_delta_url(emulator))
    first = graph.get(_delta_url(emulator), headers={"Prefer": "odata.maxpagesize=1"}).json()
    next_link = first["@odata.nextLink"]

    # Invalidate through the admin API's fault plan, scoped to nothing else than tokens.
    admin.faults({"expire_sync_tokens": True})
    admin.clear_faults()
    for link in (delta_link, next_link):
        response = graph.get(link)
        error = graph_error(response, 410, "SyncStateNotFound")
        assert "sync" in error["message"].lower()
        fresh = response.headers["Location"]
        assert "startDateTime=2030-01-01T00:00:00Z" in fresh and "$deltatoken" not in fresh
    restarted, _, _ = graph.delta_round(graph.get(delta_link).headers["Location"])
    assert len(restarted) == 4

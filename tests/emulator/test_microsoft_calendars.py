"""Graph users, calendars and calendarView (windows, expansion, $select, paging, time zones)."""

from __future__ import annotations

from tests.emulator.microsoft_support import WINDOW, event, graph_error, new_user, weekly


def test_me_and_users_prefix(emulator, admin):
    user, graph = new_user(admin, emulator)
    me = graph.get("me").json()
    assert me["id"] == user["user_id"] and me["mail"] == user["email"]
    assert graph.get(f"users/{user['email']}").json()["id"] == user["user_id"]
    assert graph.get(f"users/{user['user_id']}/calendars").status_code == 200
    other = admin.new_user("microsoft")
    graph_error(graph.get(f"users/{other['email']}/calendars"), 403, "ErrorAccessDenied")
    graph_error(graph.get("users/ghost@example.com/events"), 404, "ErrorInvalidUser")


def test_calendars_default_and_added(emulator, admin):
    user, graph = new_user(admin, emulator)
    team = admin.add_calendar("microsoft", user["email"], "Team")
    calendars = graph.get("me/calendars").json()["value"]
    by_name = {c["name"]: c for c in calendars}
    assert by_name["Calendar"]["isDefaultCalendar"] is True
    assert by_name["Calendar"]["id"] == user["primary_calendar_id"]
    assert by_name["Team"]["id"] == team and by_name["Team"]["isDefaultCalendar"] is False
    assert all(c["canEdit"] and c["owner"]["address"] == user["email"] for c in calendars)
    one = graph.get(f"me/calendars/{team}").json()
    assert one["name"] == "Team"
    assert graph.get("me/calendar").json()["isDefaultCalendar"] is True
    selected = graph.get("me/calendars", params={"$select": "name"}).json()["value"][0]
    assert set(selected) == {"@odata.etag", "id", "name"}
    graph_error(graph.get("me/calendars/AAMkAGCalnope"), 404)
    graph_error(graph.get("me/calendars", params={"$select": "bogus"}), 400)


def test_calendar_view_requires_a_window(emulator, admin):
    _, graph = new_user(admin, emulator)
    graph_error(graph.get("me/calendarView"), 400, "ErrorInvalidParameter")
    graph_error(graph.get("me/calendarView", params={"startDateTime": "2030-01-01T00:00:00Z"}), 400)
    graph_error(
        graph.get("me/calendarView", params={"startDateTime": "yesterday", "endDateTime": "2030-01-01"}), 400
    )
    graph_error(
        graph.get(
            "me/calendarView",
            params={"startDateTime": "2030-02-01T00:00:00Z", "endDateTime": "2030-01-01T00:00:00Z"},
        ),
        400,
    )


def test_calendar_view_expands_series_with_exceptions_and_cancellations(emulator, admin):
    user, graph = new_user(admin, emulator)
    single = graph.create(event("Single", "2030-01-03T09:00:00", "2030-01-03T10:00:00"))
    graph.create(event("Outside", "2030-03-03T09:00:00", "2030-03-03T10:00:00"))
    graph.create(event("Overlapping start", "2029-12-31T23:30:00", "2030-01-01T00:30:00"))
    series = graph.create(
        weekly(
            "1:1",
            "2030-01-07T15:00:00",
            "2030-01-07T15:30:00",
            ["monday"],
            10,
            body={"contentType": "text", "content": "Agenda"},
        )
    )
    assert series["type"] == "seriesMaster" and series["recurrence"]["range"]["numberOfOccurrences"] == 10

    rows = graph.get("me/calendarView", params={**WINDOW, "$top": "50"}).json()["value"]
    subjects = [r["subject"] for r in rows]
    assert subjects.count("1:1") == 4  # Jan 7, 14, 21, 28
    assert "Single" in subjects and "Overlapping start" in subjects and "Outside" not in subjects
    assert all(r["type"] != "seriesMaster" for r in rows)
    occurrences = [r for r in rows if r["subject"] == "1:1"]
    assert {r["type"] for r in occurrences} == {"occurrence"}
    assert all(r["seriesMasterId"] == series["id"] for r in occurrences)
    assert len({r["iCalUId"] for r in occurrences}) == 4 and len({r["uid"] for r in occurrences}) == 1
    assert [r["start"]["dateTime"] for r in occurrences][0] == "2030-01-07T15:00:00.0000000"
    assert rows == sorted(rows, key=lambda r: r["start"]["dateTime"])

    second, third = occurrences[1], occurrences[2]
    moved = graph.patch(
        f"me/events/{second['id']}",
        json={
            "subject": "Moved 1:1",
            "start": {"dateTime": "2030-01-15T16:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-15T16:30:00", "timeZone": "UTC"},
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["type"] == "exception" and moved.json()["originalStart"] == "2030-01-14T15:00:00Z"
    assert graph.delete(f"me/events/{third['id']}").status_code == 204
    graph_error(graph.get(f"me/events/{third['id']}"), 404)

    rows = graph.get("me/calendarView", params={**WINDOW, "$top": "50"}).json()["value"]
    recurring = [r for r in rows if r.get("seriesMasterId") == series["id"]]
    assert [(r["type"], r["subject"]) for r in recurring] == [
        ("occurrence", "1:1"),
        ("exception", "Moved 1:1"),
        ("occurrence", "1:1"),
    ]
    exception = graph.get(f"me/events/{second['id']}").json()
    assert exception["subject"] == "Moved 1:1" and "Agenda" in exception["body"]["content"]
    assert graph.get(f"me/events/{single['id']}").json()["type"] == "singleInstance"


def test_calendar_view_select_top_and_paging(emulator, admin):
    _, graph = new_user(admin, emulator)
    for day in range(1, 8):
        graph.create(event(f"E{day}", f"2030-01-{day:02d}T09:00:00", f"2030-01-{day:02d}T10:00:00"))
    full = graph.get("me/calendarView", params=WINDOW).json()["value"][0]
    assert "body" in full and admin.secrets()["description_canary"] in full["body"]["content"]
    selected = graph.get("me/calendarView", params={**WINDOW, "$select": "subject,start"}).json()["value"][0]
    assert set(selected) == {"@odata.etag", "id", "subject", "start"}

    seen, url, pages = [], "me/calendarView", 0
    params = {**WINDOW, "$top": "3", "$select": "subject"}
    while url:
        page = graph.get(url, params=params).json()
        params = None  # the nextLink carries everything
        pages += 1
        seen += [r["subject"] for r in page["value"]]
        assert len(page["value"]) <= 3
        url = page.get("@odata.nextLink")
        if url:
            assert url.startswith(emulator.url)
    assert pages == 3 and seen == [f"E{d}" for d in range(1, 8)]

    preferred = graph.get("me/calendarView", params=WINDOW, headers={"Prefer": "odata.maxpagesize=5"})
    assert (
        len(preferred.json()["value"]) == 5
        and "odata.maxpagesize=5" in preferred.headers["Preference-Applied"]
    )
    assert len(graph.get("me/calendarView", params=WINDOW).json()["value"]) == 7  # default page 10
    graph_error(graph.get("me/calendarView", params={**WINDOW, "$top": "1001"}), 400)
    graph_error(graph.get("me/calendarView", params={**WINDOW, "$top": "abc"}), 400)
    graph_error(graph.get("me/calendarView", params={**WINDOW, "$select": "subject,nope"}), 400)
    graph_error(graph.get("me/calendarView", params={**WINDOW, "$search": "x"}), 400)


def test_calendar_view_time_zone_preference_and_all_day(emulator, admin):
    _, graph = new_user(admin, emulator)
    graph.create(event("Pacific", "2030-01-10T09:00:00", "2030-01-10T10:00:00", zone="Pacific Standard Time"))
    graph.create(event("Holiday", "2030-01-11T00:00:00", "2030-01-12T00:00:00", isAllDay=True))
    utc_rows = {r["subject"]: r for r in graph.get("me/calendarView", params=WINDOW).json()["value"]}
    assert utc_rows["Pacific"]["start"] == {"dateTime": "2030-01-10T17:00:00.0000000", "timeZone": "UTC"}
    assert utc_rows["Pacific"]["originalStartTimeZone"] == "Pacific Standard Time"
    assert utc_rows["Holiday"]["isAllDay"] is True
    assert utc_rows["Holiday"]["start"]["dateTime"] == "2030-01-11T00:00:00.0000000"
    response = graph.get(
        "me/calendarView", params=WINDOW, headers={"Prefer": 'outlook.timezone="Europe/Berlin"'}
    )
    berlin = {r["subject"]: r for r in response.json()["value"]}
    assert berlin["Pacific"]["start"] == {
        "dateTime": "2030-01-10T18:00:00.0000000",
        "timeZone": "Europe/Berlin",
    }
    assert "outlook.timezone" in response.headers["Preference-Applied"]


def test_secondary_calendar_view_is_separate(emulator, admin):
    user, graph = new_user(admin, emulator)
    team = admin.add_calendar("microsoft", user["email"], "Team")
    graph.create(
        event("Team sync", "2030-01-05T09:00:00", "2030-01-05T10:00:00"), path=f"me/calendars/{team}/events"
    )
    graph.create(event("Mine", "2030-01-05T11:00:00", "2030-01-05T12:00:00"))
    team_rows = graph.get(f"me/calendars/{team}/calendarView", params=WINDOW).json()["value"]
    default_rows = graph.get("me/calendarView", params=WINDOW).json()["value"]
    assert [r["subject"] for r in team_rows] == ["Team sync"]
    assert [r["subject"] for r in default_rows] == ["Mine"]
    assert [r["subject"] for r in graph.get(f"me/calendars/{team}/events").json()["value"]] == ["Team sync"]


def test_recurrence_patterns_expand(emulator, admin):
    _, graph = new_user(admin, emulator)
    year = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2031-01-01T00:00:00Z"}
    patterns = {
        "daily": (
            {"type": "daily", "interval": 2},
            {"type": "endDate", "startDate": "2030-01-01", "endDate": "2030-01-10"},
            5,
        ),
        "weekly": (
            {
                "type": "weekly",
                "interval": 2,
                "daysOfWeek": ["tuesday", "thursday"],
                "firstDayOfWeek": "monday",
            },
            {"type": "numbered", "startDate": "2030-01-01", "numberOfOccurrences": 6},
            6,
        ),
        "absoluteMonthly": (
            {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15},
            {"type": "noEnd", "startDate": "2030-01-01"},
            12,
        ),
        "relativeMonthly": (
            {"type": "relativeMonthly", "interval": 3, "daysOfWeek": ["friday"], "index": "last"},
            {"type": "noEnd", "startDate": "2030-01-01"},
            4,
        ),
        "absoluteYearly": (
            {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 4, "month": 7},
            {"type": "noEnd", "startDate": "2030-01-01"},
            1,
        ),
        "relativeYearly": (
            {
                "type": "relativeYearly",
                "interval": 1,
                "daysOfWeek": ["thursday"],
                "index": "fourth",
                "month": 11,
            },
            {"type": "noEnd", "startDate": "2030-01-01", "recurrenceTimeZone": "Eastern Standard Time"},
            1,
        ),
    }
    for name, (pattern, range_, _count) in patterns.items():
        graph.create(
            event(
                name,
                "2030-01-01T12:00:00",
                "2030-01-01T12:30:00",
                recurrence={"pattern": pattern, "range": range_},
            )
        )
    rows = graph.get("me/calendarView", params={**year, "$top": "1000", "$select": "subject,start"}).json()[
        "value"
    ]
    counts = {name: sum(r["subject"] == name for r in rows) for name in patterns}
    assert counts == {name: spec[2] for name, spec in patterns.items()}
    thanksgiving = next(r for r in rows if r["subject"] == "relativeYearly")
    assert thanksgiving["start"]["dateTime"].startswith("2030-11-28")
    last_fridays = sorted(r["start"]["dateTime"][:10] for r in rows if r["subject"] == "relativeMonthly")
    assert last_fridays[0] == "2030-01-25"


def test_series_across_dst_keeps_wall_clock(emulator, admin):
    _, graph = new_user(admin, emulator)
    graph.create(
        event(
            "Standup",
            "2030-03-04T09:00:00",
            "2030-03-04T09:15:00",
            zone="Eastern Standard Time",
            recurrence={
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2030-03-04", "numberOfOccurrences": 3},
            },
        )
    )
    rows = graph.get(
        "me/calendarView",
        params={"startDateTime": "2030-03-01T00:00:00Z", "endDateTime": "2030-04-01T00:00:00Z"},
        headers={"Prefer": 'outlook.timezone="Eastern Standard Time"'},
    ).json()["value"]
    assert [r["start"]["dateTime"][11:16] for r in rows] == ["09:00", "09:00", "09:00"]

"""/me/events: create/read/update/delete, validation, transactionId, extended properties,
online meetings, immutable ids and cancel."""

from __future__ import annotations

from urllib.parse import quote

from tests.emulator.microsoft_support import WINDOW, Graph, event, graph_error, new_user, weekly

TAG_ID = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SmvueMeetingId"
IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


def test_create_returns_the_stored_event_with_the_body_as_written(emulator, admin):
    user, graph = new_user(admin, emulator)
    canary = admin.secrets()["description_canary"]
    created = graph.create(
        event(
            "1:1 Dana / Lee",
            "2030-01-10T09:00:00",
            "2030-01-10T09:30:00",
            zone="Pacific Standard Time",
            body={"contentType": "html", "content": "<html><body><p>Agenda</p></body></html>"},
            attendees=[
                {"emailAddress": {"address": "lee@example.com", "name": "Lee"}, "type": "required"},
                {"emailAddress": {"address": "room@example.com"}, "type": "resource"},
            ],
            location={"displayName": "Room 1"},
        )
    )
    assert created["id"].startswith("AAMkA") and created["type"] == "singleInstance"
    assert created["start"] == {"dateTime": "2030-01-10T17:00:00.0000000", "timeZone": "UTC"}
    assert created["originalStartTimeZone"] == "Pacific Standard Time"
    assert created["body"]["contentType"] == "html"
    # Exactly what was written: the emulator adds its canary only to events written without a body.
    assert created["body"]["content"] == "<html><body><p>Agenda</p></body></html>"
    assert created["bodyPreview"] == "Agenda"
    assert created["isOrganizer"] is True and created["responseStatus"]["response"] == "organizer"
    assert created["organizer"]["emailAddress"]["address"] == user["email"]
    assert created["attendees"][0] == {
        "type": "required",
        "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"name": "Lee", "address": "lee@example.com"},
    }
    assert (
        created["location"]["displayName"] == "Room 1" and created["locations"][0]["displayName"] == "Room 1"
    )
    assert created["@odata.etag"] == f'W/"{created["changeKey"]}"'
    assert created["iCalUId"] and created["webLink"].startswith("https://outlook.office365.com/")
    assert created["createdDateTime"].endswith("Z") and "transactionId" not in created
    assert "singleValueExtendedProperties" not in created
    fetched = graph.get(f"me/events/{created['id']}").json()
    assert fetched == created
    plain = graph.create(event("No body", "2030-01-11T09:00:00", "2030-01-11T09:30:00"))
    assert canary in plain["body"]["content"]


def test_select_drops_body_on_events(emulator, admin):
    _, graph = new_user(admin, emulator)
    created = graph.create(event("Selected", "2030-01-10T09:00:00", "2030-01-10T09:30:00"))
    one = graph.get(f"me/events/{created['id']}", params={"$select": "subject,start,end"}).json()
    assert set(one) == {"@odata.etag", "id", "subject", "start", "end"}
    listed = graph.get("me/events", params={"$select": "subject"}).json()["value"]
    assert listed == [{"@odata.etag": created["@odata.etag"], "id": created["id"], "subject": "Selected"}]


def test_create_validation(emulator, admin):
    _, graph = new_user(admin, emulator)
    start, end = "2030-01-10T09:00:00", "2030-01-10T10:00:00"
    bad_bodies = {
        "no start": {"subject": "x", "end": {"dateTime": end, "timeZone": "UTC"}},
        "no end": {"subject": "x", "start": {"dateTime": start, "timeZone": "UTC"}},
        "end before start": event("x", end, start),
        "bad date": event("x", "2030-13-45T09:00:00", end),
        "not a date": event("x", "tomorrow", end),
        "bad zone": event("x", start, end, zone="Mars/Olympus"),
        "start not object": {
            "subject": "x",
            "start": "2030-01-10",
            "end": {"dateTime": end, "timeZone": "UTC"},
        },
        "subject not string": event(42, start, end),
        "all-day not midnight": event("x", start, end, isAllDay=True),
        "all-day zero length": event("x", "2030-01-10T00:00:00", "2030-01-10T00:00:00", isAllDay=True),
        "isAllDay not bool": event("x", start, end, isAllDay="yes"),
        "attendee without address": event("x", start, end, attendees=[{"emailAddress": {"name": "A"}}]),
        "attendee bad type": event(
            "x", start, end, attendees=[{"emailAddress": {"address": "a@b.c"}, "type": "vip"}]
        ),
        "too many attendees": event(
            "x", start, end, attendees=[{"emailAddress": {"address": f"a{i}@b.c"}} for i in range(501)]
        ),
        "unknown property": event("x", start, end, colour="red"),
        "bad provider": event("x", start, end, isOnlineMeeting=True, onlineMeetingProvider="zoom"),
        "bad recurrence": event(
            "x",
            start,
            end,
            recurrence={"pattern": {"type": "hourly"}, "range": {"type": "noEnd", "startDate": "2030-01-10"}},
        ),
        "weekly without days": event(
            "x",
            start,
            end,
            recurrence={
                "pattern": {"type": "weekly", "interval": 1},
                "range": {"type": "noEnd", "startDate": "2030-01-10"},
            },
        ),
        "range without start": event(
            "x",
            start,
            end,
            recurrence={"pattern": {"type": "daily", "interval": 1}, "range": {"type": "noEnd"}},
        ),
        "numbered without count": event(
            "x",
            start,
            end,
            recurrence={
                "pattern": {"type": "daily"},
                "range": {"type": "numbered", "startDate": "2030-01-10"},
            },
        ),
        "bad interval": event(
            "x",
            start,
            end,
            recurrence={
                "pattern": {"type": "daily", "interval": 0},
                "range": {"type": "noEnd", "startDate": "2030-01-10"},
            },
        ),
        "extended property without id": event(
            "x", start, end, singleValueExtendedProperties=[{"value": "v"}]
        ),
        "body not object": event("x", start, end, body="text"),
    }
    for name, body in bad_bodies.items():
        response = graph.post("me/events", json=body)
        assert response.status_code == 400, (name, response.status_code, response.text)
        graph_error(response, 400)
    all_day = graph.create(event("Offsite", "2030-01-10T00:00:00", "2030-01-12T00:00:00", isAllDay=True))
    assert all_day["isAllDay"] is True and all_day["end"]["dateTime"] == "2030-01-12T00:00:00.0000000"
    assert graph.get("me/events").json()["value"] == [all_day]


def test_patch_is_partial_and_delete_is_final(emulator, admin):
    _, graph = new_user(admin, emulator)
    created = graph.create(
        event("Before", "2030-01-10T09:00:00", "2030-01-10T09:30:00", location={"displayName": "A"})
    )
    patched = graph.patch(f"me/events/{created['id']}", json={"subject": "After"})
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["subject"] == "After" and after["location"]["displayName"] == "A"
    assert after["start"] == created["start"] and after["changeKey"] != created["changeKey"]
    assert after["body"] == created["body"]
    graph_error(
        graph.patch(
            f"me/events/{created['id']}", json={"end": {"dateTime": "2030-01-10T08:00:00", "timeZone": "UTC"}}
        ),
        400,
    )
    graph_error(graph.patch(f"me/events/{created['id']}", json={"transactionId": "late"}), 400)
    assert graph.delete(f"me/events/{created['id']}").status_code == 204
    graph_error(graph.get(f"me/events/{created['id']}"), 404, "ErrorItemNotFound")
    graph_error(graph.delete(f"me/events/{created['id']}"), 404)
    graph_error(graph.patch(f"me/events/{created['id']}", json={"subject": "x"}), 404)


def test_occurrence_ids_support_get_patch_delete(emulator, admin):
    _, graph = new_user(admin, emulator)
    series = graph.create(weekly("Series", "2030-01-07T15:00:00", "2030-01-07T15:30:00", ["monday"], 3))
    instances = graph.get(f"me/events/{series['id']}/instances", params=WINDOW).json()["value"]
    assert [i["type"] for i in instances] == ["occurrence"] * 3
    first = graph.get(f"me/events/{instances[0]['id']}").json()
    assert (
        first["type"] == "occurrence"
        and first["seriesMasterId"] == series["id"]
        and first["recurrence"] is None
    )
    exception = graph.patch(f"me/events/{instances[0]['id']}", json={"subject": "Just this one"}).json()
    assert exception["type"] == "exception" and exception["id"] == instances[0]["id"]
    assert graph.get(f"me/events/{series['id']}").json()["subject"] == "Series"
    graph_error(graph.patch(f"me/events/{instances[1]['id']}", json={"recurrence": None}), 400)
    assert graph.delete(f"me/events/{instances[1]['id']}").status_code == 204
    remaining = graph.get(f"me/events/{series['id']}/instances", params=WINDOW).json()["value"]
    assert [i["subject"] for i in remaining] == ["Just this one", "Series"]
    # An id for a date the series does not have is unknown.
    bogus = instances[2]["id"][:-6] + "AAAAAA"
    assert graph.get(f"me/events/{bogus}").status_code in (400, 404)
    assert graph.get("me/events").json()["value"][0]["type"] == "seriesMaster"
    graph_error(graph.get(f"me/events/{instances[0]['id']}/instances", params=WINDOW), 400)


def test_transaction_id_makes_create_idempotent(emulator, admin):
    _, graph = new_user(admin, emulator)
    body = event("Retry me", "2030-01-10T09:00:00", "2030-01-10T09:30:00", transactionId="smvue-meeting-42")
    first = graph.create(body)
    replay = graph.post("me/events", json=body)
    assert replay.status_code == 201 and replay.json()["id"] == first["id"]
    assert first["transactionId"] == "smvue-meeting-42"
    assert len(graph.get("me/events").json()["value"]) == 1
    different = graph.post("me/events", json={**body, "subject": "Something else"})
    graph_error(different, 400, "ErrorDuplicateTransactionId")
    assert len(graph.get("me/events").json()["value"]) == 1
    _, other = new_user(admin, emulator)
    assert other.post("me/events", json=body).status_code == 201  # transaction ids are per mailbox


def test_extended_properties_filter_and_expand(emulator, admin):
    _, graph = new_user(admin, emulator)
    tagged = graph.create(
        event(
            "Tagged",
            "2030-01-10T09:00:00",
            "2030-01-10T09:30:00",
            singleValueExtendedProperties=[{"id": TAG_ID, "value": "m-1"}],
        )
    )
    graph.create(event("Untagged", "2030-01-11T09:00:00", "2030-01-11T09:30:00"))
    graph.create(
        event(
            "Other tag",
            "2030-01-12T09:00:00",
            "2030-01-12T09:30:00",
            singleValueExtendedProperties=[{"id": TAG_ID, "value": "m-2"}],
        )
    )
    assert "singleValueExtendedProperties" not in tagged
    assert "singleValueExtendedProperties" not in graph.get(f"me/events/{tagged['id']}").json()

    query = f"singleValueExtendedProperties/Any(ep: ep/id eq '{TAG_ID}' and ep/value eq 'm-1')"
    found = graph.get(f"me/events?$filter={quote(query)}").json()["value"]
    assert [e["id"] for e in found] == [tagged["id"]]
    expand = f"singleValueExtendedProperties($filter=id eq '{TAG_ID}')"
    expanded = graph.get(f"me/events/{tagged['id']}", params={"$expand": expand, "$select": "subject"}).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": TAG_ID, "value": "m-1"}]
    assert "body" not in expanded
    both = graph.get("me/events", params={"$filter": query, "$expand": expand}).json()["value"]
    assert both[0]["singleValueExtendedProperties"][0]["value"] == "m-1"
    by_subject = graph.get("me/events", params={"$filter": "subject eq 'Untagged'"}).json()["value"]
    assert [e["subject"] for e in by_subject] == ["Untagged"]
    later = graph.get("me/events", params={"$filter": "start/dateTime ge '2030-01-11T00:00:00'"}).json()[
        "value"
    ]
    assert {e["subject"] for e in later} == {"Untagged", "Other tag"}
    graph_error(graph.get("me/events", params={"$filter": "bogus eq 1"}), 400)
    graph_error(graph.get("me/events", params={"$filter": "subject gt 'a'"}), 400)
    graph_error(graph.get("me/events", params={"$expand": "attachments"}), 400)


def test_online_meeting_gets_a_join_url(emulator, admin):
    _, graph = new_user(admin, emulator)
    created = graph.create(
        event(
            "Call",
            "2030-01-10T09:00:00",
            "2030-01-10T09:30:00",
            isOnlineMeeting=True,
            onlineMeetingProvider="teamsForBusiness",
        )
    )
    assert created["isOnlineMeeting"] is True and created["onlineMeetingProvider"] == "teamsForBusiness"
    assert created["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/l/meetup-join/")
    offline = graph.patch(f"me/events/{created['id']}", json={"isOnlineMeeting": False}).json()
    assert offline["onlineMeeting"] is None


def test_immutable_ids_survive_cancel_and_rest_ids_do_not(emulator, admin):
    user, graph = new_user(admin, emulator)
    immutable = Graph(emulator.url, admin.token("microsoft", user["email"]), prefer='IdType="ImmutableId"')
    created = immutable.post(
        "me/events", json=event("Cancel me", "2030-01-10T09:00:00", "2030-01-10T09:30:00")
    )
    assert created.status_code == 201 and "ImmutableId" in created.headers["Preference-Applied"]
    immutable_id = created.json()["id"]
    rest_id = graph.get("me/events").json()["value"][0]["id"]
    assert rest_id != immutable_id
    # Both forms name the same event.
    assert graph.get(f"me/events/{immutable_id}").json()["subject"] == "Cancel me"
    assert immutable.get(f"me/events/{rest_id}").json()["id"] == immutable_id

    assert graph.post(f"me/events/{rest_id}/cancel", json={"comment": "No longer needed"}).status_code == 202
    graph_error(graph.get(f"me/events/{rest_id}"), 404)  # the item moved to Deleted Items
    moved = immutable.get(f"me/events/{immutable_id}")
    assert moved.status_code == 200 and moved.json()["isCancelled"] is True
    assert moved.json()["id"] == immutable_id
    assert graph.get("me/events").json()["value"] == []
    dump = admin.dump("microsoft", user["email"])
    assert dump[0]["deleted"] is True and dump[0]["immutable_id"] == immutable_id


def test_cancel_is_for_organizers_only(emulator, admin):
    user, graph = new_user(admin, emulator)
    [invite_id] = admin.seed(
        "microsoft",
        user["email"],
        [
            event(
                "Their meeting",
                "2030-01-10T09:00:00",
                "2030-01-10T09:30:00",
                organizer={"emailAddress": {"address": "boss@example.com", "name": "Boss"}},
            )
        ],
    )
    invite = graph.get(f"me/events/{invite_id}").json()
    assert invite["isOrganizer"] is False and invite["responseStatus"]["response"] == "notResponded"
    graph_error(graph.post(f"me/events/{invite_id}/cancel", json={"comment": "x"}), 400)
    graph_error(graph.post(f"me/events/{invite_id}/cancel", json={"comment": 5}), 400)
    graph_error(graph.post(f"me/events/{invite_id}/cancel", json={"reason": "x"}), 400)
    assert graph.get(f"me/events/{invite_id}").status_code == 200
    series = graph.create(weekly("Mine", "2030-01-07T15:00:00", "2030-01-07T15:30:00", ["monday"], 3))
    occurrence = graph.get(f"me/events/{series['id']}/instances", params=WINDOW).json()["value"][0]
    assert graph.post(f"me/events/{occurrence['id']}/cancel", json={}).status_code == 202
    assert len(graph.get(f"me/events/{series['id']}/instances", params=WINDOW).json()["value"]) == 2


def test_seed_and_dump_through_the_admin_api(emulator, admin):
    user = admin.new_user("microsoft")
    team = admin.add_calendar("microsoft", user["email"], "Team")
    ids = admin.seed(
        "microsoft",
        user["email"],
        [event("Seeded", "2030-01-10T09:00:00", "2030-01-10T09:30:00")],
        calendar_id=team,
    )
    graph = Graph(emulator.url, admin.token("microsoft", user["email"]))
    assert graph.get(f"me/calendars/{team}/events/{ids[0]}").json()["subject"] == "Seeded"
    graph_error(graph.get(f"me/calendars/{user['primary_calendar_id']}/events/{ids[0]}"), 404)
    rows = admin.dump("microsoft", user["email"])
    assert rows[0]["calendar_id"] == team and rows[0]["id"] == ids[0] and rows[0]["deleted"] is False
    assert admin.secrets()["description_canary"] in rows[0]["event"]["body"]["content"]
    bad = admin.http.post(
        f"{emulator.url}/_admin/events",
        json={"email": user["email"], "provider": "microsoft", "events": [{"subject": "no times"}]},
    )
    assert bad.status_code == 400 and "events[0]" in bad.json()["error"]

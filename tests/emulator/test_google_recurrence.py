"""Recurring series (Google): RRULE/EXDATE/RDATE expansion in the series' zone, instance ids,
moved and cancelled instances, series changes and deletion, events.instances."""

from __future__ import annotations

import pytest

from tests.emulator.google_client import error_reason, http_error, list_all, timed

NY = "America/New_York"


def _series(alice, recurrence, start="2031-03-03T10:00:00", end="2031-03-03T10:30:00", tz=NY, **extra):
    body = timed(start, end, tz=tz, recurrence=recurrence, summary="Weekly 1:1", **extra)
    return alice.events.insert(calendarId="primary", body=body).execute()


def _instances(alice, **params):
    items, _, _ = list_all(
        alice.events, calendarId="primary", singleEvents=True, orderBy="startTime", **params
    )
    return items


def test_weekly_series_expands_in_its_zone_across_dst(alice):
    # 2031-03-09 is the US DST switch: 10:00 New York stays 10:00 local (15:00Z, then 14:00Z).
    master = _series(alice, ["RRULE:FREQ=WEEKLY;COUNT=3"])
    items = _instances(alice)
    assert [item["id"] for item in items] == [
        f"{master['id']}_20310303T150000Z",
        f"{master['id']}_20310310T140000Z",
        f"{master['id']}_20310317T140000Z",
    ]
    for item in items:
        assert item["start"]["dateTime"].endswith("T10:00:00-05:00") or item["start"]["dateTime"].endswith(
            "T10:00:00-04:00"
        )
        assert item["recurringEventId"] == master["id"]
        assert item["iCalUID"] == master["iCalUID"]
        assert item["originalStartTime"] == item["start"]
        assert "recurrence" not in item
    # Without singleEvents the master comes back instead of its instances.
    plain = alice.events.list(calendarId="primary").execute()["items"]
    assert [item["id"] for item in plain] == [master["id"]]
    assert plain[0]["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=3"]


def test_exdate_rdate_and_until_forms(alice):
    master = _series(
        alice,
        [
            "RRULE:FREQ=DAILY;UNTIL=20310309",
            "EXDATE;TZID=America/New_York:20310304T100000",
            "EXDATE:20310305T150000Z",
            "EXDATE;VALUE=DATE:20310306",
            "RDATE;TZID=America/New_York:20310320T100000",
        ],
    )
    days = [item["start"]["dateTime"][:10] for item in _instances(alice)]
    assert days == ["2031-03-03", "2031-03-07", "2031-03-08", "2031-03-09", "2031-03-20"]
    assert all(item["recurringEventId"] == master["id"] for item in _instances(alice))


def test_all_day_series(alice):
    master = alice.events.insert(
        calendarId="primary",
        body={
            "start": {"date": "2031-05-01"},
            "end": {"date": "2031-05-02"},
            "recurrence": ["RRULE:FREQ=MONTHLY;COUNT=3", "EXDATE;VALUE=DATE:20310601"],
        },
    ).execute()
    items = _instances(alice)
    assert [item["id"] for item in items] == [f"{master['id']}_20310501", f"{master['id']}_20310701"]
    assert items[1]["start"] == {"date": "2031-07-01"} and items[1]["end"] == {"date": "2031-07-02"}
    assert items[1]["originalStartTime"] == {"date": "2031-07-01"}


def test_windows_select_instances(alice):
    master = _series(
        alice, ["RRULE:FREQ=DAILY;COUNT=10"], tz="UTC", start="2031-04-01T09:00:00", end="2031-04-01T10:00:00"
    )
    items = _instances(alice, timeMin="2031-04-03T10:00:00Z", timeMax="2031-04-05T09:00:00Z")
    assert [item["id"] for item in items] == [f"{master['id']}_20310404T090000Z"]


def test_moved_and_cancelled_instances(alice):
    master = _series(
        alice, ["RRULE:FREQ=WEEKLY;COUNT=4"], tz="UTC", start="2031-06-02T09:00:00", end="2031-06-02T09:30:00"
    )
    _, token, _ = list_all(alice.events, calendarId="primary", singleEvents=True)
    moved_id = f"{master['id']}_20310609T090000Z"
    cancelled_id = f"{master['id']}_20310616T090000Z"
    unmodified = alice.events.get(calendarId="primary", eventId=moved_id).execute()
    assert unmodified["recurringEventId"] == master["id"]

    moved = alice.events.patch(
        calendarId="primary",
        eventId=moved_id,
        body={"start": {"dateTime": "2031-06-10T15:00:00Z"}, "end": {"dateTime": "2031-06-10T15:30:00Z"}},
    ).execute()
    assert moved["id"] == moved_id and moved["recurringEventId"] == master["id"]
    assert moved["originalStartTime"] == {"dateTime": "2031-06-09T09:00:00Z", "timeZone": "UTC"}
    assert moved["start"]["dateTime"] == "2031-06-10T15:00:00Z"
    assert alice.events.delete(calendarId="primary", eventId=cancelled_id).execute() == ""
    error = http_error(alice.events.delete(calendarId="primary", eventId=cancelled_id))
    assert error.resp.status == 410

    items = _instances(alice)
    assert [(i["id"], i["start"]["dateTime"]) for i in items] == [
        (f"{master['id']}_20310602T090000Z", "2031-06-02T09:00:00Z"),
        (moved_id, "2031-06-10T15:00:00Z"),
        (f"{master['id']}_20310623T090000Z", "2031-06-23T09:00:00Z"),
    ]
    # Incremental sync reports the moved instance and the cancelled one (id, series, original start).
    delta = {
        i["id"]: i
        for i in alice.events.list(calendarId="primary", singleEvents=True, syncToken=token).execute()[
            "items"
        ]
    }
    assert set(delta) == {moved_id, cancelled_id}
    cancelled = delta[cancelled_id]
    assert cancelled["status"] == "cancelled" and cancelled["recurringEventId"] == master["id"]
    assert cancelled["originalStartTime"]["dateTime"] == "2031-06-16T09:00:00Z"
    # Without singleEvents: the master plus its exceptions as separate items.
    plain = {i["id"]: i for i in alice.events.list(calendarId="primary").execute()["items"]}
    assert set(plain) == {master["id"], moved_id, cancelled_id}
    # Instances that never existed are not found.
    error = http_error(alice.events.get(calendarId="primary", eventId=f"{master['id']}_20310603T090000Z"))
    assert error.resp.status == 404


def test_changing_the_series_re_expands(alice):
    master = _series(
        alice, ["RRULE:FREQ=DAILY;COUNT=5"], tz="UTC", start="2031-07-01T09:00:00", end="2031-07-01T10:00:00"
    )
    exception_id = f"{master['id']}_20310705T090000Z"
    alice.events.patch(calendarId="primary", eventId=exception_id, body={"summary": "special"}).execute()
    _, token, _ = list_all(alice.events, calendarId="primary", singleEvents=True)
    shorter = alice.events.patch(
        calendarId="primary", eventId=master["id"], body={"recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]}
    ).execute()
    assert shorter["sequence"] == master["sequence"] + 1
    assert len(_instances(alice)) == 3
    # The exception of a vanished instance is gone; an incremental sync floods the series' instances.
    delta = alice.events.list(calendarId="primary", singleEvents=True, syncToken=token).execute()["items"]
    by_id = {item["id"]: item for item in delta}
    assert by_id[exception_id]["status"] == "cancelled"
    assert {f"{master['id']}_2031070{d}T090000Z" for d in (1, 2, 3)} <= set(by_id)
    later = alice.events.patch(
        calendarId="primary",
        eventId=master["id"],
        body={
            "start": {"dateTime": "2031-07-01T11:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2031-07-01T12:00:00", "timeZone": "UTC"},
        },
    ).execute()
    assert [i["id"] for i in _instances(alice)] == [f"{later['id']}_2031070{d}T110000Z" for d in (1, 2, 3)]
    moved_id = f"{master['id']}_20310702T110000Z"
    alice.events.patch(calendarId="primary", eventId=moved_id, body={"summary": "one-off"}).execute()
    single = alice.events.patch(calendarId="primary", eventId=master["id"], body={"recurrence": []}).execute()
    assert "recurrence" not in single
    assert [i["id"] for i in _instances(alice)] == [master["id"]]  # no longer a series, no exceptions


def test_deleting_the_series(alice):
    master = _series(
        alice, ["RRULE:FREQ=DAILY;COUNT=3"], tz="UTC", start="2031-08-01T09:00:00", end="2031-08-01T10:00:00"
    )
    exception_id = f"{master['id']}_20310802T090000Z"
    alice.events.patch(calendarId="primary", eventId=exception_id, body={"summary": "moved"}).execute()
    _, token, _ = list_all(alice.events, calendarId="primary", singleEvents=True)
    alice.events.delete(calendarId="primary", eventId=master["id"]).execute()
    assert _instances(alice) == []
    assert alice.events.list(calendarId="primary").execute()["items"] == []
    # Documented choice: with singleEvents, a deleted series is one cancelled item with the master's id
    # (plus its exceptions, each cancelled); clients drop every instance whose recurringEventId matches.
    delta = {
        i["id"]: i
        for i in alice.events.list(calendarId="primary", singleEvents=True, syncToken=token).execute()[
            "items"
        ]
    }
    assert set(delta) == {master["id"], exception_id}
    assert delta[master["id"]]["status"] == "cancelled" and delta[exception_id]["status"] == "cancelled"
    error = http_error(alice.events.get(calendarId="primary", eventId=f"{master['id']}_20310803T090000Z"))
    assert error.resp.status == 404


def test_events_instances(alice):
    master = _series(
        alice, ["RRULE:FREQ=DAILY;COUNT=4"], tz="UTC", start="2031-09-01T09:00:00", end="2031-09-01T10:00:00"
    )
    alice.events.delete(calendarId="primary", eventId=f"{master['id']}_20310902T090000Z").execute()
    listed = alice.events.instances(calendarId="primary", eventId=master["id"]).execute()["items"]
    assert [i["id"][-16:] for i in listed] == ["20310901T090000Z", "20310903T090000Z", "20310904T090000Z"]
    with_deleted = alice.events.instances(
        calendarId="primary", eventId=master["id"], showDeleted=True
    ).execute()
    assert len(with_deleted["items"]) == 4
    windowed = alice.events.instances(
        calendarId="primary", eventId=master["id"], timeMin="2031-09-03T09:30:00Z", maxResults=1
    ).execute()
    assert [i["id"][-16:] for i in windowed["items"]] == ["20310903T090000Z"] and "nextPageToken" in windowed


@pytest.mark.parametrize(
    "recurrence",
    [
        ["RRULE:FREQ=SOMETIMES"],
        ["DTSTART:20310101T000000Z"],
        ["RRULE:FREQ=DAILY;BYDAY=XX"],
        ["EXDATE;TZID=Nowhere/Land:20310101T100000"],
        ["not a rule"],
        [42],
        ["RRULE:FREQ=HOURLY;COUNT=3"],
        ["RRULE:FREQ=DAILY;INTERVAL=0"],
        ["RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"],  # never matches: refused, not searched to year 9999
        ["RRULE:FREQ=WEEKLY;UNTIL=notadate"],
    ],
)
def test_invalid_recurrence_is_400(alice, recurrence):
    error = http_error(
        alice.events.insert(
            calendarId="primary",
            body=timed("2031-01-01T10:00:00", "2031-01-01T11:00:00", tz=NY, recurrence=recurrence),
        )
    )
    assert error.resp.status == 400


def test_far_instance_ids_are_not_found(alice):
    master = _series(
        alice, ["RRULE:FREQ=DAILY"], tz="UTC", start="2031-10-01T09:00:00", end="2031-10-01T10:00:00"
    )
    for suffix in ("99991231T090000Z", "20311001T090001Z", "20300101T090000Z", "2031"):
        error = http_error(alice.events.get(calendarId="primary", eventId=f"{master['id']}_{suffix}"))
        assert error.resp.status == 404


def test_recurring_timed_events_need_a_time_zone(alice):
    error = http_error(
        alice.events.insert(
            calendarId="primary",
            body=timed("2031-01-01T10:00:00Z", "2031-01-01T11:00:00Z", recurrence=["RRULE:FREQ=DAILY"]),
        )
    )
    assert error.resp.status == 400 and error_reason(error) == "invalid"

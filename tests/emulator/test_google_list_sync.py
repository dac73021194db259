"""calendarList, events.list windows, paging, incremental sync, deletions and filters (Google)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.emulator.google_client import error_reason, http_error, list_all, new_mailbox, timed

DELETED_KEYS = {"kind", "etag", "id", "status", "updated"}
CANCELLED_INSTANCE_KEYS = {"kind", "etag", "id", "status", "recurringEventId", "originalStartTime", "updated"}


def _insert(mailbox, start, end, **extra):
    return mailbox.events.insert(calendarId="primary", body=timed(start, end, **extra)).execute()


# --- calendars --------------------------------------------------------------------------------
def test_calendar_list_primary_and_secondary(alice, admin, emulator):
    secondary = admin.add_calendar("google", alice.email, "Team")
    assert secondary.endswith("@group.calendar.google.com")
    listed = alice.service.calendarList().list().execute()
    by_id = {entry["id"]: entry for entry in listed["items"]}
    primary = by_id[alice.email]
    assert primary["primary"] is True
    assert primary["accessRole"] == "owner" and primary["summary"] == alice.email and primary["timeZone"]
    assert by_id[secondary]["summary"] == "Team" and "primary" not in by_id[secondary]
    assert alice.service.calendarList().get(calendarId="primary").execute()["id"] == alice.email
    assert alice.service.calendarList().get(calendarId=secondary).execute()["summary"] == "Team"
    calendar = alice.service.calendars().get(calendarId="primary").execute()
    assert calendar["id"] == alice.email and calendar["timeZone"] == primary["timeZone"]
    # `primary` resolves to the user's own calendar for events too.
    created = _insert(alice, "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z", summary="p")
    assert alice.events.get(calendarId=alice.email, eventId=created["id"]).execute()["summary"] == "p"
    on_secondary = alice.events.insert(
        calendarId=secondary, body=timed("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z", summary="s")
    ).execute()
    assert on_secondary["organizer"] == {"email": secondary, "displayName": "Team", "self": True}
    assert [i["id"] for i in alice.events.list(calendarId=secondary).execute()["items"]] == [
        on_secondary["id"]
    ]


def test_other_users_calendars_are_not_found(alice, admin, emulator):
    bob = new_mailbox(emulator, admin, name="Bob")
    bob_secondary = admin.add_calendar("google", bob.email, "Bob's")
    created = _insert(bob, "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z")
    for call in (
        alice.events.list(calendarId=bob.email),
        alice.events.list(calendarId=bob_secondary),
        alice.events.get(calendarId=bob.email, eventId=created["id"]),
        alice.events.delete(calendarId=bob.email, eventId=created["id"]),
        alice.service.calendarList().get(calendarId=bob.email),
        alice.events.list(calendarId="nobody@example.com"),
    ):
        error = http_error(call)
        assert error.resp.status == 404 and error_reason(error) == "notFound"


# --- time windows -----------------------------------------------------------------------------
def test_time_bounds_are_exclusive(alice):
    created = _insert(alice, "2030-02-01T10:00:00Z", "2030-02-01T11:00:00Z")

    def ids(**window):
        return [item["id"] for item in alice.events.list(calendarId="primary", **window).execute()["items"]]

    assert ids(timeMin="2030-02-01T11:00:00Z") == []  # timeMin bounds the END, exclusively
    assert ids(timeMin="2030-02-01T10:59:59Z") == [created["id"]]
    assert ids(timeMax="2030-02-01T10:00:00Z") == []  # timeMax bounds the START, exclusively
    assert ids(timeMax="2030-02-01T10:00:01Z") == [created["id"]]
    assert ids(timeMin="2030-02-01T13:00:00+02:00", timeMax="2030-02-01T14:00:00+02:00") == []
    assert ids(timeMin="2030-02-01T12:30:00+02:00", timeMax="2030-02-01T13:00:00+02:00") == [created["id"]]


def test_all_day_events_in_windows(alice):
    created = alice.events.insert(
        calendarId="primary", body={"start": {"date": "2030-02-03"}, "end": {"date": "2030-02-04"}}
    ).execute()
    inside = alice.events.list(
        calendarId="primary", timeMin="2030-02-03T23:00:00Z", timeMax="2030-02-05T00:00:00Z"
    ).execute()
    assert [item["id"] for item in inside["items"]] == [created["id"]]
    after = alice.events.list(calendarId="primary", timeMin="2030-02-04T00:00:00Z").execute()
    assert after["items"] == []


@pytest.mark.parametrize(
    "window",
    [
        {"timeMin": "2030-02-01T10:00:00"},  # no offset
        {"timeMax": "2030-02-01"},
        {"timeMin": "yesterday"},
        {"updatedMin": "2030-02-01T10:00:00"},
    ],
)
def test_time_parameters_need_rfc3339_with_offset(alice, window):
    error = http_error(alice.events.list(calendarId="primary", **window))
    assert error.resp.status == 400


def test_empty_range_is_time_range_empty(alice):
    for bounds in (("2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z"), ("2030-01-01T00:00:00Z",) * 2):
        error = http_error(alice.events.list(calendarId="primary", timeMin=bounds[0], timeMax=bounds[1]))
        assert error.resp.status == 400 and error_reason(error) == "timeRangeEmpty"


# --- paging -----------------------------------------------------------------------------------
def test_paging_with_max_results_and_stable_snapshot(alice, admin):
    admin.seed(
        "google",
        alice.email,
        [
            timed(f"2030-04-0{day}T09:00:00Z", f"2030-04-0{day}T10:00:00Z", summary=f"e{day}")
            for day in range(1, 8)
        ],
    )
    first = alice.events.list(calendarId="primary", maxResults=3).execute()
    assert len(first["items"]) == 3 and "nextPageToken" in first and "nextSyncToken" not in first
    # Created while paging: not in later pages, but in the next incremental sync.
    late = _insert(alice, "2030-04-09T09:00:00Z", "2030-04-09T10:00:00Z", summary="late")
    second = alice.events.list(calendarId="primary", maxResults=3, pageToken=first["nextPageToken"]).execute()
    again = alice.events.list(calendarId="primary", maxResults=3, pageToken=first["nextPageToken"]).execute()
    assert [i["id"] for i in second["items"]] == [i["id"] for i in again["items"]]  # retries are safe
    third = alice.events.list(calendarId="primary", maxResults=3, pageToken=second["nextPageToken"]).execute()
    assert "nextPageToken" not in third and "nextSyncToken" in third
    seen = [i["summary"] for page in (first, second, third) for i in page["items"]]
    assert sorted(seen) == [f"e{day}" for day in range(1, 8)]
    incremental = alice.events.list(calendarId="primary", syncToken=third["nextSyncToken"]).execute()
    assert [i["id"] for i in incremental["items"]] == [late["id"]]


def test_max_results_default_cap_and_minimum(alice, admin):
    admin.seed(
        "google",
        alice.email,
        [timed("2030-05-01T09:00:00Z", "2030-05-01T09:30:00Z") for _ in range(2600)],
    )
    default = alice.events.list(calendarId="primary").execute()
    assert len(default["items"]) == 250 and "nextPageToken" in default
    capped = alice.events.list(
        calendarId="primary", maxResults=10000, fields="items(id),nextPageToken"
    ).execute()
    assert len(capped["items"]) == 2500 and "nextPageToken" in capped
    for bad in (0, -5):
        error = http_error(alice.events.list(calendarId="primary", maxResults=bad))
        assert error.resp.status == 400


def test_unknown_page_token_is_400(alice):
    error = http_error(alice.events.list(calendarId="primary", pageToken="nonsense"))
    assert error.resp.status == 400


# --- incremental sync -------------------------------------------------------------------------
def test_incremental_sync_reports_changes_and_deletions(alice):
    kept = _insert(alice, "2030-06-01T10:00:00Z", "2030-06-01T11:00:00Z", summary="kept")
    changed = _insert(alice, "2030-06-02T10:00:00Z", "2030-06-02T11:00:00Z", summary="changed")
    gone = _insert(alice, "2030-06-03T10:00:00Z", "2030-06-03T11:00:00Z", summary="gone")
    items, token, _ = list_all(alice.events, calendarId="primary")
    assert {i["id"] for i in items} == {kept["id"], changed["id"], gone["id"]}
    assert token

    alice.events.patch(calendarId="primary", eventId=changed["id"], body={"summary": "changed!"}).execute()
    alice.events.delete(calendarId="primary", eventId=gone["id"]).execute()
    added = _insert(alice, "2030-06-04T10:00:00Z", "2030-06-04T11:00:00Z", summary="added")

    delta = alice.events.list(calendarId="primary", syncToken=token).execute()
    by_id = {item["id"]: item for item in delta["items"]}
    assert set(by_id) == {changed["id"], gone["id"], added["id"]}
    assert by_id[changed["id"]]["summary"] == "changed!"
    assert by_id[gone["id"]]["status"] == "cancelled"
    assert set(by_id[gone["id"]]) <= DELETED_KEYS
    assert "nextSyncToken" in delta and "nextPageToken" not in delta

    quiet = alice.events.list(calendarId="primary", syncToken=delta["nextSyncToken"]).execute()
    assert quiet["items"] == [] and quiet["nextSyncToken"]
    # showDeleted=true is allowed with a sync token (deletions are included anyway).
    alice.events.list(calendarId="primary", syncToken=token, showDeleted=True).execute()


def test_incremental_sync_can_be_paged(alice):
    _, token, _ = list_all(alice.events, calendarId="primary")
    created = [
        _insert(alice, f"2030-07-0{d}T10:00:00Z", f"2030-07-0{d}T11:00:00Z")["id"] for d in range(1, 6)
    ]
    items, next_token, pages = list_all(alice.events, calendarId="primary", syncToken=token, maxResults=2)
    assert pages == 3 and [i["id"] for i in items] == created and next_token


@pytest.mark.parametrize(
    "extra",
    [
        {"iCalUID": "x@google.com"},
        {"orderBy": "updated"},
        {"privateExtendedProperty": "a=b"},
        {"q": "hello"},
        {"sharedExtendedProperty": "a=b"},
        {"timeMin": "2030-01-01T00:00:00Z"},
        {"timeMax": "2030-01-01T00:00:00Z"},
        {"updatedMin": "2030-01-01T00:00:00Z"},
        {"showDeleted": False},
    ],
)
def test_sync_token_forbidden_combinations(alice, extra):
    _, token, _ = list_all(alice.events, calendarId="primary")
    error = http_error(alice.events.list(calendarId="primary", syncToken=token, **extra))
    assert error.resp.status == 400
    assert error_reason(error) == "syncTokenWithRequestRestrictions"


def test_invalidated_sync_tokens_answer_410(alice, admin, emulator):
    _, token, _ = list_all(alice.events, calendarId="primary")
    state = emulator.state
    with state.lock:
        user = state.identity.find_user("google", alice.email)
        state.google.invalidate_sync_tokens(user)  # this user's tokens only
    error = http_error(alice.events.list(calendarId="primary", syncToken=token))
    assert error.resp.status == 410 and error_reason(error) == "fullSyncRequired"

    _, fresh, _ = list_all(alice.events, calendarId="primary")
    admin.faults({"expire_sync_tokens": True})  # everyone's tokens
    admin.clear_faults()
    error = http_error(alice.events.list(calendarId="primary", syncToken=fresh))
    assert error.resp.status == 410 and error_reason(error) == "fullSyncRequired"
    _, recovered, _ = list_all(alice.events, calendarId="primary")  # a full sync starts over
    alice.events.list(calendarId="primary", syncToken=recovered).execute()


def test_sync_token_of_another_calendar_is_gone(alice, admin):
    secondary = admin.add_calendar("google", alice.email, "Other")
    _, token, _ = list_all(alice.events, calendarId=secondary)
    error = http_error(alice.events.list(calendarId="primary", syncToken=token))
    assert error.resp.status == 410
    error = http_error(alice.events.list(calendarId="primary", syncToken="garbage!"))
    assert error.resp.status == 400


# --- deletions: showDeleted x singleEvents ----------------------------------------------------
def test_show_deleted_matrix(alice):
    single = _insert(alice, "2030-08-01T10:00:00Z", "2030-08-01T11:00:00Z", summary="single")
    deleted = _insert(alice, "2030-08-02T10:00:00Z", "2030-08-02T11:00:00Z", summary="deleted")
    alice.events.delete(calendarId="primary", eventId=deleted["id"]).execute()
    series = _insert(
        alice,
        "2030-08-03T10:00:00",
        "2030-08-03T11:00:00",
        tz="Europe/Paris",
        summary="series",
        recurrence=["RRULE:FREQ=DAILY;COUNT=3"],
    )
    cancelled_id = f"{series['id']}_20300804T080000Z"
    alice.events.delete(calendarId="primary", eventId=cancelled_id).execute()
    gone_series = _insert(
        alice,
        "2030-08-03T12:00:00",
        "2030-08-03T13:00:00",
        tz="Europe/Paris",
        recurrence=["RRULE:FREQ=DAILY;COUNT=2"],
    )
    alice.events.delete(calendarId="primary", eventId=gone_series["id"]).execute()

    def listed(single_events, show_deleted):
        items, _, _ = list_all(
            alice.events, calendarId="primary", singleEvents=single_events, showDeleted=show_deleted
        )
        return {item["id"]: item for item in items}

    plain = listed(False, False)
    assert set(plain) == {single["id"], series["id"], cancelled_id}
    assert (
        set(plain[cancelled_id]) == CANCELLED_INSTANCE_KEYS and plain[cancelled_id]["status"] == "cancelled"
    )

    with_deleted = listed(False, True)
    assert set(with_deleted) == {single["id"], series["id"], cancelled_id, deleted["id"], gone_series["id"]}
    assert set(with_deleted[deleted["id"]]) <= DELETED_KEYS

    expanded = listed(True, False)
    assert set(expanded) == {
        single["id"],
        f"{series['id']}_20300803T080000Z",
        f"{series['id']}_20300805T080000Z",
    }

    expanded_deleted = listed(True, True)
    assert set(expanded_deleted) == set(expanded) | {cancelled_id, deleted["id"]}  # no deleted masters
    assert expanded_deleted[cancelled_id]["recurringEventId"] == series["id"]


def test_updated_min_includes_deletions(alice, emulator):
    before = _insert(alice, "2030-09-01T10:00:00Z", "2030-09-01T11:00:00Z", summary="before")
    now = emulator.state.clock.now()
    mark = (now - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    earlier = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = _insert(alice, "2030-09-02T10:00:00Z", "2030-09-02T11:00:00Z", summary="after")
    alice.events.delete(calendarId="primary", eventId=before["id"]).execute()
    items = alice.events.list(calendarId="primary", updatedMin=mark).execute()["items"]
    by_id = {item["id"]: item for item in items}
    assert by_id[later["id"]]["summary"] == "after"
    assert by_id[before["id"]]["status"] == "cancelled"
    assert len(alice.events.list(calendarId="primary", updatedMin=earlier).execute()["items"]) == 2
    too_old = (datetime.now(UTC) - timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ")
    error = http_error(alice.events.list(calendarId="primary", updatedMin=too_old))
    assert error.resp.status == 410 and error_reason(error) == "updatedMinTooLongAgo"


# --- filters and ordering ---------------------------------------------------------------------
def test_extended_property_q_and_ical_uid_filters(alice):
    tagged = _insert(
        alice,
        "2030-10-01T10:00:00Z",
        "2030-10-01T11:00:00Z",
        summary="Pipeline review",
        extendedProperties={"private": {"smvue": "m-1", "kind": "1on1"}, "shared": {"team": "west"}},
    )
    other = _insert(
        alice,
        "2030-10-02T10:00:00Z",
        "2030-10-02T11:00:00Z",
        summary="Lunch",
        location="Cafe Pipeline",
        extendedProperties={"private": {"smvue": "m-2"}},
    )

    def ids(**params):
        return {item["id"] for item in alice.events.list(calendarId="primary", **params).execute()["items"]}

    assert ids(privateExtendedProperty="smvue=m-1") == {tagged["id"]}
    assert ids(privateExtendedProperty=["smvue=m-1", "kind=1on1"]) == {tagged["id"]}
    assert ids(privateExtendedProperty=["smvue=m-2", "kind=1on1"]) == set()
    assert ids(sharedExtendedProperty="team=west") == {tagged["id"]}
    assert ids(sharedExtendedProperty="smvue=m-1") == set()  # private and shared are separate
    assert ids(q="pipeline") == {tagged["id"], other["id"]}
    assert ids(q="lunch") == {other["id"]}
    assert ids(iCalUID=tagged["iCalUID"]) == {tagged["id"]}
    filtered = alice.events.list(calendarId="primary", q="lunch").execute()
    assert "nextSyncToken" not in filtered  # a filtered view cannot seed incremental sync
    error = http_error(alice.events.list(calendarId="primary", privateExtendedProperty="novalue"))
    assert error.resp.status == 400


def test_order_by(alice):
    late = _insert(alice, "2030-11-03T10:00:00Z", "2030-11-03T11:00:00Z", summary="late")
    early = _insert(alice, "2030-11-01T10:00:00Z", "2030-11-01T11:00:00Z", summary="early")
    alice.events.patch(calendarId="primary", eventId=late["id"], body={"location": "x"}).execute()
    by_start = alice.events.list(calendarId="primary", singleEvents=True, orderBy="startTime").execute()
    assert [i["id"] for i in by_start["items"]] == [early["id"], late["id"]]
    by_updated = alice.events.list(calendarId="primary", orderBy="updated").execute()
    assert [i["id"] for i in by_updated["items"]] == [early["id"], late["id"]]
    error = http_error(alice.events.list(calendarId="primary", orderBy="startTime"))
    assert error.resp.status == 400

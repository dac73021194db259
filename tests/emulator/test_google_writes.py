"""events.insert / get / update / patch / delete: ids, 409/410, etags, extended properties,
conference data, canary descriptions, scopes and authentication (Google)."""

from __future__ import annotations

import re
import uuid

import pytest
from google.auth.exceptions import RefreshError

from tests.emulator.google_client import (
    calendar_service,
    error_reason,
    http_error,
    http_session,
    new_mailbox,
    oauth_tokens,
    timed,
)

START, END = "2031-01-10T10:00:00Z", "2031-01-10T11:00:00Z"
UPDATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _insert(alice, **extra):
    return alice.events.insert(calendarId="primary", body=timed(START, END, **extra)).execute()


def test_insert_returns_the_full_google_shape(alice, admin):
    created = _insert(
        alice,
        summary="1:1 Alice / Rep",
        description="Agenda: pipeline",
        location="Room 4",
        attendees=[
            {"email": alice.email},
            {"email": "rep@example.com", "displayName": "Rep", "optional": True},
            {"email": "room@resource.example.com", "resource": True, "responseStatus": "accepted"},
        ],
    )
    canary = admin.secrets()["description_canary"]
    assert created["kind"] == "calendar#event" and created["status"] == "confirmed"
    assert re.fullmatch(r"[0-9a-v]{5,1024}", created["id"])
    assert created["iCalUID"] == f"{created['id']}@google.com"
    assert created["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert UPDATED.match(created["created"]) and UPDATED.match(created["updated"])
    assert created["sequence"] == 0 and created["etag"].startswith('"')
    assert created["organizer"] == {"email": alice.email, "self": True}
    assert created["creator"] == {"email": alice.email, "self": True}
    assert created["description"] == "Agenda: pipeline"  # a real provider returns what was written
    me, rep, room = created["attendees"]
    assert me == {"email": alice.email, "organizer": True, "self": True, "responseStatus": "needsAction"}
    assert rep == {
        "email": "rep@example.com",
        "displayName": "Rep",
        "optional": True,
        "responseStatus": "needsAction",
    }
    assert room["resource"] is True and room["responseStatus"] == "accepted"
    assert alice.events.get(calendarId="primary", eventId=created["id"]).execute() == created
    # Without a description the event carries the emulator's canary, for privacy checks.
    bare = _insert(alice)
    assert canary in bare["description"]
    # A description that already carries a test's own canary comes back untouched too.
    own = _insert(alice, description=f"notes {canary}-mine")
    assert own["description"] == f"notes {canary}-mine"


def test_client_chosen_ids(alice):
    good = uuid.uuid4().hex  # a UUID without hyphens is valid base32hex
    created = alice.events.insert(calendarId="primary", body=timed(START, END, id=good)).execute()
    assert created["id"] == good
    for bad in ("abcd", "ABCDEF12345", "abcdefw123", "0123-4567", "a" * 1025, 12345):
        error = http_error(alice.events.insert(calendarId="primary", body=timed(START, END, id=bad)))
        assert error.resp.status == 400 and error_reason(error) == "invalid", bad
    error = http_error(
        alice.events.insert(calendarId="primary", body=timed(START, END, id=uuid.uuid4().hex, iCalUID="x@y"))
    )
    assert error.resp.status == 400


def test_duplicate_ids_and_the_idempotent_create_pattern(alice):
    event_id = uuid.uuid4().hex
    body = timed(START, END, id=event_id, summary="first")
    alice.events.insert(calendarId="primary", body=body).execute()
    # A retried create: 409, then get + patch is the idempotent path.
    error = http_error(alice.events.insert(calendarId="primary", body={**body, "summary": "retry"}))
    assert error.resp.status == 409 and error_reason(error) == "duplicate"
    assert "The requested identifier already exists" in error.reason
    existing = alice.events.get(calendarId="primary", eventId=event_id).execute()
    patched = alice.events.patch(
        calendarId="primary", eventId=existing["id"], body={"summary": "retry"}
    ).execute()
    assert patched["summary"] == "retry"
    # Deleted ids stay taken; deleting twice is 410 deleted.
    assert alice.events.delete(calendarId="primary", eventId=event_id).execute() == ""
    error = http_error(alice.events.insert(calendarId="primary", body=body))
    assert error.resp.status == 409 and error_reason(error) == "duplicate"
    error = http_error(alice.events.delete(calendarId="primary", eventId=event_id))
    assert error.resp.status == 410 and error_reason(error) == "deleted"
    tombstone = alice.events.get(calendarId="primary", eventId=event_id).execute()
    assert tombstone["status"] == "cancelled"
    error = http_error(alice.events.get(calendarId="primary", eventId="nosuchevent1"))
    assert error.resp.status == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"end": {"dateTime": END}}, "required"),
        ({"start": {"dateTime": START}}, "required"),
        (timed("2031-01-10T11:00:00Z", "2031-01-10T10:00:00Z"), "timeRangeEmpty"),
        ({"start": {"date": "2031-01-10"}, "end": {"date": "2031-01-10"}}, "timeRangeEmpty"),
        ({"start": {"date": "2031-01-10"}, "end": {"dateTime": END}}, "invalid"),
        (timed("2031-01-10T10:00:00", "2031-01-10T11:00:00"), "invalid"),  # no offset, no zone
        (timed(START, END, tz="Mars/Olympus"), "invalid"),
        ({"start": {"date": "2031-02-30"}, "end": {"date": "2031-03-01"}}, "invalid"),
        ({"start": {"dateTime": START, "date": "2031-01-10"}, "end": {"dateTime": END}}, "invalid"),
    ],
)
def test_start_and_end_are_validated(alice, body, reason):
    error = http_error(alice.events.insert(calendarId="primary", body=body))
    assert error.resp.status == 400 and error_reason(error) == reason


def test_zone_local_times_and_all_day(alice):
    local = alice.events.insert(
        calendarId="primary", body=timed("2031-07-01T09:00:00", "2031-07-01T09:30:00", tz="America/Chicago")
    ).execute()
    assert local["start"] == {"dateTime": "2031-07-01T09:00:00-05:00", "timeZone": "America/Chicago"}
    all_day = alice.events.insert(
        calendarId="primary", body={"start": {"date": "2031-07-02"}, "end": {"date": "2031-07-03"}}
    ).execute()
    assert all_day["start"] == {"date": "2031-07-02"} and all_day["end"] == {"date": "2031-07-03"}


def test_put_replaces_and_patch_merges(alice):
    created = _insert(
        alice,
        summary="s",
        location="L",
        attendees=[{"email": "rep@example.com"}],
        extendedProperties={"private": {"a": "1", "b": "2"}, "shared": {"s": "x"}},
    )
    patched = alice.events.patch(
        calendarId="primary",
        eventId=created["id"],
        body={"extendedProperties": {"private": {"c": "3", "a": None}}, "summary": "s2"},
    ).execute()
    assert patched["extendedProperties"] == {"private": {"b": "2", "c": "3"}, "shared": {"s": "x"}}
    assert patched["location"] == "L" and patched["attendees"][0]["email"] == "rep@example.com"
    assert patched["summary"] == "s2" and patched["description"] == created["description"]
    cleared = alice.events.patch(
        calendarId="primary", eventId=created["id"], body={"location": None}
    ).execute()
    assert "location" not in cleared
    replaced = alice.events.update(
        calendarId="primary", eventId=created["id"], body=timed(START, END, summary="only this")
    ).execute()
    assert replaced["summary"] == "only this"
    for dropped in ("extendedProperties", "attendees", "location"):
        assert dropped not in replaced
    assert replaced["id"] == created["id"] and replaced["created"] == created["created"]
    assert replaced["iCalUID"] == created["iCalUID"]


def test_extended_property_limits(alice):
    long_key, ok_key = "k" * 45, "k" * 44
    created = _insert(
        alice, extendedProperties={"private": {long_key: "dropped", ok_key: "kept", "big": "v" * 2000}}
    )
    private = created["extendedProperties"]["private"]
    assert long_key not in private and private[ok_key] == "kept" and len(private["big"]) == 1024
    error = http_error(
        alice.events.insert(
            calendarId="primary", body=timed(START, END, extendedProperties={"private": {"a": 1}})
        )
    )
    assert error.resp.status == 400


def test_etags_sequence_and_conditional_requests(alice):
    created = _insert(alice, summary="v1")
    renamed = alice.events.patch(
        calendarId="primary", eventId=created["id"], body={"summary": "v2"}
    ).execute()
    assert renamed["etag"] != created["etag"] and renamed["sequence"] == 0
    assert renamed["updated"] >= created["updated"]
    moved = alice.events.patch(
        calendarId="primary",
        eventId=created["id"],
        body={"start": {"dateTime": "2031-01-10T12:00:00Z"}, "end": {"dateTime": "2031-01-10T13:00:00Z"}},
    ).execute()
    assert moved["sequence"] == 1 and moved["etag"] != renamed["etag"]

    stale = alice.events.patch(calendarId="primary", eventId=created["id"], body={"summary": "lost"})
    stale.headers["If-Match"] = renamed["etag"]
    error = http_error(stale)
    assert error.resp.status == 412 and error_reason(error) == "conditionNotMet"
    stale_delete = alice.events.delete(calendarId="primary", eventId=created["id"])
    stale_delete.headers["If-Match"] = created["etag"]
    assert http_error(stale_delete).resp.status == 412
    fresh = alice.events.patch(calendarId="primary", eventId=created["id"], body={"summary": "won"})
    fresh.headers["If-Match"] = moved["etag"]
    current = fresh.execute()

    unchanged = alice.events.get(calendarId="primary", eventId=created["id"])
    unchanged.headers["If-None-Match"] = current["etag"]
    assert http_error(unchanged).resp.status == 304
    changed = alice.events.get(calendarId="primary", eventId=created["id"])
    changed.headers["If-None-Match"] = moved["etag"]
    assert changed.execute()["summary"] == "won"


def test_conference_data_needs_version_1(alice):
    request = {
        "createRequest": {"requestId": uuid.uuid4().hex, "conferenceSolutionKey": {"type": "hangoutsMeet"}}
    }
    ignored = alice.events.insert(
        calendarId="primary", body=timed(START, END, conferenceData=request)
    ).execute()
    assert "conferenceData" not in ignored and "hangoutLink" not in ignored
    created = alice.events.insert(
        calendarId="primary", body=timed(START, END, conferenceData=request), conferenceDataVersion=1
    ).execute()
    (video,) = [e for e in created["conferenceData"]["entryPoints"] if e["entryPointType"] == "video"]
    assert created["hangoutLink"] == video["uri"] and video["uri"].startswith("https://meet.google.com/")
    # Later writes without conferenceDataVersion keep the conference.
    updated = alice.events.update(
        calendarId="primary", eventId=created["id"], body=timed(START, END)
    ).execute()
    assert updated["hangoutLink"] == created["hangoutLink"]


def test_send_updates_values(alice):
    alice.events.insert(calendarId="primary", body=timed(START, END), sendUpdates="all").execute()
    created = alice.events.insert(calendarId="primary", body=timed(START, END), sendUpdates="none").execute()
    alice.events.delete(calendarId="primary", eventId=created["id"], sendUpdates="externalOnly").execute()


def test_attendee_validation(alice):
    for attendees in (
        [{"displayName": "no email"}],
        [{"email": "not-an-email"}],
        [{"email": "a@b.c", "responseStatus": "maybe"}],
    ):
        error = http_error(
            alice.events.insert(calendarId="primary", body=timed(START, END, attendees=attendees))
        )
        assert error.resp.status == 400


# --- scopes and authentication ----------------------------------------------------------------
SCOPE = "https://www.googleapis.com/auth/"


@pytest.mark.parametrize(
    ("scopes", "can_read", "can_write", "can_list_calendars"),
    [
        ("calendar", True, True, True),
        ("calendar.readonly", True, False, True),
        ("calendar.events", True, True, False),
        ("calendar.events.readonly", True, False, False),
        ("calendar.events.owned", True, True, False),
        ("calendar.events.owned.readonly", True, False, False),
        ("calendar.calendarlist.readonly", False, False, True),
    ],
)
def test_scopes_gate_calls(emulator, alice, scopes, can_read, can_write, can_list_calendars):
    tokens = oauth_tokens(emulator.url, alice.email, f"openid email {SCOPE}{scopes}")
    service = calendar_service(emulator.url, tokens["access_token"])
    calls = {
        "read": (service.events().list(calendarId="primary"), can_read),
        "write": (service.events().insert(calendarId="primary", body=timed(START, END)), can_write),
        "calendars": (service.calendarList().list(), can_list_calendars),
    }
    for name, (call, allowed) in calls.items():
        if allowed:
            call.execute()
        else:
            error = http_error(call)
            assert error.resp.status == 403 and error_reason(error) == "insufficientPermissions", name


def test_unauthenticated_calls_are_401(emulator, admin, alice):
    state = emulator.state
    expired = new_mailbox(emulator, admin)
    with state.lock:
        state.identity.expire_access_tokens("google", expired.email)
    revoked_user = new_mailbox(emulator, admin)
    tokens = oauth_tokens(emulator.url, revoked_user.email, f"{SCOPE}calendar")
    revoked = calendar_service(emulator.url, tokens["access_token"])
    revoked.events().list(calendarId="primary").execute()
    admin.revoke("google", revoked_user.email)
    url = f"{emulator.url}/google/calendar/v3/calendars/primary/events"
    for headers in (
        {},
        {"Authorization": "Bearer ya29.not-a-token"},
        {"Authorization": f"Bearer {expired.token}"},
        {"Authorization": f"Bearer {tokens['access_token']}"},
        {"Authorization": f"Basic {alice.token}"},
    ):
        response = http_session().get(url, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["errors"][0]["reason"] == "authError"
    # Through the client, a 401 makes google-auth try a refresh, which bare tokens cannot do.
    with pytest.raises(RefreshError):
        revoked.events().list(calendarId="primary").execute()


# --- admin side -------------------------------------------------------------------------------
def test_seed_validates_like_insert_and_dump_shows_everything(alice, admin):
    import requests

    seeded = admin.seed(
        "google",
        alice.email,
        [
            timed(START, END, summary="seeded"),
            timed(
                "2031-02-01T09:00:00",
                "2031-02-01T10:00:00",
                tz="UTC",
                recurrence=["RRULE:FREQ=DAILY;COUNT=3"],
            ),
        ],
    )
    single_id, series_id = seeded
    alice.events.delete(calendarId="primary", eventId=single_id).execute()
    alice.events.patch(
        calendarId="primary", eventId=f"{series_id}_20310202T090000Z", body={"summary": "moved"}
    ).execute()
    dumped = {item["id"]: item for item in admin.dump("google", alice.email)}
    assert set(dumped) == {single_id, series_id, f"{series_id}_20310202T090000Z"}
    assert dumped[single_id]["deleted"] is True and dumped[single_id]["event"]["summary"] == "seeded"
    canary = admin.secrets()["description_canary"]
    assert all(canary in item["event"]["description"] for item in dumped.values())
    assert all(item["calendar_id"] == alice.email for item in dumped.values())
    with pytest.raises(requests.HTTPError) as caught:
        admin.seed("google", alice.email, [{"summary": "no times"}])
    assert caught.value.response.status_code == 400
    with pytest.raises(requests.HTTPError) as caught:
        admin.seed("google", alice.email, [timed(START, END)], calendar_id="someone-else@example.com")
    assert caught.value.response.status_code == 404

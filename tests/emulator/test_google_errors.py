"""Fault injection as the Google API shows it, and malformed requests: every bad request gets a
4xx in Google's error shape, never a 500."""

from __future__ import annotations

import json

import pytest
from googleapiclient.http import HttpRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.emulator import google_schema
from tests.emulator.google_client import error_reason, http_error, http_session, list_all, new_mailbox, timed

EVENT_FIELDS = [
    "summary",
    "description",
    "location",
    "start",
    "end",
    "attendees",
    "recurrence",
    "extendedProperties",
    "reminders",
    "conferenceData",
    "status",
    "id",
    "iCalUID",
    "transparency",
    "visibility",
    "colorId",
    "source",
    "sequence",
    "nonsense",
]


@pytest.fixture
def alice(emulator, admin):
    mailbox = new_mailbox(emulator, admin, name="Alice")
    yield mailbox
    admin.clear_faults()


def _faults(admin, email, **rule):
    admin.faults({"rules": [{"user": email, "count": 1, **rule}]})


# --- fault injection --------------------------------------------------------------------------
def test_rate_limits(alice, admin):
    _faults(admin, alice.email, kind="rate_limit")
    error = http_error(alice.events.list(calendarId="primary"))
    assert error.resp.status == 403 and error_reason(error) == "rateLimitExceeded"
    assert error.resp["retry-after"] == "1"
    alice.events.list(calendarId="primary").execute()  # count=1: the next call goes through

    _faults(admin, alice.email, kind="rate_limit", status=429, retry_after=7)
    error = http_error(alice.events.list(calendarId="primary"))
    assert error.resp.status == 429 and error_reason(error) == "rateLimitExceeded"
    assert error.resp["retry-after"] == "7"


def test_quota_exceeded(alice, admin):
    _faults(admin, alice.email, kind="quota_exceeded")
    error = http_error(
        alice.events.insert(calendarId="primary", body=timed("2033-01-01T10:00:00Z", "2033-01-01T11:00:00Z"))
    )
    assert error.resp.status == 403 and error_reason(error) == "quotaExceeded"
    assert json.loads(error.content)["error"]["errors"][0]["domain"] == "usageLimits"
    assert alice.events.list(calendarId="primary").execute()["items"] == []  # nothing was written


@pytest.mark.parametrize(("status", "reason"), [(500, "backendError"), (503, "serviceUnavailable")])
def test_server_errors(alice, admin, status, reason):
    _faults(admin, alice.email, kind="server_error", status=status)
    error = http_error(alice.events.list(calendarId="primary"))
    assert error.resp.status == status and error_reason(error) == reason


def test_faults_are_scoped_to_their_user(alice, admin, emulator):
    bob = new_mailbox(emulator, admin, name="Bob")
    admin.faults({"rules": [{"kind": "server_error", "user": alice.email}]})
    bob.events.list(calendarId="primary").execute()
    assert http_error(alice.events.list(calendarId="primary")).resp.status == 500
    assert http_error(alice.events.list(calendarId="primary")).resp.status == 500


def test_sync_token_expired_fault(alice, admin):
    _, token, _ = list_all(alice.events, calendarId="primary")
    _faults(admin, alice.email, kind="sync_token_expired")
    alice.events.list(calendarId="primary").execute()  # only requests carrying a sync token
    error = http_error(alice.events.list(calendarId="primary", syncToken=token))
    assert error.resp.status == 410 and error_reason(error) == "fullSyncRequired"
    alice.events.list(calendarId="primary", syncToken=token).execute()


def test_truncated_bodies_fail_to_parse(alice, admin):
    alice.events.insert(
        calendarId="primary", body=timed("2033-01-01T10:00:00Z", "2033-01-01T11:00:00Z")
    ).execute()
    _faults(admin, alice.email, kind="truncate")
    # google-api-python-client hands back the undecodable text as is (no exception): callers see a str.
    result = HttpRequest.execute(alice.events.list(calendarId="primary"))  # unvalidated on purpose
    assert isinstance(result, str) and result.startswith('{"kind":"calendar#events"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(result)
    assert alice.events.list(calendarId="primary").execute()["items"]


def test_unauthorized_fault(alice, admin, emulator):
    _faults(admin, alice.email, kind="unauthorized")
    response = http_session().get(
        f"{emulator.url}/google/calendar/v3/calendars/primary/events",
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["errors"][0]["reason"] == "authError"


# --- malformed requests -----------------------------------------------------------------------
def _assert_google_error(response, expected: int | None = None):
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if expected is not None:
        assert response.status_code == expected, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == response.status_code and error["message"]
    for item in error["errors"]:
        assert {"domain", "reason", "message"} <= set(item)


GOOD = timed("2033-02-01T10:00:00Z", "2033-02-01T11:00:00Z")
BAD_BODIES = [
    b"{not json",
    b"[1, 2]",
    b'"a string"',
    b"null",
    json.dumps({**GOOD, "summary": 123}).encode(),
    json.dumps({**GOOD, "attendees": "rep@example.com"}).encode(),
    json.dumps({**GOOD, "attendees": [None, 5]}).encode(),
    json.dumps({**GOOD, "start": "tomorrow"}).encode(),
    json.dumps({**GOOD, "start": {"dateTime": 5}}).encode(),
    json.dumps({**GOOD, "start": {"dateTime": "2033-02-30T10:00:00Z"}}).encode(),
    json.dumps({**GOOD, "end": {"date": "02/03/2033"}}).encode(),
    json.dumps(timed("9999-12-31T23:00:00-05:00", "9999-12-31T23:30:00-05:00")).encode(),
    json.dumps({"start": {"date": "0001-01-01"}, "end": {"date": "0001-01-02"}}).encode(),
    json.dumps({**GOOD, "extendedProperties": {"private": {"k": ["v"]}}}).encode(),
    json.dumps({**GOOD, "extendedProperties": {"secret": {}}}).encode(),
    json.dumps({**GOOD, "recurrence": "RRULE:FREQ=DAILY"}).encode(),
    json.dumps({**GOOD, "reminders": {"overrides": [{"method": "sms", "minutes": 5}]}}).encode(),
    json.dumps(
        {**GOOD, "reminders": {"useDefault": True, "overrides": [{"method": "popup", "minutes": 5}]}}
    ).encode(),
    json.dumps({**GOOD, "status": "maybe"}).encode(),
    json.dumps({**GOOD, "nonsense": True}).encode(),
    json.dumps({**GOOD, "sequence": "one"}).encode(),
    json.dumps({**GOOD, "id": "BAD_ID"}).encode(),
    json.dumps({**GOOD, "conferenceData": {"createRequest": {}}}).encode(),
]


@pytest.mark.parametrize("raw", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_malformed_bodies_are_400(alice, emulator, raw):
    session = http_session()
    headers = {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"}
    base = f"{emulator.url}/google/calendar/v3/calendars/primary/events"
    insert = session.post(f"{base}?conferenceDataVersion=1", data=raw, headers=headers)
    _assert_google_error(insert, 400)
    created = alice.events.insert(calendarId="primary", body=GOOD).execute()
    for method in ("PUT", "PATCH"):
        response = session.request(
            method, f"{base}/{created['id']}?conferenceDataVersion=1", data=raw, headers=headers
        )
        if raw in (json.dumps({**GOOD, "id": "BAD_ID"}).encode(), b"null"):
            continue  # ids in bodies are ignored by writes to an existing event; an empty PATCH is fine
        _assert_google_error(response, 400)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "calendars/primary/events?timeMin=2033-13-01T00:00:00Z", None),
        ("GET", "calendars/primary/events?timeMax=2033-01-01T25:00:00Z", None),
        ("GET", "calendars/primary/events?maxResults=abc", None),
        ("GET", "calendars/primary/events?timeMin=0001-01-01T00:00:00%2B05:00", None),
        ("GET", "calendars/primary/events?singleEvents=maybe", None),
        ("GET", "calendars/primary/events?showDeleted=1", None),
        ("GET", "calendars/primary/events?orderBy=whatever", None),
        ("GET", "calendars/primary/events?timeZone=Not/AZone", None),
        ("GET", "calendars/primary/events?syncToken=CP%21%21", None),
        ("GET", "calendars/primary/events?fields=items(", None),
        ("GET", "calendars/primary/events/..%2F..%2Fetc", None),
        ("GET", "calendars/primary/events/" + "a" * 3000, None),
        ("GET", "calendars/primary/events/abcde_notadate", None),
        ("GET", "calendars/%00/events", None),
        ("DELETE", "calendars/primary/events/nosuchevent", None),
        ("PUT", "calendars/primary/events", b"{}"),
        ("POST", "calendars/primary/events?conferenceDataVersion=2", json.dumps(GOOD).encode()),
        ("POST", "calendars/primary/events?sendUpdates=everyone", json.dumps(GOOD).encode()),
        ("POST", "calendars/primary/events/watch", b"[]"),
        ("POST", "calendars/primary/events/watch", b'{"id": 5, "type": "web_hook"}'),
        ("POST", "channels/stop", b"{}"),
        ("POST", "channels/stop", b'{"id": ["x"], "resourceId": {}}'),
        ("GET", "no/such/route", None),
        ("GET", "users/me/calendarList/nobody@example.com", None),
    ],
)
def test_malformed_requests_are_4xx(alice, emulator, method, path, body):
    response = http_session().request(
        method,
        f"{emulator.url}/google/calendar/v3/{path}",
        data=body,
        headers={"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"},
    )
    _assert_google_error(response)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
DATE_TIMES = st.sampled_from(
    [
        {"dateTime": "2033-03-01T10:00:00Z"},
        {"date": "2033-03-01"},
        {"dateTime": "2033-03-01T10:00:00", "timeZone": "Europe/Paris"},
    ]
)
EVENT_BODIES = st.dictionaries(
    st.sampled_from(EVENT_FIELDS),
    JSON_VALUES | DATE_TIMES | st.lists(st.text(max_size=40), max_size=3),
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=EVENT_BODIES)
def test_random_bodies_never_500(alice, emulator, body):
    session = http_session()
    headers = {"Authorization": f"Bearer {alice.token}"}
    base = f"{emulator.url}/google/calendar/v3/calendars/primary/events"
    insert = session.post(f"{base}?conferenceDataVersion=1", json=body, headers=headers)
    assert insert.status_code in (200, 400, 409), insert.text
    if insert.status_code != 200:
        _assert_google_error(insert)
        return
    google_schema.validate(insert.json(), "Event")
    event_id = insert.json()["id"]
    patch = session.patch(f"{base}/{event_id}?conferenceDataVersion=1", json=body, headers=headers)
    assert patch.status_code in (200, 400), patch.text
    if patch.status_code == 200:
        google_schema.validate(patch.json(), "Event")
    listed = session.get(f"{base}?singleEvents=true", headers=headers)
    assert listed.status_code == 200
    google_schema.validate(listed.json(), "Events")

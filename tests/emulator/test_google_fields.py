"""`fields=` partial responses: the selector parser (unit) and real partial responses through
google-api-python-client on list, get, insert and patch."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from calendar_emulator.google import fields
from tests.emulator.google_client import error_reason, new_mailbox, timed

EVENT = {
    "id": "e1",
    "summary": "1:1",
    "description": "notes",
    "start": {"dateTime": "2030-01-01T10:00:00Z", "timeZone": "UTC"},
    "attendees": [
        {"email": "a@example.com", "responseStatus": "accepted", "displayName": "A"},
        {"email": "b@example.com", "responseStatus": "needsAction"},
    ],
    "extendedProperties": {"private": {"smvue": "1", "other": "2"}},
}


# --- parser (unit) ----------------------------------------------------------------------------
def test_parse_comma_list_and_paths():
    assert fields.parse("id,summary") == {"id": None, "summary": None}
    assert fields.parse("start/dateTime") == {"start": {"dateTime": None}}
    assert fields.parse("items(id,attendees(email,responseStatus)),nextPageToken") == {
        "items": {"id": None, "attendees": {"email": None, "responseStatus": None}},
        "nextPageToken": None,
    }
    assert fields.parse(" items( id , start/date ) ") == {"items": {"id": None, "start": {"date": None}}}


def test_parse_merges_overlapping_selections():
    assert fields.parse("start/date,start/dateTime") == {"start": {"date": None, "dateTime": None}}
    # Selecting the whole field wins over a sub-selection, in either order.
    assert fields.parse("start,start/date") == {"start": None}
    assert fields.parse("start/date,start") == {"start": None}
    assert fields.parse("a/b/c,a(b(d))") == {"a": {"b": {"c": None, "d": None}}}


@pytest.mark.parametrize(
    "bad", ["", "items(", "items(id", "items)", "a,,b", "a//b", "a(b))", "a/", "(a)", "a b(c"]
)
def test_parse_rejects_malformed(bad):
    with pytest.raises(fields.FieldMaskError):
        fields.parse(bad)


def test_apply_nested_arrays_and_wildcards():
    tree = fields.parse("id,attendees(email,responseStatus),extendedProperties/private/smvue")
    assert fields.apply(EVENT, tree) == {
        "id": "e1",
        "attendees": [
            {"email": "a@example.com", "responseStatus": "accepted"},
            {"email": "b@example.com", "responseStatus": "needsAction"},
        ],
        "extendedProperties": {"private": {"smvue": "1"}},
    }
    assert fields.apply(EVENT, fields.parse("*")) == EVENT
    assert fields.apply(EVENT, fields.parse("start/*")) == {"start": EVENT["start"]}
    assert fields.apply({"items": [EVENT]}, fields.parse("items/summary")) == {"items": [{"summary": "1:1"}]}
    # Absent fields are simply absent.
    assert fields.apply(EVENT, fields.parse("location,id")) == {"id": "e1"}


def test_validate_against_schema():
    fields.validate(fields.parse("items(id,attendees(email)),nextPageToken,nextSyncToken"), "Events")
    fields.validate(fields.parse("extendedProperties/private/anyKey"), "Event")
    fields.validate(fields.parse("items/*"), "Events")
    for bad in ("pagetoken", "items(nope)", "items/summary/x", "Items"):
        with pytest.raises(fields.FieldMaskError):
            fields.validate(fields.parse(bad), "Events")


# --- through the client -----------------------------------------------------------------------
@pytest.fixture
def alice(emulator, admin):
    return new_mailbox(emulator, admin)


def _seed(alice):
    body = timed(
        "2030-03-01T10:00:00Z",
        "2030-03-01T11:00:00Z",
        summary="Weekly 1:1",
        description="agenda",
        location="Room 1",
        attendees=[{"email": alice.email}, {"email": "rep@example.com", "displayName": "Rep"}],
        extendedProperties={"private": {"smvue": "m1", "x": "y"}, "shared": {"s": "1"}},
    )
    return alice.events.insert(calendarId="primary", body=body).execute()


def test_list_with_nested_selector(alice):
    _seed(alice)
    page = alice.events.list(
        calendarId="primary", fields="items(id,summary,attendees(email,responseStatus)),nextSyncToken"
    ).execute()
    assert set(page) == {"items", "nextSyncToken"}
    (item,) = page["items"]
    assert set(item) == {"id", "summary", "attendees"}
    assert item["attendees"] == [
        {"email": alice.email, "responseStatus": "needsAction"},
        {"email": "rep@example.com", "responseStatus": "needsAction"},
    ]


def test_description_only_when_selected(alice, admin):
    created = _seed(alice)
    full = alice.events.get(calendarId="primary", eventId=created["id"]).execute()
    assert full["description"] == "agenda"  # exactly as written
    masked = alice.events.get(
        calendarId="primary", eventId=created["id"], fields="id,start/dateTime"
    ).execute()
    assert masked == {"id": created["id"], "start": {"dateTime": "2030-03-01T10:00:00Z"}}
    listed = alice.events.list(calendarId="primary", fields="items(id,summary)").execute()
    assert all("description" not in item for item in listed["items"])
    wild = alice.events.list(calendarId="primary", fields="items/*").execute()
    assert wild["items"][0]["description"] == "agenda"


def test_paths_and_star_on_insert_and_patch(alice):
    created = alice.events.insert(
        calendarId="primary",
        body=timed("2030-03-02T10:00:00Z", "2030-03-02T10:30:00Z", summary="x"),
        fields="id,etag,extendedProperties/private",
    ).execute()
    assert set(created) == {"id", "etag"}
    patched = alice.events.patch(
        calendarId="primary",
        eventId=created["id"],
        body={"extendedProperties": {"private": {"k": "v"}}},
        fields="extendedProperties/private/k,start(*)",
    ).execute()
    assert patched == {
        "extendedProperties": {"private": {"k": "v"}},
        "start": {"dateTime": "2030-03-02T10:00:00Z"},
    }


def test_invalid_field_selection_is_400(alice):
    for bad in ("pagetoken,items(id)", "items(id", "items(summary/x)"):
        with pytest.raises(HttpError) as caught:
            alice.events.list(calendarId="primary", fields=bad).execute()
        assert caught.value.resp.status == 400
        assert error_reason(caught.value) == "invalidParameter"

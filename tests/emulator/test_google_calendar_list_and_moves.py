"""calendarList incremental sync, and events.move / events.import / events.quickAdd (Google),
through google-api-python-client (responses validated against the discovery document)."""

from __future__ import annotations

from tests.emulator.google_client import error_reason, http_error, list_all, timed

START, END = "2031-03-10T10:00:00Z", "2031-03-10T11:00:00Z"


def _calendar_list_round(alice, **params) -> tuple[list[dict], str]:
    items, token = [], None
    while True:
        page = (
            alice.service.calendarList().list(**params, **({"pageToken": token} if token else {})).execute()
        )
        items += page["items"]
        token = page.get("nextPageToken")
        if token is None:
            return items, page["nextSyncToken"]


# --- calendarList sync ------------------------------------------------------------------------
def test_calendar_list_full_then_incremental_sync(alice, admin):
    first = admin.add_calendar("google", alice.email, "Team")
    items, sync_token = _calendar_list_round(alice, maxResults=1)
    assert {entry["id"] for entry in items} == {alice.email, first}  # two pages of one
    # Nothing changed: an empty incremental page with a fresh token.
    unchanged, sync_token = _calendar_list_round(alice, syncToken=sync_token)
    assert unchanged == []
    second = admin.add_calendar("google", alice.email, "Coaching")
    alice.service.calendars().delete(calendarId=first).execute()
    changed, sync_token = _calendar_list_round(alice, syncToken=sync_token)
    by_id = {entry["id"]: entry for entry in changed}
    assert set(by_id) == {first, second}
    assert by_id[first]["deleted"] is True and by_id[second]["summary"] == "Coaching"
    assert "deleted" not in by_id[second]
    # A full listing hides deleted entries unless asked for them.
    assert first not in {e["id"] for e in alice.service.calendarList().list().execute()["items"]}
    shown = alice.service.calendarList().list(showDeleted=True).execute()["items"]
    assert {e["id"] for e in shown if e.get("deleted")} == {first}
    assert _calendar_list_round(alice, syncToken=sync_token)[0] == []


def test_calendar_list_sync_token_expires_and_refuses_restrictions(alice, admin):
    _, sync_token = _calendar_list_round(alice)
    error = http_error(alice.service.calendarList().list(syncToken=sync_token, minAccessRole="owner"))
    assert error.resp.status == 400 and error_reason(error) == "syncTokenWithRequestRestrictions"
    error = http_error(alice.service.calendarList().list(syncToken=sync_token, showDeleted=False))
    assert error.resp.status == 400
    admin.faults({"expire_sync_tokens": True})
    admin.clear_faults()
    error = http_error(alice.service.calendarList().list(syncToken=sync_token))
    assert error.resp.status == 410 and error_reason(error) == "fullSyncRequired"


def test_calendar_list_min_access_role(alice, admin, emulator):
    admin.add_calendar("google", alice.email, "Team")
    assert len(alice.service.calendarList().list(minAccessRole="owner").execute()["items"]) == 2
    assert (
        len(alice.service.calendarList().list(minAccessRole="writerWithoutPrivateAccess").execute()["items"])
        == 2
    )
    import requests

    url = f"{emulator.url}/google/calendar/v3/users/me/calendarList"
    refused = requests.get(
        url, params={"minAccessRole": "boss"}, headers={"Authorization": f"Bearer {alice.token}"}, timeout=10
    )
    assert refused.status_code == 400 and "minAccessRole" in refused.text


# --- events.move ------------------------------------------------------------------------------
def test_move_changes_calendar_and_organizer_and_both_syncs_see_it(alice, admin):
    team = admin.add_calendar("google", alice.email, "Team")
    created = alice.events.insert(calendarId="primary", body=timed(START, END, summary="1:1")).execute()
    _, source_token, _ = list_all(alice.events, calendarId="primary")
    _, target_token, _ = list_all(alice.events, calendarId=team)
    moved = alice.events.move(calendarId="primary", eventId=created["id"], destination=team).execute()
    assert moved["id"] == created["id"] and moved["summary"] == "1:1"
    assert moved["organizer"] == {"email": team, "displayName": "Team", "self": True}
    assert moved["iCalUID"] == created["iCalUID"] and moved["etag"] != created["etag"]
    assert alice.events.get(calendarId=team, eventId=created["id"]).execute() == moved
    gone, _, _ = list_all(alice.events, calendarId="primary", syncToken=source_token)
    assert [(e["id"], e["status"]) for e in gone] == [(created["id"], "cancelled")]
    arrived, _, _ = list_all(alice.events, calendarId=team, syncToken=target_token)
    assert [e["id"] for e in arrived] == [created["id"]]
    assert alice.events.list(calendarId="primary").execute()["items"] == []


def test_move_a_series_but_not_an_instance(alice, admin):
    team = admin.add_calendar("google", alice.email, "Team")
    series = alice.events.insert(
        calendarId="primary",
        body=timed(
            "2031-03-10T10:00:00", "2031-03-10T11:00:00", tz="UTC", recurrence=["RRULE:FREQ=DAILY;COUNT=3"]
        ),
    ).execute()
    instance_id = f"{series['id']}_20310311T100000Z"
    error = http_error(alice.events.move(calendarId="primary", eventId=instance_id, destination=team))
    assert error.resp.status == 400 and error_reason(error) == "cannotChangeOrganizerOfInstance"
    alice.events.patch(calendarId="primary", eventId=instance_id, body={"summary": "changed"}).execute()
    alice.events.move(calendarId="primary", eventId=series["id"], destination=team).execute()
    instances = alice.events.instances(calendarId=team, eventId=series["id"]).execute()["items"]
    by_start = sorted(instances, key=lambda i: i["start"]["dateTime"])  # instances come unordered
    assert [i.get("summary") for i in by_start] == [None, "changed", None]
    assert (
        http_error(
            alice.events.move(calendarId="primary", eventId="nosuchevent1", destination=team)
        ).resp.status
        == 404
    )
    error = http_error(
        alice.events.move(calendarId=team, eventId=series["id"], destination="nobody@example.com")
    )
    assert error.resp.status == 404


# --- events.import ----------------------------------------------------------------------------
def test_import_keys_on_ical_uid_and_keeps_the_organizer(alice):
    body = timed(START, END, summary="From elsewhere", iCalUID="abc-123@example.com")
    body["organizer"] = {"email": "boss@example.com", "displayName": "Boss"}
    first = alice.events.import_(calendarId="primary", body=body).execute()
    assert first["iCalUID"] == "abc-123@example.com"
    assert first["organizer"] == {"email": "boss@example.com", "displayName": "Boss"}
    again = alice.events.import_(calendarId="primary", body={**body, "summary": "Updated"}).execute()
    assert again["id"] == first["id"] and again["summary"] == "Updated"
    assert [e["id"] for e in alice.events.list(calendarId="primary").execute()["items"]] == [first["id"]]
    error = http_error(alice.events.import_(calendarId="primary", body=timed(START, END)))
    assert error.resp.status == 400 and "iCalUID" in str(error)


# --- events.quickAdd --------------------------------------------------------------------------
def test_quick_add_creates_an_event_titled_with_the_text(alice):
    created = alice.events.quickAdd(calendarId="primary", text="Coffee with Rep").execute()
    assert created["summary"] == "Coffee with Rep" and created["status"] == "confirmed"
    fetched = alice.events.get(calendarId="primary", eventId=created["id"]).execute()
    assert fetched == created
    assert http_error(alice.events.quickAdd(calendarId="primary", text="")).resp.status == 400

"""calendars.delete (Google): a secondary calendar goes with its events, and everything naming it
afterwards (lists, events, sync and page tokens, watch) answers 404; the primary is refused."""

from __future__ import annotations

import json
import uuid

import pytest
from googleapiclient.errors import HttpError

from calendar_emulator.actors import GoogleActor
from tests.emulator.google_client import (
    calendar_service,
    error_reason,
    http_error,
    list_all,
    new_mailbox,
    oauth_tokens,
    timed,
)
from tests.receiver import NotificationReceiver

SCOPE = "https://www.googleapis.com/auth/"


def _assert_not_found(call) -> None:
    error = http_error(call)
    assert error.resp.status == 404 and error_reason(error) == "notFound", error.content


def _insert(mailbox, calendar_id: str, day: int, **extra) -> dict:
    body = timed(f"2031-03-{day:02d}T10:00:00Z", f"2031-03-{day:02d}T11:00:00Z", **extra)
    return mailbox.events.insert(calendarId=calendar_id, body=body).execute()


def test_deleting_a_secondary_calendar_removes_it_and_its_events(alice, admin):
    team = admin.add_calendar("google", alice.email, "Team")
    kept = _insert(alice, "primary", 1, summary="mine")
    events = [_insert(alice, team, day, summary=f"team {day}") for day in (2, 3, 4)]
    _, sync_token, _ = list_all(alice.events, calendarId=team)
    _, primary_token, _ = list_all(alice.events, calendarId="primary")
    page = alice.events.list(calendarId=team, maxResults=1).execute()
    assert "nextPageToken" in page

    assert alice.service.calendars().delete(calendarId=team).execute() == ""

    listed = alice.service.calendarList().list().execute()["items"]
    assert [entry["id"] for entry in listed] == [alice.email]
    for call in (
        alice.service.calendarList().get(calendarId=team),
        alice.service.calendars().get(calendarId=team),
        alice.events.list(calendarId=team),
        alice.events.list(calendarId=team, syncToken=sync_token),  # gone, not expired: 404, not 410
        alice.events.list(calendarId=team, pageToken=page["nextPageToken"]),
        alice.events.get(calendarId=team, eventId=events[0]["id"]),
        alice.events.instances(calendarId=team, eventId=events[0]["id"]),
        alice.events.patch(calendarId=team, eventId=events[1]["id"], body={"summary": "x"}),
        alice.events.delete(calendarId=team, eventId=events[2]["id"]),
        alice.events.insert(calendarId=team, body=timed("2031-03-05T10:00:00Z", "2031-03-05T11:00:00Z")),
        alice.events.watch(
            calendarId=team,
            body={"id": f"ch-{uuid.uuid4()}", "type": "web_hook", "address": "https://x.test/"},
        ),
        alice.service.calendars().delete(calendarId=team),  # a second delete
    ):
        _assert_not_found(call)
    assert all(row["calendar_id"] == alice.email for row in admin.dump("google", alice.email))
    # The primary calendar and its sync token are untouched.
    assert alice.events.get(calendarId="primary", eventId=kept["id"]).execute()["summary"] == "mine"
    assert alice.events.list(calendarId="primary", syncToken=primary_token).execute()["items"] == []


def test_actor_deletes_a_calendar_through_the_api(alice, admin, emulator):
    team = admin.add_calendar("google", alice.email, "Team")
    actor = GoogleActor(emulator.url, alice.token)
    actor.insert(timed("2031-03-02T10:00:00Z", "2031-03-02T11:00:00Z"), calendar_id=team)
    actor.delete_calendar(team)
    _assert_not_found(alice.events.list(calendarId=team))
    with pytest.raises(HttpError):
        actor.delete_calendar(team)
    with pytest.raises(HttpError):
        actor.delete_calendar("primary")


@pytest.mark.parametrize("calendar_id", ["primary", "self"])
def test_the_primary_calendar_cannot_be_deleted(alice, calendar_id):
    target = alice.email if calendar_id == "self" else "primary"
    error = http_error(alice.service.calendars().delete(calendarId=target))
    assert error.resp.status == 400 and error_reason(error) == "cannotDeletePrimaryCalendar"
    body = json.loads(error.content)["error"]
    assert body["code"] == 400 and body["message"] == "Cannot delete primary calendar."
    assert body["errors"][0]["message"] == "Cannot delete primary calendar."
    assert alice.service.calendars().get(calendarId="primary").execute()["id"] == alice.email


def test_someone_elses_calendar_is_not_found(alice, admin, emulator):
    bob = new_mailbox(emulator, admin, name="Bob")
    bobs = admin.add_calendar("google", bob.email, "Bob's")
    for calendar_id in (bobs, bob.email, "nobody@group.calendar.google.com"):
        _assert_not_found(alice.service.calendars().delete(calendarId=calendar_id))
    assert bobs in [entry["id"] for entry in bob.service.calendarList().list().execute()["items"]]


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ("calendar", True),
        ("calendar.calendars", True),
        ("calendar.readonly", False),
        ("calendar.events", False),
        ("calendar.calendarlist", False),
    ],
)
def test_deleting_a_calendar_needs_a_calendars_write_scope(alice, admin, emulator, scopes, allowed):
    team = admin.add_calendar("google", alice.email, "Team")
    tokens = oauth_tokens(emulator.url, alice.email, f"openid email {SCOPE}{scopes}")
    call = calendar_service(emulator.url, tokens["access_token"]).calendars().delete(calendarId=team)
    if allowed:
        call.execute()
    else:
        error = http_error(call)
        assert error.resp.status == 403 and error_reason(error) == "insufficientPermissions"


def test_channels_on_a_deleted_calendar_never_fire_again(alice, admin):
    team = admin.add_calendar("google", alice.email, "Team")
    with NotificationReceiver() as rx:

        def watch(calendar_id: str) -> dict:
            body = {"id": f"ch-{uuid.uuid4()}", "type": "web_hook", "address": rx.url}
            return alice.events.watch(calendarId=calendar_id, body=body).execute()

        def messages(channel: dict, got) -> list[str]:
            return [
                r.headers["X-Goog-Resource-State"]
                for r in got
                if r.headers.get("X-Goog-Channel-ID") == channel["id"]
            ]

        on_team, on_primary = watch(team), watch("primary")
        rx.wait_for(lambda got: messages(on_team, got) and messages(on_primary, got))
        alice.service.calendars().delete(calendarId=team).execute()
        _insert(alice, "primary", 6)
        rx.wait_for(lambda got: len(messages(on_primary, got)) >= 2)
        admin.wait_notifications()
        assert messages(on_team, rx.received) == ["sync"]  # nothing for the deletion, nothing after
        assert messages(on_primary, rx.received) == ["sync", "exists"]

"""events.watch channels and push notifications (Google): the sync message, `exists` messages on
every change with rising message numbers, exact headers, channels.stop, expiry and validation."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from googleapiclient.errors import HttpError

from tests.emulator.google_client import error_reason, new_mailbox, timed
from tests.receiver import NotificationReceiver

HEADERS = {
    "X-Goog-Channel-ID",
    "X-Goog-Message-Number",
    "X-Goog-Resource-ID",
    "X-Goog-Resource-State",
    "X-Goog-Resource-URI",
    "X-Goog-Channel-Expiration",
    "X-Goog-Channel-Token",
}


@pytest.fixture
def receiver(admin):
    with NotificationReceiver() as rx:
        yield rx
        admin.wait_notifications(timeout=10)  # nothing left in flight to a closed receiver


def _watch(alice, address, calendar_id="primary", **extra):
    body = {"id": f"ch-{uuid.uuid4()}", "type": "web_hook", "address": address, **extra}
    return alice.events.watch(calendarId=calendar_id, body=body).execute()


def _for(channel, received):
    return [r for r in received if r.headers.get("X-Goog-Channel-ID") == channel["id"]]


def _insert(alice, calendar_id="primary", **extra):
    body = timed("2032-01-05T10:00:00Z", "2032-01-05T11:00:00Z", **extra)
    return alice.events.insert(calendarId=calendar_id, body=body).execute()


def test_sync_then_exists_with_exact_headers(alice, admin, receiver):
    channel = _watch(alice, f"{receiver.url}/webhooks/google", token="tok-123")
    assert channel["kind"] == "api#channel" and channel["token"] == "tok-123"
    assert channel["resourceUri"].endswith("/calendars/primary/events?alt=json")
    expiration_ms = int(channel["expiration"])
    sync = receiver.wait_for(lambda got: _for(channel, got))[0]
    assert sync.body == b"" and sync.path == "/webhooks/google"
    assert {name for name in sync.headers if name.startswith("X-Goog")} == HEADERS, sync.headers
    assert sync.headers["User-Agent"] == "APIs-Google"
    assert sync.headers["X-Goog-Resource-State"] == "sync" and sync.headers["X-Goog-Message-Number"] == "1"
    assert sync.headers["X-Goog-Resource-ID"] == channel["resourceId"]
    assert sync.headers["X-Goog-Resource-URI"] == channel["resourceUri"]
    assert sync.headers["X-Goog-Channel-Token"] == "tok-123"
    expires = parsedate_to_datetime(sync.headers["X-Goog-Channel-Expiration"])
    assert sync.headers["X-Goog-Channel-Expiration"].endswith("GMT")
    assert abs(expires.timestamp() - expiration_ms / 1000) < 1

    created = _insert(alice)
    alice.events.patch(calendarId="primary", eventId=created["id"], body={"summary": "x"}).execute()
    alice.events.delete(calendarId="primary", eventId=created["id"]).execute()
    admin.seed("google", alice.email, [timed("2032-01-06T10:00:00Z", "2032-01-06T11:00:00Z")])
    got = receiver.wait_for(lambda got: len(_for(channel, got)) >= 5)
    exists = [r for r in _for(channel, got) if r.headers["X-Goog-Resource-State"] == "exists"]
    assert len(exists) == 4
    numbers = sorted(int(r.headers["X-Goog-Message-Number"]) for r in exists)
    assert numbers[0] > 1 and len(set(numbers)) == 4
    assert any(b - a > 1 for a, b in zip([1, *numbers], numbers, strict=False))  # rising, not consecutive


def test_resource_ids_are_per_calendar_and_instance_changes_notify(alice, admin, receiver):
    secondary = admin.add_calendar("google", alice.email, "Team")
    first = _watch(alice, receiver.url)
    second = _watch(alice, receiver.url)
    other = _watch(alice, receiver.url, calendar_id=secondary)
    assert first["resourceId"] == second["resourceId"] != other["resourceId"]
    receiver.wait_for(lambda got: all(_for(c, got) for c in (first, second, other)))
    series = alice.events.insert(
        calendarId="primary",
        body=timed(
            "2032-02-02T09:00:00", "2032-02-02T09:30:00", tz="UTC", recurrence=["RRULE:FREQ=DAILY;COUNT=3"]
        ),
    ).execute()
    alice.events.delete(calendarId="primary", eventId=f"{series['id']}_20320203T090000Z").execute()
    got = receiver.wait_for(lambda got: len(_for(first, got)) >= 3 and len(_for(second, got)) >= 3)
    assert len(_for(other, got)) == 1  # only its sync: the other calendar did not change
    assert all("X-Goog-Channel-Token" not in r.headers for r in _for(first, got))  # no token, no header


def test_stop_channel(alice, admin, emulator, receiver):
    channel = _watch(alice, receiver.url)
    receiver.wait_for(lambda got: _for(channel, got))
    bob = new_mailbox(emulator, admin, name="Bob")
    stop = {"id": channel["id"], "resourceId": channel["resourceId"]}
    with pytest.raises(HttpError) as caught:
        bob.service.channels().stop(body=stop).execute()
    assert caught.value.resp.status in (403, 404)
    assert alice.service.channels().stop(body=stop).execute() == ""
    _insert(alice)
    assert admin.wait_notifications(timeout=10)["idle"]
    assert len(_for(channel, receiver.received)) == 1  # only the sync message
    for body in (
        stop,
        {"id": "unknown", "resourceId": channel["resourceId"]},
        {"id": channel["id"], "resourceId": "x"},
    ):
        with pytest.raises(HttpError) as caught:
            alice.service.channels().stop(body=body).execute()
        assert caught.value.resp.status == 404 and error_reason(caught.value) == "notFound"
    listed = {w["id"]: w for w in admin.watches()["google_channels"]}
    assert listed[channel["id"]]["active"] is False and listed[channel["id"]]["calendar_id"] == alice.email


def test_expired_channels_send_nothing(alice, admin, receiver):
    channel = _watch(alice, receiver.url, params={"ttl": "60"})
    assert int(channel["expiration"]) <= (time.time() + 61) * 1000
    receiver.wait_for(lambda got: _for(channel, got))
    try:
        admin.clock(advance_seconds=120)
        _insert(alice)
        assert admin.wait_notifications(timeout=10)["idle"]
        assert len(_for(channel, receiver.received)) == 1
        listed = {w["id"]: w for w in admin.watches()["google_channels"]}
        entry = listed[channel["id"]]
        assert entry["active"] is False and entry["address"] == receiver.url and entry["resource_id"]
        assert entry["expiration"]
    finally:
        admin.clock(reset=True)


def test_expiration_is_capped(alice, emulator, receiver):
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    far = _watch(alice, receiver.url, expiration=str(now_ms + 90 * 86400 * 1000))
    max_seconds = emulator.state.config.google_max_channel_seconds
    assert int(far["expiration"]) <= now_ms + (max_seconds + 60) * 1000
    near = _watch(alice, receiver.url, expiration=now_ms + 3600 * 1000)
    assert abs(int(near["expiration"]) - (now_ms + 3600 * 1000)) < 60_000
    default = _watch(alice, receiver.url)
    assert int(default["expiration"]) <= now_ms + (604_800 + 60) * 1000


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"address": "http://hooks.example.com/google"}, "push.webhookUrlNotHttps"),
        ({"address": "ftp://127.0.0.1/x"}, "invalid"),
        ({"address": None}, "required"),
        ({"type": "email"}, "invalid"),
        ({"id": "x" * 65}, "invalid"),
        ({"id": "has space"}, "invalid"),
        ({"token": "t" * 257}, "invalid"),
        ({"params": {"ttl": "soon"}}, "invalid"),
        ({"expiration": "1000"}, "invalid"),  # in the past
    ],
)
def test_watch_validation(alice, body, reason):
    # Every case fails validation, so no channel exists and nothing is ever sent to this address.
    request = {
        "id": f"ch-{uuid.uuid4()}",
        "type": "web_hook",
        "address": "https://hooks.example.com/g",
        **body,
    }
    request = {key: value for key, value in request.items() if value is not None}
    with pytest.raises(HttpError) as caught:
        alice.events.watch(calendarId="primary", body=request).execute()
    assert caught.value.resp.status == 400 and error_reason(caught.value) == reason


def test_channel_ids_are_unique_and_loopback_http_is_allowed(alice, receiver):
    channel = _watch(alice, receiver.url.replace("127.0.0.1", "localhost"))
    with pytest.raises(HttpError) as caught:
        alice.events.watch(
            calendarId="primary", body={"id": channel["id"], "type": "webhook", "address": receiver.url}
        ).execute()
    assert caught.value.resp.status == 400 and error_reason(caught.value) == "channelIdNotUnique"

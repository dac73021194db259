"""The emulator driven by a Google Calendar client nobody here wrote: Home Assistant's gcal-sync
(aiohttp, its own models; not google-api-python-client), through its own high-level API where
it has one: GoogleCalendarService (list with recurrence expanded, create with a client-chosen id,
patch, delete), CalendarEventSyncManager (full then incremental sync, paging, its field mask),
CalendarListSyncManager (calendar list sync), and its request layer for what it has no method
for (events.move, events.watch)."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from contextlib import asynccontextmanager

import aiohttp
from gcal_sync.api import (
    CalendarListRequest,
    GoogleCalendarService,
    ListEventsRequest,
    LocalListEventsRequest,
)
from gcal_sync.auth import AbstractAuth
from gcal_sync.model import DateOrDatetime, Event
from gcal_sync.sync import CalendarEventSyncManager, CalendarListSyncManager

from tests.receiver import NotificationReceiver
from tests.waiting import scaled

UTC = datetime.UTC


class StaticTokenAuth(AbstractAuth):
    def __init__(self, session: aiohttp.ClientSession, host: str, token: str) -> None:
        super().__init__(session, host)
        self._token = token

    async def async_get_access_token(self) -> str:
        return self._token


@asynccontextmanager
async def _service(emulator, admin, email: str):
    timeout = aiohttp.ClientTimeout(total=scaled(30))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        auth = StaticTokenAuth(session, f"{emulator.url}/google/calendar/v3", admin.token("google", email))
        yield GoogleCalendarService(auth), auth


def _at(day: int, hour: int) -> datetime.datetime:
    return datetime.datetime(2030, 4, day, hour, tzinfo=UTC)


def _event(summary: str, day: int, hour: int = 10, **extra) -> Event:
    return Event(
        summary=summary,
        start=DateOrDatetime(date_time=_at(day, hour), timezone="UTC"),
        end=DateOrDatetime(date_time=_at(day, hour + 1), timezone="UTC"),
        **extra,
    )


def test_list_with_recurrence_expanded_and_client_chosen_id(emulator, admin):
    user = admin.new_user("google")

    async def flow():
        async with _service(emulator, admin, user["email"]) as (api, _):
            chosen = uuid.uuid4().hex
            await api.async_create_event("primary", _event("Chosen id", 2, id=chosen))
            await api.async_create_event(
                "primary", _event("Weekly 1:1", 1, 9, recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"])
            )
            listed = await api.async_list_events(
                ListEventsRequest(calendar_id="primary", start_time=_at(1, 0), end_time=_at(30, 0))
            )
            fetched = await api.async_get_event("primary", chosen)
            return chosen, [(e.summary, e.start.date_time, e.id) for e in listed.items], fetched

    chosen, items, fetched = asyncio.run(flow())
    assert [(summary, start) for summary, start, _ in items] == [
        ("Weekly 1:1", _at(1, 9)),
        ("Chosen id", _at(2, 10)),
        ("Weekly 1:1", _at(8, 9)),
        ("Weekly 1:1", _at(15, 9)),
    ]
    assert items[1][2] == chosen and fetched.id == chosen and fetched.summary == "Chosen id"
    assert all(
        event_id.startswith(items[0][2].split("_")[0]) for s, _, event_id in items if s == "Weekly 1:1"
    )


def test_full_then_incremental_sync_after_create_move_and_delete(emulator, admin):
    user = admin.new_user("google")
    team = admin.add_calendar("google", user["email"], "Team")
    # More than gcal-sync's page of 1000: the full sync follows page tokens.
    seeded = admin.seed(
        "google",
        user["email"],
        [
            {
                "summary": f"Seeded {n}",
                "start": {"dateTime": "2030-05-01T09:00:00Z"},
                "end": {"dateTime": "2030-05-01T09:30:00Z"},
            }
            for n in range(1005)
        ],
    )

    async def flow():
        async with _service(emulator, admin, user["email"]) as (api, auth):
            sync = CalendarEventSyncManager(api, calendar_id="primary")
            team_sync = CalendarEventSyncManager(api, calendar_id=team)
            await sync.run()
            await team_sync.run()
            full = await sync.store_service.async_list_events(
                LocalListEventsRequest(
                    start_time=_at(1, 0), end_time=datetime.datetime(2030, 6, 1, tzinfo=UTC)
                )
            )
            fresh_id = uuid.uuid4().hex
            await api.async_create_event("primary", _event("Fresh", 3, id=fresh_id))
            await api.async_patch_event(  # rescheduled
                "primary",
                seeded[0],
                {"start": {"dateTime": "2030-04-04T15:00:00Z"}, "end": {"dateTime": "2030-04-04T16:00:00Z"}},
            )
            await auth.post(f"calendars/primary/events/{seeded[1]}/move", params={"destination": team})
            await api.async_delete_event("primary", seeded[2])
            await sync.run()
            await team_sync.run()
            window = LocalListEventsRequest(
                start_time=_at(1, 0), end_time=datetime.datetime(2030, 6, 1, tzinfo=UTC)
            )
            primary_after = await sync.store_service.async_list_events(window)
            team_after = await team_sync.store_service.async_list_events(window)
            return fresh_id, full.events, primary_after.events, team_after.events

    fresh_id, full, primary_after, team_after = asyncio.run(flow())
    assert len(full) == 1005
    by_id = {e.id: e for e in primary_after}
    assert fresh_id in by_id and by_id[fresh_id].summary == "Fresh"
    assert by_id[seeded[0]].start.date_time == datetime.datetime(2030, 4, 4, 15, tzinfo=UTC)
    assert seeded[1] not in by_id and seeded[2] not in by_id
    assert len(by_id) == 1005 - 2 + 1
    assert [e.id for e in team_after] == [seeded[1]]


def test_calendar_list_sync(emulator, admin):
    user = admin.new_user("google")

    async def flow():
        async with _service(emulator, admin, user["email"]) as (api, auth):
            calendars = CalendarListSyncManager(api)
            await calendars.run()
            before = await calendars.store_service.async_list_calendars()
            added = admin.add_calendar("google", user["email"], "Coaching")
            await calendars.run()  # incremental: with the sync token of the first run
            after = await calendars.store_service.async_list_calendars()
            page = await api.async_list_calendars(CalendarListRequest())
            return before, added, after, page

    before, added, after, page = asyncio.run(flow())
    assert [c.id for c in before.calendars] == [user["email"]]
    assert {c.id for c in after.calendars} == {user["email"], added}
    assert page.sync_token


def test_watch_receives_a_notification(emulator, admin):
    user = admin.new_user("google")

    async def flow(rx):
        async with _service(emulator, admin, user["email"]) as (api, auth):
            channel = await auth.post_json(
                "calendars/primary/events/watch",
                json={
                    "id": str(uuid.uuid4()),
                    "type": "web_hook",
                    "address": f"{rx.url}/google",
                    "token": "t",
                },
            )
            await api.async_create_event("primary", _event("Ping", 5))
            return channel

    with NotificationReceiver() as rx:
        channel = asyncio.run(flow(rx))
        got = rx.wait_for(
            lambda received: {"sync", "exists"} <= {r.headers.get("X-Goog-Resource-State") for r in received}
        )
    # Deliveries race each other over loopback (as Google's may); the message numbers give the order
    # the channel sent them in: the sync message first.
    by_number = sorted(got, key=lambda r: int(r.headers["X-Goog-Message-Number"]))
    states = [r.headers["X-Goog-Resource-State"] for r in by_number]
    assert states[0] == "sync" and "exists" in states
    assert all(r.headers["X-Goog-Channel-ID"] == channel["id"] for r in got)

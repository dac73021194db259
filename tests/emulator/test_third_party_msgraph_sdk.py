"""The emulator driven by Microsoft's official Graph SDK for Python (msgraph-sdk, kiota over
httpx; not msal or hand-written requests), through its own request builders: calendarView with
series expanded, calendarView delta() (full, then incremental after a create, a move and a
delete), transactionId replays, $select, paging by @odata.nextLink, and a subscription whose
notification reaches a local receiver. A static-token auth provider stands in for azure-identity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient, graph_request_adapter
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.day_of_week import DayOfWeek
from msgraph.generated.models.event import Event
from msgraph.generated.models.patterned_recurrence import PatternedRecurrence
from msgraph.generated.models.recurrence_pattern import RecurrencePattern
from msgraph.generated.models.recurrence_pattern_type import RecurrencePatternType
from msgraph.generated.models.recurrence_range import RecurrenceRange
from msgraph.generated.models.recurrence_range_type import RecurrenceRangeType
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph_core import GraphClientFactory

from tests.receiver import NotificationReceiver
from tests.waiting import scaled

START, END = "2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z"


class StaticToken(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context=None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["127.0.0.1"])


def _client(emulator, token: str) -> GraphServiceClient:
    # The SDK's own middleware options (its /users/me-token-to-replace -> /me rewrite among them),
    # on a client that skips proxies for loopback.
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(trust_env=False, timeout=scaled(30)), options=graph_request_adapter.options
    )
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)), client=http)
    adapter.base_url = f"{emulator.url}/microsoft/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def _event(subject: str, start: str, end: str, **extra) -> Event:
    return Event(
        subject=subject,
        start=DateTimeTimeZone(date_time=start, time_zone="UTC"),
        end=DateTimeTimeZone(date_time=end, time_zone="UTC"),
        **extra,
    )


def _weekly(subject: str, start: str, end: str, count: int) -> Event:
    return _event(
        subject,
        start,
        end,
        recurrence=PatternedRecurrence(
            pattern=RecurrencePattern(
                type=RecurrencePatternType.Weekly, interval=1, days_of_week=[DayOfWeek.Monday]
            ),
            range=RecurrenceRange(
                type=RecurrenceRangeType.Numbered, start_date=start[:10], number_of_occurrences=count
            ),
        ),
    )


def _window_view(**extra) -> RequestConfiguration:
    return RequestConfiguration(
        query_parameters=CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=START, end_date_time=END, **extra
        )
    )


async def _delta_round(client: GraphServiceClient, link: str | None, page_size: int | None = None):
    """Follow delta() pages to the deltaLink: (items, deltaLink, pages). The page-size preference
    goes with every request, as Graph asks (a nextLink does not carry it)."""
    items, pages = [], 0
    builder = client.me.calendar_view.delta
    first = RequestConfiguration(
        query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time=START, end_date_time=END
        )
    )
    following = RequestConfiguration()
    for config in (first, following):
        if page_size:
            config.headers.add("Prefer", f"odata.maxpagesize={page_size}")
    if link is None:
        page = await builder.get(request_configuration=first)
    else:
        page = await builder.with_url(link).get(request_configuration=following)
    while True:
        pages += 1
        items += page.value or []
        if page.odata_delta_link:
            return items, page.odata_delta_link, pages
        page = await builder.with_url(page.odata_next_link).get(request_configuration=following)


def test_calendar_view_expands_series_select_and_paging(emulator, admin):
    user = admin.new_user("microsoft")

    async def flow():
        client = _client(emulator, admin.token("microsoft", user["email"]))
        await client.me.events.post(_weekly("Weekly 1:1", "2030-01-07T09:00:00", "2030-01-07T09:30:00", 3))
        await client.me.events.post(_event("Single", "2030-01-03T10:00:00", "2030-01-03T11:00:00"))
        view = await client.me.calendar_view.get(request_configuration=_window_view())
        selected = await client.me.calendar_view.get(
            request_configuration=_window_view(select=["subject", "start"], orderby=["start/dateTime"])
        )
        first = await client.me.calendar_view.get(request_configuration=_window_view(top=2))
        rest = await client.me.calendar_view.with_url(first.odata_next_link).get()
        return view, selected, first, rest

    view, selected, first, rest = asyncio.run(flow())
    by_start = sorted(view.value, key=lambda e: e.start.date_time)
    assert [(e.subject, e.type.value) for e in by_start] == [
        ("Single", "singleInstance"),
        ("Weekly 1:1", "occurrence"),
        ("Weekly 1:1", "occurrence"),
        ("Weekly 1:1", "occurrence"),
    ]
    assert len({e.series_master_id for e in by_start[1:]}) == 1
    assert [e.subject for e in selected.value] == ["Single", "Weekly 1:1", "Weekly 1:1", "Weekly 1:1"]
    assert all(e.body is None and e.location is None and e.start is not None for e in selected.value)
    assert len(first.value) == 2 and first.odata_next_link and len(rest.value) == 2
    assert {e.id for e in first.value} | {e.id for e in rest.value} == {e.id for e in view.value}


def test_delta_full_then_incremental_after_create_move_and_delete(emulator, admin):
    user = admin.new_user("microsoft")

    async def flow():
        client = _client(emulator, admin.token("microsoft", user["email"]))
        keep = await client.me.events.post(_event("Keep", "2030-01-03T10:00:00", "2030-01-03T11:00:00"))
        moving = await client.me.events.post(_event("Move me", "2030-01-04T10:00:00", "2030-01-04T11:00:00"))
        gone = await client.me.events.post(_event("Delete me", "2030-01-05T10:00:00", "2030-01-05T11:00:00"))
        full, link, pages = await _delta_round(client, None, page_size=1)
        created = await client.me.events.post(_event("Fresh", "2030-01-06T10:00:00", "2030-01-06T11:00:00"))
        await client.me.events.by_event_id(moving.id).patch(
            Event(
                start=DateTimeTimeZone(date_time="2030-01-09T15:00:00", time_zone="UTC"),
                end=DateTimeTimeZone(date_time="2030-01-09T16:00:00", time_zone="UTC"),
            )
        )
        await client.me.events.by_event_id(gone.id).delete()
        changed, link2, _ = await _delta_round(client, link)
        quiet, _, _ = await _delta_round(client, link2)
        return keep, moving, gone, created, full, pages, changed, quiet

    keep, moving, gone, created, full, pages, changed, quiet = asyncio.run(flow())
    assert {e.id for e in full} == {keep.id, moving.id, gone.id} and pages >= 3
    by_id = {e.id: e for e in changed}
    assert set(by_id) == {created.id, moving.id, gone.id}
    assert by_id[moving.id].start.date_time.startswith("2030-01-09T15:00:00")
    assert by_id[gone.id].additional_data.get("@removed") == {"reason": "deleted"}
    assert quiet == []


def test_transaction_id_replays_the_create(emulator, admin):
    user = admin.new_user("microsoft")

    async def flow():
        client = _client(emulator, admin.token("microsoft", user["email"]))
        body = _event("Once", "2030-01-03T10:00:00", "2030-01-03T11:00:00", transaction_id="tx-42")
        first = await client.me.events.post(body)
        second = await client.me.events.post(body)
        listed = await client.me.events.get(
            request_configuration=RequestConfiguration(
                query_parameters=EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
                    filter="transactionId eq 'tx-42'"
                )
            )
        )
        return first, second, listed

    first, second, listed = asyncio.run(flow())
    assert first.id == second.id and [e.id for e in listed.value] == [first.id]


def test_subscription_receives_a_notification(emulator, admin):
    user = admin.new_user("microsoft")
    now = datetime.fromisoformat(admin.clock()["now"])

    async def subscribe_and_change(rx):
        client = _client(emulator, admin.token("microsoft", user["email"]))
        subscription = await client.subscriptions.post(
            Subscription(
                change_type="created,updated,deleted",
                notification_url=f"{rx.url}/notify",
                resource="me/events",
                expiration_date_time=now + timedelta(hours=1),
                client_state="sdk-state",
            )
        )
        created = await client.me.events.post(_event("Ping", "2030-01-03T10:00:00", "2030-01-03T11:00:00"))
        return subscription, created

    with NotificationReceiver() as rx:
        subscription, created = asyncio.run(subscribe_and_change(rx))
        got = rx.wait_for(lambda received: any(r.path == "/notify" and r.body for r in received))
    import json

    items = [i for r in got if r.path == "/notify" and r.body for i in json.loads(r.body)["value"]]
    assert subscription.id and subscription.expiration_date_time.astimezone(UTC) > now
    assert items[0]["subscriptionId"] == subscription.id and items[0]["clientState"] == "sdk-state"
    assert items[0]["changeType"] == "created" and created.id in items[0]["resource"]

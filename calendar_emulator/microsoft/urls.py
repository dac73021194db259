"""Routes of Microsoft Graph (/microsoft/v1.0/...) and the identity platform (/microsoft/{tenant}/...).

Every mailbox path is served both as `me/...` and as `users/{id-or-email}/...` for the signed-in user.
"""

from __future__ import annotations

from starlette.routing import Route

from calendar_emulator.microsoft.identity import IdentityEndpoints
from calendar_emulator.microsoft.responses import GraphResponses
from calendar_emulator.state import EmulatorState

GRAPH = "/microsoft/v1.0"
MAILBOX_PREFIXES = (f"{GRAPH}/me", f"{GRAPH}/users/{{user_ref}}")


# Collections whose delta function the emulator serves (all with calendarView's window semantics:
# v1.0 binds delta(startDateTime, endDateTime) to the events collection too, and Microsoft's SDKs
# call it there). Each both as a path segment and in OData's function form `delta()`, which is
# what the SDKs built from Graph's OpenAPI description send.
DELTA_COLLECTIONS = (
    "/calendarView",
    "/calendar/calendarView",
    "/calendars/{calendar_id}/calendarView",
    "/events",
    "/calendar/events",
    "/calendars/{calendar_id}/events",
)


def delta_paths(endpoint) -> list[tuple]:
    return [
        (f"{collection}/{function}", endpoint, ["GET"])
        for collection in DELTA_COLLECTIONS
        for function in ("delta", "delta()")
    ]


def routes(state: EmulatorState) -> list[Route]:
    graph = GraphResponses(state)
    identity = IdentityEndpoints(state)
    mailbox_paths = [
        ("", graph.me, ["GET"]),
        ("/calendars", graph.list_calendars, ["GET"]),
        ("/calendars/{calendar_id}", graph.get_calendar, ["GET"]),
        ("/calendars/{calendar_id}", graph.delete_calendar, ["DELETE"]),
        ("/calendar", graph.get_calendar, ["GET"]),
        ("/calendarView", graph.calendar_view, ["GET"]),
        ("/calendar/calendarView", graph.calendar_view, ["GET"]),
        ("/calendars/{calendar_id}/calendarView", graph.calendar_view, ["GET"]),
        *delta_paths(graph.delta),
        ("/events", graph.list_events, ["GET"]),
        ("/events", graph.create_event, ["POST"]),
        ("/calendar/events", graph.list_events, ["GET"]),
        ("/calendar/events", graph.create_event, ["POST"]),
        ("/calendars/{calendar_id}/events", graph.list_events, ["GET"]),
        ("/calendars/{calendar_id}/events", graph.create_event, ["POST"]),
        ("/events/{event_id}", graph.get_event, ["GET"]),
        ("/events/{event_id}", graph.update_event, ["PATCH"]),
        ("/events/{event_id}", graph.delete_event, ["DELETE"]),
        ("/calendars/{calendar_id}/events/{event_id}", graph.get_event, ["GET"]),
        ("/calendars/{calendar_id}/events/{event_id}", graph.update_event, ["PATCH"]),
        ("/calendars/{calendar_id}/events/{event_id}", graph.delete_event, ["DELETE"]),
        ("/events/{event_id}/cancel", graph.cancel_event, ["POST"]),
        ("/events/{event_id}/instances", graph.instances, ["GET"]),
    ]
    found = [
        Route(prefix + path, endpoint, methods=methods)
        for prefix in MAILBOX_PREFIXES
        for path, endpoint, methods in mailbox_paths
    ]
    found += [
        Route(f"{GRAPH}/subscriptions", graph.create_subscription, methods=["POST"]),
        Route(f"{GRAPH}/subscriptions", graph.list_subscriptions, methods=["GET"]),
        Route(f"{GRAPH}/subscriptions/{{subscription_id}}", graph.get_subscription, methods=["GET"]),
        Route(f"{GRAPH}/subscriptions/{{subscription_id}}", graph.renew_subscription, methods=["PATCH"]),
        Route(f"{GRAPH}/subscriptions/{{subscription_id}}", graph.delete_subscription, methods=["DELETE"]),
        Route(
            f"{GRAPH}/subscriptions/{{subscription_id}}/reauthorize",
            graph.reauthorize_subscription,
            methods=["POST"],
        ),
    ]
    # The identity platform under /microsoft/, and at the root as well: msal takes an authority's
    # first path segment as the tenant, so an https emulator used as msal's real authority is
    # addressed as https://127.0.0.1:PORT/{tenant}.
    for prefix in ("/microsoft", ""):
        found += [
            Route(
                f"{prefix}/{{tenant}}/v2.0/.well-known/openid-configuration",
                identity.openid_configuration,
                methods=["GET"],
            ),
            Route(f"{prefix}/{{tenant}}/discovery/instance", identity.instance_discovery, methods=["GET"]),
            Route(f"{prefix}/{{tenant}}/discovery/v2.0/keys", identity.keys, methods=["GET"]),
            Route(f"{prefix}/{{tenant}}/oauth2/v2.0/authorize", identity.authorize, methods=["GET"]),
            Route(f"{prefix}/{{tenant}}/oauth2/v2.0/token", identity.token, methods=["POST"]),
        ]
    return found

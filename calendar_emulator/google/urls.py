"""Routes of the Google Calendar v3 API and Google OAuth (full paths; the app mounts them as is)."""

from __future__ import annotations

from starlette.routing import Route

from calendar_emulator.google.oauth import GoogleOAuth
from calendar_emulator.google.responses import CalendarApi
from calendar_emulator.state import EmulatorState

API = "/google/calendar/v3"
OAUTH = "/google/oauth2"


def routes(state: EmulatorState) -> list[Route]:
    api = CalendarApi(state)
    oauth = GoogleOAuth(state)
    events = API + "/calendars/{calendarId}/events"
    return [
        Route(f"{API}/users/me/calendarList", api.calendar_list, methods=["GET"]),
        Route(f"{API}/users/me/calendarList/{{calendarId}}", api.calendar_list_entry, methods=["GET"]),
        Route(f"{API}/calendars/{{calendarId}}", api.calendar, methods=["GET"]),
        Route(f"{API}/calendars/{{calendarId}}", api.delete_calendar, methods=["DELETE"]),
        Route(events, api.list_events, methods=["GET"]),
        Route(events, api.insert_event, methods=["POST"]),
        Route(f"{events}/watch", api.watch, methods=["POST"]),
        Route(f"{events}/import", api.import_event, methods=["POST"]),
        Route(f"{events}/quickAdd", api.quick_add, methods=["POST"]),
        Route(f"{events}/{{eventId}}/move", api.move_event, methods=["POST"]),
        Route(f"{events}/{{eventId}}", api.get_event, methods=["GET"]),
        Route(f"{events}/{{eventId}}", api.update_event, methods=["PUT"]),
        Route(f"{events}/{{eventId}}", api.patch_event, methods=["PATCH"]),
        Route(f"{events}/{{eventId}}", api.delete_event, methods=["DELETE"]),
        Route(f"{events}/{{eventId}}/instances", api.list_instances, methods=["GET"]),
        Route(f"{API}/channels/stop", api.stop_channel, methods=["POST"]),
        Route(f"{OAUTH}/v2/auth", oauth.authorize, methods=["GET"]),
        Route(f"{OAUTH}/auth", oauth.authorize, methods=["GET"]),
        Route(f"{OAUTH}/token", oauth.token, methods=["POST"]),
        Route(f"{OAUTH}/revoke", oauth.revoke, methods=["POST", "GET"]),
        Route(f"{OAUTH}/v3/userinfo", oauth.userinfo, methods=["GET"]),
        Route(f"{OAUTH}/v2/userinfo", oauth.userinfo, methods=["GET"]),
    ]

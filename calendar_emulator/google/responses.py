"""HTTP shapes of the Calendar v3 API: authenticate, check scopes and parameters, call the state
model under the lock, and render (with `fields=` partial responses)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from calendar_emulator.google import fields
from calendar_emulator.google.calendar_list import CalendarListQuery
from calendar_emulator.google.errors import GoogleApiError, bad_request, unauthenticated
from calendar_emulator.google.listing import ListQuery
from calendar_emulator.google.models import GoogleBackend
from calendar_emulator.http import JSONResponse, json_body
from calendar_emulator.state import EmulatorState
from calendar_emulator.store import User

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
READ_SCOPES = frozenset(
    {
        "calendar",
        "calendar.readonly",
        "calendar.events",
        "calendar.events.readonly",
        "calendar.events.owned",
        "calendar.events.owned.readonly",
    }
)
WRITE_SCOPES = frozenset({"calendar", "calendar.events", "calendar.events.owned"})
CALENDAR_LIST_SCOPES = frozenset(
    {"calendar", "calendar.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly"}
)
CALENDARS_SCOPES = frozenset(
    {"calendar", "calendar.readonly", "calendar.calendars", "calendar.calendars.readonly"}
)
# calendars.delete (calendar.app.created would only cover calendars the app made; none here are).
CALENDAR_WRITE_SCOPES = frozenset({"calendar", "calendar.calendars"})
SEND_UPDATES = ("all", "externalOnly", "none")


def scope_names(scope: str) -> set[str]:
    return {name.removeprefix(SCOPE_PREFIX) for name in scope.split()}


def insufficient_scopes() -> GoogleApiError:
    return GoogleApiError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
    )


class CalendarApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    @property
    def backend(self) -> GoogleBackend:
        return self.state.google

    # --- request plumbing ----------------------------------------------------------------------
    def _user(self, request: Request, allowed: frozenset[str] | None) -> User:
        """The caller, whose token must carry one of the allowed scopes (None: any calendar scope)."""
        header = request.headers.get("authorization")
        identity = self.state.identity
        with self.state.lock:
            found = identity.authenticate("google", header)
            if isinstance(found, str):
                raise unauthenticated(found)
            token = identity.access_tokens[header[7:].strip()]  # type: ignore[index]
            if token.grant is None:
                return found  # admin-minted tokens carry every scope
            granted = scope_names(token.grant.scope)
        if allowed is None:
            if not any(name.startswith("calendar") for name in granted):
                raise insufficient_scopes()
        elif not granted & allowed:
            raise insufficient_scopes()
        return found

    @staticmethod
    def _mask(request: Request, schema_name: str) -> fields.Tree | None:
        expression = request.query_params.get("fields")
        if expression is None:
            return None
        try:
            tree = fields.parse(expression)
            fields.validate(tree, schema_name)
        except fields.FieldMaskError as exc:
            raise GoogleApiError(400, "invalidParameter", str(exc), location="fields") from None
        return tree

    @staticmethod
    def _conference_version(request: Request) -> int:
        raw = request.query_params.get("conferenceDataVersion", "0")
        if raw not in ("0", "1"):
            raise bad_request(
                "invalid", "Invalid conferenceDataVersion: must be 0 or 1.", "conferenceDataVersion"
            )
        return int(raw)

    @staticmethod
    def _send_updates(request: Request) -> None:
        value = request.query_params.get("sendUpdates")
        if value is not None and value not in SEND_UPDATES:
            raise bad_request("invalid", f"Invalid value for sendUpdates: {value}", "sendUpdates")

    @staticmethod
    def _render(body: dict, tree: fields.Tree | None, status: int = 200, headers=None) -> JSONResponse:
        return JSONResponse(fields.apply(body, tree), status_code=status, headers=headers)

    # --- calendarList / calendars --------------------------------------------------------------
    async def calendar_list(self, request: Request):
        user = self._user(request, CALENDAR_LIST_SCOPES)
        tree = self._mask(request, "CalendarList")
        query = CalendarListQuery.from_params(request.query_params)
        with self.state.lock:
            body = self.backend.calendar_list(user, query)
        return self._render(body, tree)

    async def calendar_list_entry(self, request: Request):
        user = self._user(request, CALENDAR_LIST_SCOPES)
        tree = self._mask(request, "CalendarListEntry")
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            entry = self.backend.calendar_entry(calendar)
        return self._render(entry, tree)

    async def calendar(self, request: Request):
        user = self._user(request, CALENDARS_SCOPES)
        tree = self._mask(request, "Calendar")
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            body = {
                "kind": "calendar#calendar",
                "etag": calendar.etag,
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            }
        return self._render(body, tree)

    async def delete_calendar(self, request: Request):
        user = self._user(request, CALENDAR_WRITE_SCOPES)
        with self.state.lock:
            self.backend.delete_calendar(user, request.path_params["calendarId"])
        return Response(status_code=204)

    # --- events --------------------------------------------------------------------------------
    async def list_events(self, request: Request):
        user = self._user(request, READ_SCOPES)
        tree = self._mask(request, "Events")
        query = ListQuery.from_params(request.query_params, self.state.clock.now())
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            body = self.backend.list_events(user, calendar, query)
        return self._render(body, tree)

    async def list_instances(self, request: Request):
        user = self._user(request, READ_SCOPES)
        tree = self._mask(request, "Events")
        query = ListQuery.from_params(request.query_params, self.state.clock.now())
        query.sync_token = None
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            body = self.backend.list_instances(user, calendar, request.path_params["eventId"], query)
        return self._render(body, tree)

    async def get_event(self, request: Request):
        user = self._user(request, READ_SCOPES)
        tree = self._mask(request, "Event")
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            body = self.backend.get_event(calendar, request.path_params["eventId"])
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and body["etag"] in {t.strip() for t in if_none_match.split(",")}:
            return Response(status_code=304, headers={"ETag": body["etag"]})
        return self._render(body, tree, headers={"ETag": body["etag"]})

    async def insert_event(self, request: Request):
        user = self._user(request, WRITE_SCOPES)
        tree = self._mask(request, "Event")
        version = self._conference_version(request)
        self._send_updates(request)
        raw = await json_body(request)
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            body = self.backend.insert_event(calendar, raw, conference_version=version)
        return self._render(body, tree)

    async def update_event(self, request: Request):
        return await self._rewrite(request, patch=False)

    async def patch_event(self, request: Request):
        return await self._rewrite(request, patch=True)

    async def _rewrite(self, request: Request, patch: bool):
        user = self._user(request, WRITE_SCOPES)
        tree = self._mask(request, "Event")
        version = self._conference_version(request)
        self._send_updates(request)
        raw = await json_body(request)
        if_match = request.headers.get("if-match")
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            write = self.backend.patch_event if patch else self.backend.update_event
            body = write(calendar, request.path_params["eventId"], raw, version, if_match)
        return self._render(body, tree)

    async def delete_event(self, request: Request):
        user = self._user(request, WRITE_SCOPES)
        self._send_updates(request)
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            self.backend.delete_event(
                calendar, request.path_params["eventId"], request.headers.get("if-match")
            )
        return Response(status_code=204)

    async def move_event(self, request: Request):
        user = self._user(request, WRITE_SCOPES)
        tree = self._mask(request, "Event")
        self._send_updates(request)
        destination_id = request.query_params.get("destination")
        if not destination_id:
            raise bad_request("required", "Required parameter: destination", "destination")
        with self.state.lock:
            source = self.backend.calendar_for(user, request.path_params["calendarId"])
            destination = self.backend.calendar_for(user, destination_id)
            body = self.backend.move_event(source, request.path_params["eventId"], destination)
        return self._render(body, tree)

    async def import_event(self, request: Request):
        user = self._user(request, WRITE_SCOPES)
        tree = self._mask(request, "Event")
        version = self._conference_version(request)
        raw = await json_body(request)
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            body = self.backend.import_event(calendar, raw, version)
        return self._render(body, tree)

    async def quick_add(self, request: Request):
        user = self._user(request, WRITE_SCOPES)
        tree = self._mask(request, "Event")
        self._send_updates(request)
        text = request.query_params.get("text")
        if not text:
            raise bad_request("required", "Required parameter: text", "text")
        with self.state.lock:
            calendar = self.backend.calendar_for(user, request.path_params["calendarId"])
            body = self.backend.quick_add(calendar, text)
        return self._render(body, tree)

    # --- push ----------------------------------------------------------------------------------
    async def watch(self, request: Request):
        user = self._user(request, READ_SCOPES)
        tree = self._mask(request, "Channel")
        raw = await json_body(request)
        calendar_id = request.path_params["calendarId"]
        base = str(request.base_url).rstrip("/")
        resource_uri = f"{base}/google/calendar/v3/calendars/{quote(calendar_id, safe='')}/events?alt=json"
        with self.state.lock:
            calendar = self.backend.calendar_for(user, calendar_id)
            body = self.backend.watch(user, calendar, raw, resource_uri)
        return self._render(body, tree)

    async def stop_channel(self, request: Request):
        user = self._user(request, None)
        raw = await json_body(request)
        with self.state.lock:
            self.backend.stop_channel(user, raw)
        return Response(status_code=204)

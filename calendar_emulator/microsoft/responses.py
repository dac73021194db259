"""Graph's HTTP shapes: each handler authenticates the caller, parses the request, calls the model
under the lock and renders Graph JSON. Errors are raised as GraphApiError (app.py renders them)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from calendar_emulator.http import JSONResponse, json_body
from calendar_emulator.microsoft import delta as delta_rounds
from calendar_emulator.microsoft import odata
from calendar_emulator.microsoft.errors import (
    GraphApiError,
    bad_request,
    not_found,
    sync_state_gone,
    unauthenticated,
)
from calendar_emulator.microsoft.models import CHANGE_TYPES, Instance, Mailbox, Subscription
from calendar_emulator.microsoft.serialize import (
    CALENDAR_PROPERTIES,
    GRAPH,
    View,
    render,
    render_calendar,
    render_user,
)
from calendar_emulator.microsoft.times import TimeError, parse_query_datetime, zone_for
from calendar_emulator.state import EmulatorState
from calendar_emulator.store import User

READ_SCOPES = {"calendars.read", "calendars.readwrite", "calendars.read.shared", "calendars.readwrite.shared"}
WRITE_SCOPES = {"calendars.readwrite", "calendars.readwrite.shared"}
UNAUTHENTICATED = {"missing": "empty", "invalid": "invalid", "expired": "expired", "revoked": "revoked"}
LIST_OPTIONS = {"$select", "$top", "$skip", "$filter", "$expand", "$orderby", "startdatetime", "enddatetime"}
DELTA_OPTIONS = {"startdatetime", "enddatetime", "$skiptoken", "$deltatoken"}
ORDERABLE = {"start/datetime", "end/datetime", "createddatetime", "lastmodifieddatetime", "subject"}
_RESOURCE = re.compile(r"^/?(?:me|users/([^/]+))/(?:calendars/([^/]+)/)?events/?$", re.IGNORECASE)


def forbidden(message: str = "Access is denied. Check credentials and try again.") -> GraphApiError:
    return GraphApiError(403, "ErrorAccessDenied", message)


class GraphResponses:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.backend = state.microsoft

    # --- the caller -------------------------------------------------------------------------
    def _caller(self, request: Request, write: bool = False, calendars: bool = True) -> tuple[User, str]:
        """The signed-in user and the client id, after the token's scopes were checked
        (`calendars=False`: any valid token will do, as for GET /me with User.Read)."""
        header = request.headers.get("authorization")
        with self.state.lock:
            found = self.state.identity.authenticate("microsoft", header)
            if isinstance(found, str):
                raise unauthenticated(UNAUTHENTICATED.get(found, found))
            token = self.state.identity.access_tokens[header[7:].strip()]  # type: ignore[index]
        if token.grant is None or not calendars:
            return found, token.grant.client_id if token.grant else "emulator-admin"  # admin: every scope
        scopes = {scope.rsplit("/", 1)[-1].lower() for scope in token.grant.scope.split()}
        needed = WRITE_SCOPES if write else READ_SCOPES
        if not scopes & needed:
            raise forbidden(
                "Access is denied. Check credentials and try again. "
                f"(the token needs {'Calendars.ReadWrite' if write else 'Calendars.Read'})"
            )
        return found, token.grant.client_id

    def _target_user(self, request: Request, user: User) -> None:
        """`users/{id-or-email}/...` must name the signed-in user (no delegated mailboxes here)."""
        ref = request.path_params.get("user_ref")
        if ref is None or ref.lower() in (user.user_id.lower(), user.email.lower()):
            return
        with self.state.lock:
            known = any(
                u.user_id == ref or u.email.lower() == ref.lower() for u in self.state.identity.users.values()
            )
        if known:
            raise forbidden()
        raise GraphApiError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")

    def _mailbox(self, request: Request, write: bool = False) -> Mailbox:
        user, _ = self._caller(request, write)
        self._target_user(request, user)
        with self.state.lock:
            return self.backend.mailbox(user)

    @staticmethod
    def _view(
        request: Request, query: dict[str, str] | None = None, select: bool = True
    ) -> tuple[View, dict]:
        """Rendering preferences from Prefer headers and $select/$expand; plus headers to echo."""
        preferences = odata.prefer(request.headers)
        applied: list[str] = []
        zone, zone_name = UTC, "UTC"
        wanted_zone = preferences.get("outlook.timezone")
        if wanted_zone:
            try:
                zone, zone_name = zone_for(wanted_zone), wanted_zone
                applied.append(f'outlook.timezone="{wanted_zone}"')
            except TimeError:
                pass  # an unusable preference is ignored (RFC 7240), and the answer stays in UTC
        query = query or {}
        view = View(
            immutable=odata.wants_immutable_ids(preferences),
            zone=zone,
            zone_name=zone_name,
            select=odata.parse_select(query.get("$select")) if select else None,
            expand=odata.parse_expand(query.get("$expand")),
        )
        if view.immutable:
            applied.append('IdType="ImmutableId"')
        return view, {"Preference-Applied": ", ".join(applied)} if applied else {}

    @staticmethod
    def _check_options(query: dict[str, str], allowed: set[str], what: str) -> None:
        for name in query:
            if name.startswith("$") and name not in allowed:
                raise odata.bad_query(f"Query option '{name}' is not supported on {what}.")

    # --- users and calendars -----------------------------------------------------------------
    async def me(self, request: Request):
        user, _ = self._caller(request, calendars=False)
        self._target_user(request, user)
        return JSONResponse(render_user(user))

    async def list_calendars(self, request: Request):
        mailbox = self._mailbox(request)
        query = odata.query_lookup(request.query_params)
        self._check_options(query, {"$select", "$top"}, "calendars")
        select = self._calendar_select(query)
        top = odata.parse_int(query.get("$top"), "$top", 1, odata.MAX_PAGE_SIZE)
        with self.state.lock:
            value = [render_calendar(c, mailbox, select) for c in mailbox.calendars.values()]
        return JSONResponse(
            {
                "@odata.context": f"{GRAPH}/$metadata#users('{mailbox.user.user_id}')/calendars",
                "value": value[:top],
            }
        )

    async def get_calendar(self, request: Request):
        mailbox = self._mailbox(request)
        query = odata.query_lookup(request.query_params)
        self._check_options(query, {"$select"}, "calendars")
        with self.state.lock:
            calendar = self.backend.calendar(mailbox, request.path_params.get("calendar_id"))
            return JSONResponse(render_calendar(calendar, mailbox, self._calendar_select(query)))

    async def delete_calendar(self, request: Request):
        mailbox = self._mailbox(request, write=True)
        with self.state.lock:
            self.backend.delete_calendar(mailbox, request.path_params["calendar_id"])
        return Response(status_code=204)

    @staticmethod
    def _calendar_select(query: dict[str, str]) -> frozenset[str] | None:
        if "$select" not in query:
            return None
        names = frozenset(name.strip() for name in query["$select"].split(",") if name.strip())
        unknown = names - CALENDAR_PROPERTIES
        if unknown or not names:
            raise odata.bad_query(
                f"Could not find a property named '{sorted(unknown or {''})[0]}' on type 'microsoft.graph.calendar'."
            )
        return names

    # --- calendarView and event lists ----------------------------------------------------------
    async def calendar_view(self, request: Request):
        mailbox = self._mailbox(request)
        query = odata.query_lookup(request.query_params)
        self._check_options(query, LIST_OPTIONS, "calendarView")
        window = odata.parse_window(query)
        view, headers = self._view(request, query)
        with self.state.lock:
            calendar = self.backend.calendar(mailbox, request.path_params.get("calendar_id"))
            rows = [
                row
                for event in self.backend.calendar_events(mailbox, calendar.calendar_id)
                for row in self.backend.instances(event, *window)
            ]
            return self._listing(request, query, rows, view, headers, default_order="start/datetime")

    async def list_events(self, request: Request):
        mailbox = self._mailbox(request)
        query = odata.query_lookup(request.query_params)
        self._check_options(query, LIST_OPTIONS - {"startdatetime", "enddatetime"}, "events")
        view, headers = self._view(request, query)
        with self.state.lock:
            calendar = self.backend.calendar(mailbox, request.path_params.get("calendar_id"))
            rows = [
                self.backend.instance(e, None)
                for e in self.backend.calendar_events(mailbox, calendar.calendar_id)
            ]
            return self._listing(request, query, rows, view, headers, default_order=None)

    async def instances(self, request: Request):
        mailbox = self._mailbox(request)
        query = odata.query_lookup(request.query_params)
        self._check_options(query, LIST_OPTIONS, "instances")
        window = odata.parse_window(query)
        view, headers = self._view(request, query)
        with self.state.lock:
            event, occurrence = self._event(mailbox, request)
            if occurrence is not None or not event.is_series:
                raise bad_request(
                    "instances is only available on a series master.", code="ErrorInvalidRequest"
                )
            rows = self.backend.instances(event, *window)
            return self._listing(request, query, rows, view, headers, default_order="start/datetime")

    def _listing(self, request, query, rows: list[Instance], view: View, headers: dict, default_order):
        """Filter, order and page rows ($filter, $orderby, $top/$skip, odata.maxpagesize)."""
        event_filter = odata.parse_filter(query.get("$filter"))
        if event_filter is not None:
            rows = [row for row in rows if event_filter.matches(self._probe(row, view), self._extended(row))]
        order = query.get("$orderby", default_order)
        if order:
            path, _, direction = order.strip().partition(" ")
            if path.lower() not in ORDERABLE or direction.strip().lower() not in ("", "asc", "desc"):
                raise odata.bad_query(f"$orderby {order!r} is not supported")
            probe_key = path.lower()
            rows.sort(
                key=lambda row: (
                    self._probe(row, view)(probe_key),
                    row.event.created_seq,
                    row.occurrence or "",
                ),
                reverse=direction.strip().lower() == "desc",
            )
        page_size = odata.parse_int(query.get("$top"), "$top", 1, odata.MAX_PAGE_SIZE)
        preferred = odata.max_page_size(odata.prefer(request.headers))
        if page_size is None:
            page_size = preferred or odata.DEFAULT_PAGE_SIZE
            if preferred:
                applied = headers.get("Preference-Applied")
                headers["Preference-Applied"] = f"odata.maxpagesize={preferred}" + (
                    f", {applied}" if applied else ""
                )
        skip = odata.parse_int(query.get("$skip"), "$skip", 0, 10_000_000) or 0
        page = rows[skip : skip + page_size]
        body: dict = {
            "@odata.context": f"{GRAPH}/$metadata#Collection(microsoft.graph.event)",
            "value": [render(self.backend, row, view) for row in page],
        }
        if skip + page_size < len(rows):
            params = [
                (k, v) for k, v in request.query_params.multi_items() if k.lower() not in ("$skip", "$top")
            ]
            params += [("$top", str(page_size)), ("$skip", str(skip + page_size))]
            body["@odata.nextLink"] = str(request.url.replace(query=urlencode(params)))
        return JSONResponse(body, headers=headers)

    def _probe(self, row: Instance, view: View):
        fields = row.event.fields if row.override is None else {**row.event.fields, **row.override.fields}

        def probe(path: str):
            if path == "start/datetime":
                return row.timing.start_utc
            if path == "end/datetime":
                return row.timing.end_utc
            if path == "type":
                return row.kind
            if path == "icaluid":
                from calendar_emulator.microsoft.serialize import ical_uid

                return ical_uid(row.event.uid, row.original_start)
            if path == "transactionid":
                return row.event.transaction_id
            if path == "seriesmasterid":
                return None if row.occurrence is None else self.backend.event_id(row.event, view.immutable)
            if path == "iscancelled":
                return fields.get("isCancelled", False)
            if path == "isallday":
                return row.timing.all_day
            if path == "isorganizer":
                return row.event.is_organizer
            if path == "createddatetime":
                return row.event.created
            if path == "lastmodifieddatetime":
                return row.event.modified
            return fields.get("subject", "")

        return probe

    @staticmethod
    def _extended(row: Instance):
        def lookup(prop_id: str) -> str | None:
            prop = row.event.extended.get(prop_id)
            return None if prop is None else prop["value"]

        return lookup

    # --- delta --------------------------------------------------------------------------------
    async def delta(self, request: Request):
        mailbox = self._mailbox(request)
        query = odata.query_lookup(request.query_params)
        for name in query:
            if name.startswith("$") and name not in DELTA_OPTIONS:
                raise odata.bad_query(f"Query option '{name}' is not supported with delta on calendarView.")
        view, headers = self._view(request, select=False)
        if view.expand is not None:
            raise odata.bad_query("$expand is not supported with delta on calendarView.")
        preferred = odata.max_page_size(odata.prefer(request.headers))
        page_size = preferred or odata.DEFAULT_PAGE_SIZE
        if preferred:
            applied = headers.get("Preference-Applied")
            headers["Preference-Applied"] = f"odata.maxpagesize={preferred}" + (
                f", {applied}" if applied else ""
            )
        base = str(request.url.replace(query=""))
        skip, token = query.get("$skiptoken"), query.get("$deltatoken")
        if skip is not None and token is not None:
            raise odata.bad_query("Use either $skiptoken or $deltatoken, not both.")
        with self.state.lock:
            calendar = self.backend.calendar(mailbox, request.path_params.get("calendar_id"))
            if skip is not None:
                round_, offset = self._resume(mailbox, calendar.calendar_id, skip, base)
            elif token is not None:
                payload = self._token(mailbox, calendar.calendar_id, token, "d", base)
                window = (datetime.fromisoformat(payload["s"]), datetime.fromisoformat(payload["e"]))
                round_ = delta_rounds.start_round(
                    self.backend, mailbox, calendar.calendar_id, window, payload["q"]
                )
                offset = 0
            else:
                window = odata.parse_window(query)
                round_ = delta_rounds.start_round(self.backend, mailbox, calendar.calendar_id, window, None)
                offset = 0
            items, following = delta_rounds.render_page(self.backend, round_, offset, page_size, view)
            secret = self.backend.token_secret
        body: dict = {"@odata.context": f"{GRAPH}/$metadata#Collection(event)", "value": items}
        if following is not None:
            skiptoken = delta_rounds.sign(
                secret,
                {
                    "k": "s",
                    "r": round_.round_id,
                    "o": following,
                    "u": mailbox.user.user_id,
                    "s": round_.window[0].isoformat(),
                    "e": round_.window[1].isoformat(),
                },
            )
            body["@odata.nextLink"] = f"{base}?$skiptoken={skiptoken}"
        else:
            deltatoken = delta_rounds.sign(
                secret,
                {
                    "k": "d",
                    "u": mailbox.user.user_id,
                    "c": calendar.calendar_id,
                    "s": round_.window[0].isoformat(),
                    "e": round_.window[1].isoformat(),
                    "q": round_.end_seq,
                    "g": round_.generation,
                },
            )
            body["@odata.deltaLink"] = f"{base}?$deltatoken={deltatoken}"
        return JSONResponse(body, headers=headers)

    def _token(self, mailbox: Mailbox, calendar_id: str, token: str, kind: str, base: str) -> dict:
        payload = delta_rounds.unsign(self.backend.token_secret, token)
        if payload is None or payload.get("k") != kind or payload.get("u") != mailbox.user.user_id:
            raise odata.bad_query(
                f"The {'$deltatoken' if kind == 'd' else '$skiptoken'} is malformed or not for this user."
            )
        if kind == "d":
            if payload.get("c") != calendar_id:
                raise odata.bad_query("The $deltatoken belongs to another calendar.")
            if payload.get("g") != mailbox.generation:
                raise sync_state_gone(self._fresh_query(base, payload))
        return payload

    def _resume(self, mailbox: Mailbox, calendar_id: str, skip: str, base: str):
        payload = self._token(mailbox, calendar_id, skip, "s", base)
        round_ = self.backend.delta_rounds.get(payload.get("r", ""))
        if round_ is None or round_.generation != mailbox.generation:
            raise sync_state_gone(self._fresh_query(base, payload))
        if round_.calendar_id != calendar_id:
            raise odata.bad_query("The $skiptoken belongs to another calendar.")
        if not isinstance(payload.get("o"), int) or not 0 <= payload["o"] <= len(round_.stream):
            raise odata.bad_query("The $skiptoken is malformed.")
        return round_, payload["o"]

    @staticmethod
    def _fresh_query(base: str, payload: dict | None) -> str | None:
        if not payload:
            return None
        start = datetime.fromisoformat(payload["s"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = datetime.fromisoformat(payload["e"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{base}?startDateTime={start}&endDateTime={end}"

    # --- single events ------------------------------------------------------------------------
    def _event(self, mailbox: Mailbox, request: Request):
        event, occurrence = self.backend.find(mailbox, request.path_params["event_id"])
        calendar_id = request.path_params.get("calendar_id")
        if calendar_id is not None:
            self.backend.calendar(mailbox, calendar_id)
            if event.folder != calendar_id:
                raise not_found()
        return event, occurrence

    async def create_event(self, request: Request):
        mailbox = self._mailbox(request, write=True)
        body = await json_body(request)
        view, headers = self._view(request)
        with self.state.lock:
            event, _ = self.backend.create_event(mailbox, request.path_params.get("calendar_id"), body)
            rendered = render(self.backend, self.backend.instance(event, None), view)
        # An identical transactionId replay answers like the first create did (201, same event).
        return JSONResponse(rendered, status_code=201, headers=headers)

    async def get_event(self, request: Request):
        mailbox = self._mailbox(request)
        query = odata.query_lookup(request.query_params)
        self._check_options(query, {"$select", "$expand"}, "an event")
        view, headers = self._view(request, query)
        with self.state.lock:
            event, occurrence = self._event(mailbox, request)
            return JSONResponse(
                render(self.backend, self.backend.instance(event, occurrence), view), headers=headers
            )

    async def update_event(self, request: Request):
        mailbox = self._mailbox(request, write=True)
        body = await json_body(request)
        view, headers = self._view(request)
        with self.state.lock:
            event, occurrence = self._event(mailbox, request)
            row = self.backend.update_event(mailbox, event, occurrence, body)
            return JSONResponse(render(self.backend, row, view), headers=headers)

    async def delete_event(self, request: Request):
        mailbox = self._mailbox(request, write=True)
        with self.state.lock:
            event, occurrence = self._event(mailbox, request)
            self.backend.delete_event(mailbox, event, occurrence)
        return Response(status_code=204)

    async def cancel_event(self, request: Request):
        mailbox = self._mailbox(request, write=True)
        body = await json_body(request)
        unknown = set(body) - {"comment"}
        if unknown:
            raise bad_request(
                f"The property '{sorted(unknown)[0]}' does not exist on the cancel action.",
                code="RequestBodyRead",
            )
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            raise bad_request("comment must be a string", code="ErrorInvalidRequest")
        with self.state.lock:
            event, occurrence = self._event(mailbox, request)
            self.backend.cancel_event(mailbox, event, occurrence, comment)
        return Response(status_code=202)

    # --- subscriptions ------------------------------------------------------------------------
    async def create_subscription(self, request: Request):
        user, client_id = self._caller(request)
        body = await json_body(request)
        allowed = {
            "changeType",
            "notificationUrl",
            "lifecycleNotificationUrl",
            "resource",
            "expirationDateTime",
            "clientState",
            "latestSupportedTlsVersion",
            "includeResourceData",
            "@odata.type",
        }
        unknown = set(body) - allowed
        if unknown:
            raise bad_request(
                f"The property '{sorted(unknown)[0]}' does not exist on type 'microsoft.graph.subscription'.",
                code="BadRequest",
            )
        if body.get("includeResourceData"):
            raise bad_request(
                "includeResourceData requires an encryption certificate, which the emulator does not support.",
                code="InvalidRequest",
            )
        change_types = self._change_types(body.get("changeType"))
        notification_url = self._webhook_url(body.get("notificationUrl"), "notificationUrl")
        lifecycle_url = None
        if body.get("lifecycleNotificationUrl") is not None:
            lifecycle_url = self._webhook_url(body["lifecycleNotificationUrl"], "lifecycleNotificationUrl")
        client_state = body.get("clientState")
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
            raise bad_request(
                "clientState must be a string of at most 128 characters.", code="InvalidRequest"
            )
        resource = body.get("resource")
        with self.state.lock:
            mailbox = self.backend.mailbox(user)
            calendar_id = self._subscription_resource(mailbox, resource)
            expiration = self._expiration(body.get("expirationDateTime"))
        for url in filter(None, (notification_url, lifecycle_url)):
            # Graph's tokens contain spaces and colons: the endpoint must echo the URL-decoded text.
            token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
            ok = await asyncio.to_thread(
                self.state.notifier.validate_endpoint, url, token, self.state.config.graph_validation_timeout
            )
            if not ok:
                raise bad_request(
                    "Subscription validation request failed. Notification endpoint must respond with "
                    f"200 OK to validation request ({url}).",
                    code="InvalidRequest",
                )
        view, headers = self._view(request, select=False)
        sub = Subscription(
            subscription_id=self.backend.new_subscription_id(),
            user=user,
            resource=resource,  # type: ignore[arg-type]
            calendar_id=calendar_id,
            change_types=change_types,
            notification_url=notification_url,
            lifecycle_url=lifecycle_url,
            expiration=expiration,
            client_state=client_state,
            immutable_ids=view.immutable,
            application_id=client_id,
        )
        with self.state.lock:
            self.backend.add_subscription(sub)
            return JSONResponse(self._render_subscription(sub), status_code=201, headers=headers)

    async def list_subscriptions(self, request: Request):
        user, _ = self._caller(request)
        with self.state.lock:
            now = self.state.clock.now()
            value = [
                self._render_subscription(sub)
                for sub in self.backend.subscriptions.values()
                if sub.user.user_id == user.user_id and self.backend.is_active(sub, now)
            ]
        return JSONResponse({"@odata.context": f"{GRAPH}/$metadata#subscriptions", "value": value})

    def _live_subscription(self, user: User, subscription_id: str) -> Subscription:
        sub = self.backend.subscription(user, subscription_id)
        if not self.backend.is_active(sub, self.state.clock.now()):
            raise GraphApiError(404, "ResourceNotFound", f"The object '{subscription_id}' doesn't exist.")
        return sub

    async def get_subscription(self, request: Request):
        user, _ = self._caller(request)
        with self.state.lock:
            sub = self._live_subscription(user, request.path_params["subscription_id"])
            return JSONResponse(self._render_subscription(sub))

    async def renew_subscription(self, request: Request):
        user, _ = self._caller(request)
        body = await json_body(request)
        if "lifecycleNotificationUrl" in body:
            raise bad_request(
                "lifecycleNotificationUrl can only be set when the subscription is created.",
                code="InvalidRequest",
            )
        unknown = set(body) - {"expirationDateTime", "@odata.type"}
        if unknown or "expirationDateTime" not in body:
            raise bad_request(
                "Only expirationDateTime can be updated on a subscription.", code="InvalidRequest"
            )
        with self.state.lock:
            sub = self._live_subscription(user, request.path_params["subscription_id"])
            sub.expiration = self._expiration(body["expirationDateTime"])
            sub.paused = False  # renewing also reauthorizes
            return JSONResponse(self._render_subscription(sub))

    async def delete_subscription(self, request: Request):
        user, _ = self._caller(request)
        with self.state.lock:
            sub = self._live_subscription(user, request.path_params["subscription_id"])
            sub.deleted = True
        return Response(status_code=204)

    async def reauthorize_subscription(self, request: Request):
        user, _ = self._caller(request)
        with self.state.lock:
            sub = self._live_subscription(user, request.path_params["subscription_id"])
            sub.paused = False
        return Response(status_code=204)

    def _render_subscription(self, sub: Subscription) -> dict:
        return {
            "@odata.context": f"{GRAPH}/$metadata#subscriptions/$entity",
            "id": sub.subscription_id,
            "resource": sub.resource,
            "applicationId": sub.application_id,
            "changeType": ",".join(sub.change_types),
            "clientState": sub.client_state,
            "notificationUrl": sub.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": sub.lifecycle_url,
            "expirationDateTime": sub.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "creatorId": sub.user.user_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    @staticmethod
    def _change_types(value: object) -> tuple[str, ...]:
        if not isinstance(value, str) or not value.strip():
            raise bad_request(
                "changeType is required: a comma-separated subset of created,updated,deleted.",
                code="InvalidRequest",
            )
        kinds = [part.strip() for part in value.split(",")]
        if any(kind not in CHANGE_TYPES for kind in kinds) or len(set(kinds)) != len(kinds):
            raise bad_request(
                f"changeType {value!r} is invalid: use a subset of created,updated,deleted.",
                code="InvalidRequest",
            )
        return tuple(kinds)

    @staticmethod
    def _webhook_url(value: object, field: str) -> str:
        if not isinstance(value, str) or not value:
            raise bad_request(f"{field} is required.", code="InvalidRequest")
        parts = urlsplit(value)
        host = parts.hostname or ""
        try:
            loopback = host == "localhost" or ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise bad_request(
                f"{field} must be an https URL (plain http only on loopback).", code="InvalidRequest"
            )
        if not host:
            raise bad_request(f"{field} must be an absolute URL.", code="InvalidRequest")
        return value

    def _subscription_resource(self, mailbox: Mailbox, resource: object) -> str | None:
        if not isinstance(resource, str):
            raise bad_request("resource is required (for example me/events).", code="InvalidRequest")
        match = _RESOURCE.match(resource.strip())
        if not match:
            raise bad_request(
                f"Resource '{resource}' is not supported: use me/events, me/calendars/{{id}}/events, "
                "users/{id}/events or users/{id}/calendars/{id}/events.",
                code="InvalidRequest",
            )
        user_ref, calendar_id = match.groups()
        user = mailbox.user
        if user_ref is not None and user_ref.lower() not in (user.user_id.lower(), user.email.lower()):
            raise forbidden("The signed-in user can only subscribe to their own mailbox.")
        if calendar_id is not None:
            self.backend.calendar(mailbox, calendar_id)
        return calendar_id

    def _expiration(self, value: object) -> datetime:
        if not isinstance(value, str):
            raise bad_request("expirationDateTime is required (ISO 8601).", code="InvalidRequest")
        try:
            expiration = parse_query_datetime(value, "expirationDateTime")
        except TimeError as exc:
            raise bad_request(str(exc), code="InvalidRequest") from None
        now = self.state.clock.now()
        cap = self.state.config.graph_max_subscription_minutes
        if expiration <= now:
            raise bad_request(
                f"Subscription expiration must be in the future (expirationDateTime {value} is before now).",
                code="InvalidRequest",
            )
        if expiration > now + timedelta(minutes=cap):
            raise bad_request(
                f"Subscription expiration can only be {cap} minutes in the future.", code="InvalidRequest"
            )
        return expiration

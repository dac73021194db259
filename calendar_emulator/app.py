"""The emulator's ASGI app: admin, Google and Microsoft routes behind one middleware that counts
requests and injects faults, with every error rendered in the provider's own shape."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calendar_emulator.faults import FaultRule
from calendar_emulator.google.errors import GoogleApiError
from calendar_emulator.http import BodyError
from calendar_emulator.microsoft.errors import GraphApiError
from calendar_emulator.providers import new_state
from calendar_emulator.state import EmulatorState

log = logging.getLogger("calendar_emulator")


def provider_of(path: str) -> str | None:
    if path.startswith("/google/"):
        return "google"
    if path.startswith("/microsoft/"):
        return "microsoft"
    return None


def provider_error(provider: str | None, status: int, kind: str, message: str, headers=None):
    """An error response in the shape of the provider that owns the path."""
    if provider == "microsoft":
        codes = {
            400: "BadRequest",
            401: "InvalidAuthenticationToken",
            404: "ResourceNotFound",
            405: "MethodNotAllowed",
            429: "TooManyRequests",
            500: "generalException",
            502: "BadGateway",
            503: "serviceNotAvailable",
            504: "GatewayTimeout",
        }
        return GraphApiError(status, codes.get(status, kind), message, headers).response()
    return GoogleApiError(status, kind, message, headers=headers).response()


def fault_response(provider: str, rule: FaultRule):
    headers = {"Retry-After": _seconds(rule.retry_after)} if rule.retry_after is not None else {}
    if rule.kind == "rate_limit":
        if provider == "microsoft":
            return GraphApiError(429, "TooManyRequests", "Too many requests.", headers).response()
        status = rule.status or 403
        return GoogleApiError(status, "rateLimitExceeded", "Rate Limit Exceeded", headers=headers).response()
    if rule.kind == "quota_exceeded":
        if provider == "microsoft":
            return GraphApiError(
                429, "ApplicationThrottled", "Application is over its quota.", headers
            ).response()
        return GoogleApiError(
            403, "quotaExceeded", "Calendar usage limits exceeded.", domain="usageLimits"
        ).response()
    if rule.kind == "server_error":
        status = rule.status or 500
        if provider == "microsoft":
            return provider_error(
                provider, status, "generalException", "An internal server error occurred.", headers
            )
        reason = "backendError" if status == 500 else "serviceUnavailable"
        return GoogleApiError(status, reason, "Backend Error", headers=headers).response()
    if rule.kind == "unauthorized":
        if provider == "microsoft":
            return GraphApiError(401, "InvalidAuthenticationToken", "Access token has expired.").response()
        return GoogleApiError(
            401, "authError", "Invalid Credentials", location="Authorization", location_type="header"
        ).response()
    if rule.kind == "sync_token_expired":
        if provider == "microsoft":
            from calendar_emulator.microsoft.errors import sync_state_gone

            return sync_state_gone().response()
        from calendar_emulator.google.errors import sync_token_gone

        return sync_token_gone().response()
    raise ValueError(f"fault {rule.kind} has no response")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class ApiMiddleware:
    """Counts every provider request by route template and applies the active fault plan."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        provider = provider_of(path)
        if provider is None:
            await self.app(scope, receive, send)
            return
        user = self._user_email(provider, scope)
        query = scope.get("query_string", b"").decode("latin-1")
        rule = self.state.faults.draw(provider, scope["method"], path, query, user)
        status_seen = [0]

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = message["status"]
            await send(message)

        try:
            if rule is not None:
                self.state.stats.count_fault(rule.kind)
                if rule.kind == "latency":
                    await asyncio.sleep(rule.latency_ms / 1000)
                elif rule.kind == "timeout":
                    await asyncio.sleep(rule.seconds)
                elif rule.kind == "truncate":
                    await self._truncated(scope, receive, counting_send)
                    return
                elif rule.kind == "foreign_link":
                    await self._foreign_links(scope, receive, counting_send, rule.link_base or "")
                    return
                else:
                    await fault_response(provider, rule)(scope, receive, counting_send)
                    return
            await self.app(scope, receive, counting_send)
        finally:
            route = scope.get("route")
            endpoint = f"{scope['method']} {getattr(route, 'path', path)}"
            self.state.stats.count_request(endpoint, status_seen[0], user)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the route, then send only the first half of its body (as a dropped connection would)."""
        start, body = await self._captured(scope, receive)
        cut = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
        await send({"type": "http.response.body", "body": cut})

    async def _foreign_links(self, scope: Scope, receive: Receive, send: Send, link_base: str) -> None:
        """Run the route, then move its paging links to another origin (a compromised or buggy
        upstream): a client must not follow them with its bearer token."""
        start, body = await self._captured(scope, receive)
        try:
            page = orjson.loads(body)
        except orjson.JSONDecodeError:
            page = None
        if isinstance(page, dict):
            for key in ("@odata.nextLink", "@odata.deltaLink"):
                if isinstance(page.get(key), str):
                    parts = urlsplit(page[key])
                    page[key] = link_base + urlunsplit(("", "", parts.path, parts.query, parts.fragment))
            body = orjson.dumps(page)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _captured(self, scope: Scope, receive: Receive) -> tuple[dict, bytes]:
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        return start, b"".join(chunks)

    def _user_email(self, provider: str, scope: Scope) -> str | None:
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                user = self.state.identity.authenticate(provider, value.decode("latin-1"))  # type: ignore[arg-type]
                return None if isinstance(user, str) else user.email
        return None


async def _not_found(request: Request):
    provider = provider_of(request.url.path)
    if provider is None:
        from calendar_emulator.http import JSONResponse

        return JSONResponse({"error": f"no route {request.method} {request.url.path}"}, status_code=404)
    return provider_error(provider, 404, "notFound", f"Not Found: {request.url.path}")


def _handle_google(request: Request, exc: Exception):
    return exc.response()  # type: ignore[attr-defined]


def _handle_body(request: Request, exc: Exception):
    provider = provider_of(request.url.path)
    if provider is None:
        from calendar_emulator.http import JSONResponse

        return JSONResponse({"error": str(exc)}, status_code=400)
    if provider == "google":
        return GoogleApiError(400, "parseError", f"Parse Error: {exc}").response()
    return GraphApiError(400, "BadRequest", f"Unable to read JSON request payload: {exc}").response()


def _handle_unexpected(request: Request, exc: Exception):
    log.exception("emulator bug on %s %s", request.method, request.url.path)
    return provider_error(
        provider_of(request.url.path), 500, "backendError", "Internal error in the emulator"
    )


def _method_not_allowed(request: Request, exc: Exception):
    return provider_error(provider_of(request.url.path), 405, "methodNotAllowed", "Method Not Allowed")


def create_app(state: EmulatorState | None = None) -> Starlette:
    from calendar_emulator.admin.urls import routes as admin_routes
    from calendar_emulator.google.urls import routes as google_routes
    from calendar_emulator.microsoft.urls import routes as microsoft_routes

    state = state or new_state()
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        *admin_routes(state),
        *google_routes(state),
        *microsoft_routes(state),
        Route("/{rest:path}", _not_found, methods=methods),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(ApiMiddleware, state=state)],
        exception_handlers={
            GoogleApiError: _handle_google,
            GraphApiError: _handle_google,
            BodyError: _handle_body,
            405: _method_not_allowed,
            Exception: _handle_unexpected,
        },
    )
    app.state.emulator = state
    return app

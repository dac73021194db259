"""What one request may cost the gateway before it has proven anything: `GatewayLimits` (from the
environment) and `RequestLimits`, the ASGI middleware in front of FastAPI that enforces them.

`RequestLimits` refuses an /v1/* request without the bearer token before a byte of its body is
read, and caps every body while it streams: the app's `receive` raises `BodyTooLarge` (a 413) as
soon as a declared or received size passes the cap, so nothing is buffered or parsed beyond it.
Routes that read their body themselves (the Graph webhooks) catch it to count the rejection; FastAPI
re-raises it for routes with a body parameter and the error handlers answer it as JSON.

The time a request may take to arrive is bounded one layer down, in the HTTP protocol
(`webhook_gateway.protocol`): ASGI apps only see a request once its headers are complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webhook_gateway.auth import UNAUTHORIZED_MESSAGE, token_matches
from webhook_gateway.errors import error_response

MAX_BODY_ENV = "SMVUE_MAX_BODY_BYTES"
READ_TIMEOUT_ENV = "SMVUE_REQUEST_READ_TIMEOUT"
MAX_CONNECTIONS_ENV = "SMVUE_MAX_CONNECTIONS"
# Path prefixes whose every route needs the app API's bearer token (auth.require_api_token).
PROTECTED_PREFIXES = ("/v1/",)


@dataclass(frozen=True)
class GatewayLimits:
    max_body_bytes: int = 65_536  # the largest API body (a meeting, a roster) is a few KB; Graph batches too
    request_read_timeout: float = 10.0  # seconds from a request's first byte to its last (headers and body)
    max_connections: int = 1000  # open connections (and running requests); beyond it new requests get 503
    keep_alive_timeout: int = (
        5  # seconds: an idle keep-alive connection is closed after this (uvicorn's default)
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewayLimits:
        env = os.environ if env is None else env
        return cls(
            max_body_bytes=int(_positive(env, MAX_BODY_ENV, cls.max_body_bytes)),
            request_read_timeout=_positive(env, READ_TIMEOUT_ENV, cls.request_read_timeout),
            max_connections=int(_positive(env, MAX_CONNECTIONS_ENV, cls.max_connections)),
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SystemExit(f"{name} must be a positive number (got {raw!r})")
    return value


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: larger than the {limit}-byte limit")


class RequestLimits:
    """ASGI middleware: the bearer token on /v1/* before the body; every body capped while it streams."""

    def __init__(self, app: ASGIApp, *, api_token: str, max_body_bytes: int) -> None:
        self.app = app
        self.api_token = api_token
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if scope["path"].startswith(PROTECTED_PREFIXES) and not self._authorized(headers):
            # Answered without reading the body: uvicorn discards what the client still sends.
            response = error_response(401, UNAUTHORIZED_MESSAGE, {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        declared = None
        for name, value in headers:
            if name == b"content-length":
                declared = value
                break
        if declared == b"0":  # the common bodiless request (a Google notification): nothing to cap
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._capped(receive, declared), send)

    def _authorized(self, headers: list[tuple[bytes, bytes]]) -> bool:
        for name, value in headers:
            if name == b"authorization":
                scheme, _, given = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and token_matches(given.strip(), self.api_token)
        return False

    def _capped(self, receive: Receive, declared: bytes | None) -> Receive:
        limit = self.max_body_bytes
        # A declared length past the cap fails the first read, before any of the body is taken.
        too_large = declared is not None and (not declared.isdigit() or int(declared) > limit)
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            if too_large:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return capped_receive

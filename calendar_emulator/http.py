"""Small HTTP helpers shared by the provider routes: fast JSON responses and body parsing."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json; charset=UTF-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class BodyError(ValueError):
    """The request body is not a JSON object."""


async def json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BodyError("request body must be a JSON object")
    return data

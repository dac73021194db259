"""Provider push notifications (F7): no bearer token; every notification is verified against the
watch it claims to come from, and acknowledged only after the durable enqueue.

The Google route reads its X-Goog-* headers straight from the request (documented below as
parameters) and the Graph routes parse their bodies with the pydantic models themselves: this is
the hot path, and the Graph routes must also answer the validation handshake, which has no body.
For the same reason `add_routes(app)` puts these routes on the app itself rather than through
`include_router`: FastAPI resolves an included router on every request (about 10 µs here).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response

from webhook_gateway.models import error_responses
from webhook_gateway.models.webhooks import WebhookAck

TAGS: list = ["webhooks"]


def _header(name: str, description: str, required: bool = True, max_length: int = 256) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", "maxLength": max_length},
    }


_GOOGLE_HEADERS = [
    _header("X-Goog-Channel-ID", "the channel id SMVue chose"),
    _header("X-Goog-Resource-ID", "the watched resource, as Google named it"),
    {
        **_header("X-Goog-Resource-State", "sync (first message), exists or not_exists"),
        "schema": {"type": "string", "enum": ["sync", "exists", "not_exists"]},
    },
    _header("X-Goog-Channel-Token", "the channel's secret token", required=False),
    _header("X-Goog-Message-Number", "rising message number", required=False, max_length=32),
]
_VALIDATION = {
    200: {
        "description": "Graph's validation handshake: the URL-decoded validationToken",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def _graph_body(schema: str) -> dict:
    return {
        "requestBody": {
            "required": False,
            "description": "absent in the validation handshake",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


ValidationToken = Annotated[
    str | None,
    Query(description="Graph's validation handshake; answered with the decoded token as text/plain"),
]


async def google(request: Request) -> Response:
    """Google Calendar push notification (headers only). `sync` is acknowledged without a queue
    row; `exists` / `not_exists` queue an incremental sync of the channel's calendar."""
    return await request.app.state.services.webhooks.google(request.scope["headers"])


async def microsoft(request: Request, validationToken: ValidationToken = None) -> Response:  # noqa: N803 - Graph's name
    """Graph change notifications: every item verified; the accepted ones queued in one transaction."""
    webhooks = request.app.state.services.webhooks
    if validationToken is not None:
        return webhooks.validation_response(validationToken)
    return await webhooks.microsoft(request)


async def microsoft_lifecycle(request: Request, validationToken: ValidationToken = None) -> Response:  # noqa: N803
    """Graph lifecycle notifications: reauthorizationRequired → reauthorize (in the background);
    subscriptionRemoved → recreate (in the background) and queue a resync; missed → queue a resync."""
    webhooks = request.app.state.services.webhooks
    if validationToken is not None:
        return webhooks.validation_response(validationToken)
    return await webhooks.microsoft(request, lifecycle=True)


def add_routes(target: FastAPI | APIRouter) -> None:
    """Register the webhook routes on an app (the gateway: directly, see above) or a router."""
    graph_errors = error_responses(400, 401, 403, 404, 410, 413, 503)
    target.add_api_route(
        "/webhooks/google",
        google,
        methods=["POST"],
        status_code=202,
        response_model=WebhookAck,
        responses=error_responses(400, 401, 403, 404, 410, 503),
        openapi_extra={"parameters": _GOOGLE_HEADERS},
        tags=TAGS,
    )
    target.add_api_route(
        "/webhooks/microsoft",
        microsoft,
        methods=["POST"],
        status_code=202,
        response_model=WebhookAck,
        responses={**_VALIDATION, **graph_errors},
        openapi_extra=_graph_body("GraphNotificationBatch"),
        tags=TAGS,
    )
    target.add_api_route(
        "/webhooks/microsoft/lifecycle",
        microsoft_lifecycle,
        methods=["POST"],
        status_code=202,
        response_model=WebhookAck,
        responses={**_VALIDATION, **graph_errors},
        openapi_extra=_graph_body("GraphLifecycleBatch"),
        tags=TAGS,
    )


router = APIRouter()  # for an app that includes routers the usual way
add_routes(router)

"""`create_app(settings)`: the gateway as a FastAPI app.

Routers are listed in ROUTERS, one per concern; a feature adds its router there (and its
background workers to `services.workers`). The provider webhooks come first, on the app itself.
The app's lifespan starts the notification intake and the background workers and stops them on
shutdown. `RequestLimits` sits in front of the routes: the bearer token on /v1/* before any body
is read, and every body capped while it streams (webhook_gateway/limits.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from smvue_core.clock import Clock, now_utc
from smvue_core.providers.base import CalendarProvider
from smvue_core.settings import Settings
from webhook_gateway.errors import install_error_handlers
from webhook_gateway.limits import GatewayLimits, RequestLimits
from webhook_gateway.models.webhooks import GraphLifecycleBatch, GraphNotificationBatch
from webhook_gateway.routers import connections, health, meetings, oauth, team, webhooks
from webhook_gateway.services import GatewayServices
from webhook_gateway.writeback_worker import register_writeback

# Included after the provider webhooks, which `create_app` puts first and directly on the app: the
# hot path should not walk (or resolve) other routes before it matches.
ROUTERS = [health.router, oauth.router, connections.router, team.router, meetings.router]
# Bodies the webhook routes parse themselves (they must also take the bodiless handshake).
DOCUMENTED_BODIES: list[type[BaseModel]] = [GraphNotificationBatch, GraphLifecycleBatch]
BENCH_NOOP_ENV = "SMVUE_BENCH_NOOP"
OPENAPI_URL = "/openapi.json"


def create_app(
    settings: Settings | None = None,
    *,
    services: GatewayServices | None = None,
    providers: Mapping[str, CalendarProvider] | None = None,
    clock: Clock = now_utc,
    maintenance_interval: float = 60.0,
    start_workers: bool = True,
    watch_options: dict[str, Any] | None = None,
    writeback_options: dict[str, Any] | None = None,
    limits: GatewayLimits | None = None,
) -> FastAPI:
    settings = settings or Settings.from_env()
    limits = limits or GatewayLimits.from_env()
    services = services or GatewayServices.build(
        settings,
        providers=providers,
        clock=clock,
        maintenance_interval=maintenance_interval,
        watch_options=watch_options,
    )
    register_writeback(services, **(writeback_options or {}))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start(workers=start_workers)
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(
        title="SMVue webhook gateway",
        version="1.0",
        summary="Calendar push notifications in; connections and roster for the SMVue app.",
        lifespan=lifespan,
        # Added after the API's routes (below): FastAPI matches routes in order, a few µs each, and
        # provider notifications should not walk past the documentation pages first.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.limits = limits  # the server reads its timeouts and connection limit from here too
    install_error_handlers(app)
    app.add_middleware(RequestLimits, api_token=services.api_token, max_body_bytes=limits.max_body_bytes)
    if os.environ.get(BENCH_NOOP_ENV) == "1":
        # Ahead of the webhooks: the baseline gets the cheapest route match there is.
        app.add_api_route("/webhooks/_noop", _noop, methods=["POST"], include_in_schema=False)
    webhooks.add_routes(app)
    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _add_documentation(app)
    return app


def _add_documentation(app: FastAPI) -> None:
    """/openapi.json, /docs (Swagger UI) and /redoc, as FastAPI would add them itself."""

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(app.openapi())

    async def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    async def swagger_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{app.title} - ReDoc")

    app.add_route(OPENAPI_URL, openapi_json, include_in_schema=False)
    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route("/docs/oauth2-redirect", swagger_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


async def _noop(request: Request) -> Response:
    """The benchmark's baseline: same server, same routing, no work (bench/gateway_throughput.py)."""
    return Response(
        b'{"status":"accepted","enqueued":0,"rejected":0}', status_code=202, media_type="application/json"
    )


def _openapi(app: FastAPI) -> dict:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in DOCUMENTED_BODIES:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
    return app.openapi_schema

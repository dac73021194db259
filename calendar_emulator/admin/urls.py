"""Routes of the admin API (CONTRACT.md, "Calendar emulator")."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.routing import Route

from calendar_emulator import providers
from calendar_emulator.admin.models import (
    CalendarIn,
    ClientIn,
    ClockIn,
    ConfigIn,
    EndpointHealthIn,
    EventsIn,
    LifecycleIn,
    MailboxIn,
    UserIn,
)
from calendar_emulator.faults import FaultPlan
from calendar_emulator.http import BodyError, JSONResponse, json_body
from calendar_emulator.state import EmulatorState


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _parse(request: Request, model: type[BaseModel]):
    try:
        return model.model_validate(await json_body(request))
    except BodyError as exc:
        raise _Invalid(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise _Invalid(f"{field}: {first['msg']}") from None


class _Invalid(Exception):
    pass


def routes(state: EmulatorState) -> list[Route]:
    def handler(fn):
        async def endpoint(request: Request):
            try:
                return await fn(request)
            except _Invalid as exc:
                return _error(400, str(exc))
            except LookupError as exc:
                return _error(404, str(exc.args[0]) if exc.args else "not found")
            except ValueError as exc:
                return _error(400, str(exc))

        return endpoint

    def mailbox(body: MailboxIn):
        user = state.identity.find_user(body.provider, body.email)
        if user is None:
            raise LookupError(f"email: no {body.provider} user {body.email!r}")
        return user

    async def create_user(request: Request):
        body = await _parse(request, UserIn)
        with state.lock:
            user, created = state.identity.add_user(body.email, body.provider, body.name, body.email_verified)
            calendar_id = state.backend(body.provider).create_mailbox(user)
        return JSONResponse(
            {
                "email": user.email,
                "provider": user.provider,
                "name": user.name,
                "user_id": user.user_id,
                "primary_calendar_id": calendar_id,
            },
            status_code=201 if created else 200,
        )

    async def create_calendar(request: Request):
        body = await _parse(request, CalendarIn)
        with state.lock:
            calendar_id = state.backend(body.provider).add_calendar(mailbox(body), body.name)
        return JSONResponse({"calendar_id": calendar_id, "name": body.name}, status_code=201)

    async def issue_token(request: Request):
        body = await _parse(request, MailboxIn)
        with state.lock:
            token = state.identity.issue_access_token(mailbox(body), grant=None)
        return JSONResponse(
            {
                "access_token": token.token,
                "token_type": "Bearer",
                "expires_in": state.identity.access_token_ttl,
            }
        )

    async def register_client(request: Request):
        body = await _parse(request, ClientIn)
        with state.lock:
            state.identity.register_client(
                body.provider, body.client_id, body.client_secret, body.redirect_uris
            )
        return JSONResponse({"client_id": body.client_id}, status_code=201)

    async def revoke(request: Request):
        body = await _parse(request, MailboxIn)
        with state.lock:
            count = state.identity.revoke_user(body.provider, mailbox(body).email)
        return JSONResponse({"revoked_grants": count})

    async def seed_events(request: Request):
        body = await _parse(request, EventsIn)
        with state.lock:
            ids = state.backend(body.provider).seed_events(mailbox(body), body.calendar_id, body.events)
        return JSONResponse({"ids": ids}, status_code=201)

    async def dump_events(request: Request):
        params = request.query_params
        try:
            body = MailboxIn(email=params.get("email", ""), provider=params.get("provider", ""))  # type: ignore[arg-type]
        except ValidationError as exc:
            raise _Invalid(f"{exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None
        with state.lock:
            return JSONResponse({"events": providers.dump(state, body.provider, mailbox(body))})

    async def set_faults(request: Request):
        plan = await _parse(request, FaultPlan)
        state.apply_faults(plan)
        return JSONResponse(plan.model_dump())

    async def get_faults(request: Request):
        return JSONResponse(state.faults.plan.model_dump())

    async def clear_faults(request: Request):
        state.faults.clear()
        return JSONResponse({}, status_code=200)

    async def stats(request: Request):
        snapshot = state.stats.snapshot()
        snapshot["notifications_pending"] = state.notifier.pending()
        return JSONResponse(snapshot)

    async def reset_stats(request: Request):
        state.stats.reset()
        return JSONResponse({})

    async def secrets(request: Request):
        with state.lock:
            return JSONResponse(
                {"description_canary": state.identity.canary, "tokens": list(state.identity.issued_secrets)}
            )

    async def clock(request: Request):
        body = await _parse(request, ClockIn)
        if body.reset:
            now = state.clock.set(None)
        elif body.now is not None:
            if body.now.tzinfo is None:
                raise _Invalid("now: must carry a UTC offset")
            now = state.clock.set(body.now, frozen=body.frozen)
        elif body.advance_seconds is not None:
            now = state.clock.advance(body.advance_seconds)
        else:
            now = state.clock.now()
        return JSONResponse({"now": now.isoformat()})

    async def config(request: Request):
        body = await _parse(request, ConfigIn)
        with state.lock:
            for key, value in body.model_dump(exclude_none=True).items():
                setattr(state.config, key, value)
            if body.access_token_ttl is not None:
                state.identity.access_token_ttl = body.access_token_ttl
        return JSONResponse(vars(state.config))

    async def endpoint_health(request: Request):
        if request.method == "POST":
            body = await _parse(request, EndpointHealthIn)
            changes = body.model_dump(exclude_none=True, exclude={"reset"})
            state.notifier.health.configure(reset=body.reset, **changes)
        return JSONResponse(state.notifier.health.snapshot())

    async def watches(request: Request):
        with state.lock:
            return JSONResponse(
                {
                    "google_channels": state.google.watches(),
                    "graph_subscriptions": state.microsoft.watches(),
                }
            )

    async def lifecycle(request: Request):
        body = await _parse(request, LifecycleIn)
        with state.lock:
            state.microsoft.trigger_lifecycle(request.path_params["subscription_id"], body.lifecycleEvent)
        return JSONResponse({"sent": body.lifecycleEvent}, status_code=202)

    async def wait_notifications(request: Request):
        try:
            timeout = float(request.query_params.get("timeout", "10"))
        except ValueError:
            raise _Invalid("timeout: must be a number of seconds") from None
        idle = await asyncio.to_thread(state.notifier.wait_idle, min(timeout, 120))
        return JSONResponse({"idle": idle, "pending": state.notifier.pending()})

    return [
        Route("/_admin/users", handler(create_user), methods=["POST"]),
        Route("/_admin/calendars", handler(create_calendar), methods=["POST"]),
        Route("/_admin/tokens", handler(issue_token), methods=["POST"]),
        Route("/_admin/clients", handler(register_client), methods=["POST"]),
        Route("/_admin/revoke", handler(revoke), methods=["POST"]),
        Route("/_admin/events", handler(seed_events), methods=["POST"]),
        Route("/_admin/events", handler(dump_events), methods=["GET"]),
        Route("/_admin/faults", handler(set_faults), methods=["POST"]),
        Route("/_admin/faults", handler(get_faults), methods=["GET"]),
        Route("/_admin/faults", handler(clear_faults), methods=["DELETE"]),
        Route("/_admin/stats", handler(stats), methods=["GET"]),
        Route("/_admin/stats", handler(reset_stats), methods=["DELETE"]),
        Route("/_admin/secrets", handler(secrets), methods=["GET"]),
        Route("/_admin/clock", handler(clock), methods=["POST"]),
        Route("/_admin/config", handler(config), methods=["POST"]),
        Route("/_admin/watches", handler(watches), methods=["GET"]),
        Route("/_admin/graph/endpoint_health", handler(endpoint_health), methods=["GET", "POST"]),
        Route("/_admin/subscriptions/{subscription_id}/lifecycle", handler(lifecycle), methods=["POST"]),
        Route("/_admin/notifications/wait", handler(wait_notifications), methods=["POST", "GET"]),
    ]

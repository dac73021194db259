"""What the routes call: every decision the gateway makes lives here or below, not in a route.

`GatewayServices` wires the operational store, the token cipher, the provider clients, the
`WatchManager`, the notification intake and the background workers once per app; the service
classes on it (`connections`, `roster`, `webhooks`) turn requests into calls on the library.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from smvue_core.clock import Clock, now_utc
from smvue_core.connect import ConnectError, ConnectService
from smvue_core.opstore import OpStore
from smvue_core.opstore.connections import Connection, ConnectionRepository
from smvue_core.opstore.leases import Leases
from smvue_core.opstore.meetings import IdempotencyKeys
from smvue_core.opstore.queue import ChangeQueue
from smvue_core.opstore.roster import RosterRepository
from smvue_core.providers.base import AuthStart, CalendarProvider
from smvue_core.providers.factory import calendar_providers
from smvue_core.security.cipher import TokenCipher
from smvue_core.security.watch_secrets import secret_digest
from smvue_core.settings import Settings
from smvue_core.watches import WatchManager
from webhook_gateway.errors import ApiError, Conflict, NotFound, Unavailable, describe_validation_error
from webhook_gateway.intake import IntakeUnavailable, NotificationIntake
from webhook_gateway.limits import BodyTooLarge
from webhook_gateway.models.connections import (
    CalendarOut,
    ConnectionOut,
    ConnectResult,
    DisconnectResult,
    RevocationOut,
    SyncQueued,
    WatchOut,
    WatchResult,
)
from webhook_gateway.models.health import Health
from webhook_gateway.models.team import ManagerIn, ManagerOut, TeamMemberIn, TeamMemberOut
from webhook_gateway.models.webhooks import GraphLifecycleBatch, GraphNotificationBatch
from webhook_gateway.notifications import GraphNotice, Verdict, parse_google_headers
from webhook_gateway.rejection_log import printable
from webhook_gateway.workers import WorkerRegistry

log = logging.getLogger(__name__)

MAX_VALIDATION_TOKEN = 1024
CALENDARS_SELECTED = "calendars_selected"  # the change-queue reason of a new calendar selection
HOUSEKEEPING_INTERVAL = 3600.0  # seconds; keys only need pruning now and then
# Replicas on one store elect one to do the housekeeping (watch maintenance, pruning): the leader
# renews this lease at every maintenance run, so it must outlast a maintenance interval or two.
LEADER_LEASE = "gateway_housekeeping"
LEADER_LEASE_INTERVALS = 3


def build_providers(settings: Settings) -> dict[str, CalendarProvider]:
    return calendar_providers(settings)


@dataclass
class GatewayServices:
    settings: Settings
    store: OpStore
    cipher: TokenCipher
    providers: Mapping[str, CalendarProvider]
    watches: WatchManager
    connect: ConnectService
    intake: NotificationIntake
    workers: WorkerRegistry
    api_token: str = field(repr=False)
    # This process among the gateway's replicas (the holder named in the housekeeping lease).
    replica_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    leader_ttl: timedelta = timedelta(minutes=3)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        providers: Mapping[str, CalendarProvider] | None = None,
        clock: Clock = now_utc,
        maintenance_interval: float = 60.0,
        watch_options: dict[str, Any] | None = None,
    ) -> GatewayServices:
        store = OpStore(settings.opstore_target)
        cipher = TokenCipher(settings.secret_key())
        providers = dict(providers) if providers is not None else build_providers(settings)
        watches = WatchManager(store, cipher, providers, settings, clock=clock, **(watch_options or {}))
        connect = ConnectService(store, cipher, providers, settings.public_url, watches=watches)  # type: ignore[arg-type]
        services = cls(
            settings=settings,
            store=store,
            cipher=cipher,
            providers=providers,
            watches=watches,
            connect=connect,
            intake=NotificationIntake(settings.opstore_target),
            workers=WorkerRegistry(clock),
            api_token=settings.api_token(),
        )
        services.leader_ttl = timedelta(seconds=max(maintenance_interval * LEADER_LEASE_INTERVALS, 30.0))
        services.workers.every(
            "watch_maintenance", maintenance_interval, services.as_leader(services.maintain_watches)
        )
        # The intake never checkpoints on the event loop; this keeps the WAL short instead.
        services.workers.every("wal_checkpoint", 1.0, lambda _now: services.intake.checkpoint())
        services.workers.every(
            "housekeeping", HOUSEKEEPING_INTERVAL, services.as_leader(services.housekeeping)
        )
        # A flood of rejections that stopped still gets its summary line.
        services.workers.every("rejection_log", 5.0, lambda _now: services.intake.rejections.flush())
        return services

    # --- the service facades the routers use -------------------------------------------------
    @property
    def connections(self) -> ConnectionsService:
        return ConnectionsService(self)

    @property
    def roster(self) -> RosterService:
        return RosterService(self)

    @cached_property
    def webhooks(self) -> WebhookService:
        return WebhookService(self)

    # --- running -----------------------------------------------------------------------------
    def start(self, workers: bool = True) -> None:
        self.intake.start()
        if workers:
            self.workers.start()

    def stop(self) -> None:
        self.workers.stop()
        self.intake.stop()
        try:  # a clean stop hands the housekeeping over at once, not when the lease runs out
            Leases(self.store).release(LEADER_LEASE, self.replica_id)
        except Exception as exc:  # the store may be gone already; the lease then just expires
            log.warning("could not release the housekeeping lease: %s", exc)

    def as_leader(self, fn: Callable[[datetime], object]) -> Callable[[datetime], object]:
        """`fn`, run only by the replica holding the housekeeping lease (taken or renewed first)."""

        def run(now: datetime) -> object:
            if not Leases(self.store).hold(LEADER_LEASE, self.replica_id, now, self.leader_ttl):
                return None
            return fn(now)

        return run

    def maintain_watches(self, now: datetime) -> None:
        """The `watch_maintenance` worker: pending stops, then finished disconnects."""
        self.connect.finish_disconnects(now)

    def housekeeping(self, now: datetime) -> None:
        """The hourly `housekeeping` worker: idempotency keys past their retention."""
        pruned = IdempotencyKeys.prune(self.store, now)
        if pruned:
            log.info("housekeeping: pruned %d idempotency keys", pruned)

    def health(self) -> Health:
        try:
            # No write transaction: an unauthenticated probe must not contend for the write lock.
            self.store.check_writable()
            depth = ChangeQueue(self.store).depth()
        except Exception as exc:
            log.error("health check: operational store not writable: %s", exc)
            raise Unavailable(f"opstore: not writable ({type(exc).__name__})") from None
        return Health(status="ok", opstore="writable", queue_depth=depth, workers=self.workers.status())


class ConnectionsService:
    """Connect (OAuth), list, Sync Now, disconnect (F1, F2, F15)."""

    def __init__(self, services: GatewayServices) -> None:
        self.services = services
        self.repo = ConnectionRepository(services.store, services.cipher)

    def start_oauth(self, provider: str, manager_id: str, browser_binding: str) -> AuthStart:
        """A flow (authorize URL, state) only the browser holding `browser_binding` can finish."""
        try:
            return self.services.connect.begin(manager_id, provider, browser_binding)
        except ConnectError as exc:
            raise ApiError(str(exc), exc.status) from None

    def finish_oauth(self, provider: str, params: dict[str, str], browser_binding: str) -> ConnectResult:
        """`browser_binding` is the cookie the start gave this browser ("" when it brought none)."""
        try:
            outcome = self.services.connect.finish(provider, params, browser_binding)
        except ConnectError as exc:
            raise ApiError(str(exc), exc.status) from None
        connection_id = outcome.connection.connection_id
        watched = self.services.watches.ensure(connection_id)
        connection = self.repo.get(connection_id)
        assert connection is not None
        return ConnectResult(
            connection_id=connection_id,
            provider=connection.provider,  # type: ignore[arg-type]
            account_email=connection.account_email,
            status=connection.status,  # type: ignore[arg-type]
            reconnected=outcome.reconnected,
            calendars=self._calendars(connection_id),
            watches=[
                WatchResult(calendar_id=w.calendar_id, action=w.action, watch_id=w.watch_id, error=w.error)
                for w in watched
            ],
            queued="reconnect" if outcome.reconnected else "connect",
        )

    def list(self) -> list[ConnectionOut]:
        return [self._out(c) for c in self.repo.list()]

    def get(self, connection_id: str) -> ConnectionOut:
        return self._out(self._existing(connection_id))

    def sync_now(self, connection_id: str) -> SyncQueued:
        self._usable(connection_id)
        queue_id = ChangeQueue(self.services.store).enqueue(connection_id, None, "sync_now")
        return SyncQueued(connection_id=connection_id, queue_id=queue_id, reason="sync_now")

    def select_calendars(self, connection_id: str, calendar_ids: list[str]) -> ConnectionOut:
        connection = self._usable(connection_id)
        known = {c.calendar_id for c in self.repo.calendars(connection_id, selected_only=False)}
        unknown = [c for c in calendar_ids if c not in known]
        if unknown:
            raise ApiError(f"calendar_ids: {unknown[0]!r} is not a calendar of this connection", 422)
        before = {c.calendar_id for c in self.repo.calendars(connection_id)}
        wanted = set(calendar_ids)
        self.repo.select_calendars(connection_id, wanted)
        added, removed = sorted(wanted - before), before - wanted
        # A run imports what was added; one for the connection as a whole also removes the rows
        # of what was deselected (every sync run drops calendars no longer selected).
        changes = [(connection_id, c, CALENDARS_SELECTED, False) for c in added]
        if removed and not added:
            changes.append((connection_id, None, CALENDARS_SELECTED, False))
        ChangeQueue(self.services.store).enqueue_many(changes)
        self.services.watches.ensure(connection.connection_id)  # failures are recorded, retried by renewal
        return self.get(connection_id)

    def disconnect(self, connection_id: str) -> DisconnectResult:
        self._existing(connection_id)
        try:
            outcome = self.services.connect.disconnect(connection_id)
        except ConnectError as exc:
            raise ApiError(str(exc), exc.status) from None
        if outcome.pending_watch_stops:
            self.services.workers.kick("watch_maintenance")
        return DisconnectResult(
            connection_id=connection_id,
            status="disconnected",
            discarded_changes=outcome.discarded_changes,
            pending_watch_stops=outcome.pending_watch_stops,
            credentials_deleted=outcome.credentials_deleted,
            revocation=outcome.revocation,  # type: ignore[arg-type]
        )

    def _usable(self, connection_id: str) -> Connection:
        connection = self._existing(connection_id)
        if connection.status in ("disconnected", "needs_reconnect"):
            raise Conflict(f"connection_id: the connection is {connection.status}; connect it again first")
        return connection

    def _existing(self, connection_id: str) -> Connection:
        connection = self.repo.get(connection_id)
        if connection is None:
            raise NotFound(f"id: unknown connection {connection_id!r}")
        return connection

    def _calendars(self, connection_id: str) -> list[CalendarOut]:
        return [CalendarOut(**c) for c in self.repo.calendar_listing(connection_id)]

    def _out(self, c: Connection) -> ConnectionOut:
        watches = self.services.watches.list(c.connection_id, ("active", "stopping"))
        return ConnectionOut(
            connection_id=c.connection_id,
            manager_id=c.manager_id,
            provider=c.provider,  # type: ignore[arg-type]
            account_email=c.account_email,
            status=c.status,  # type: ignore[arg-type]
            last_synced_at=c.last_synced_at,
            last_error=c.last_error,
            created_at=c.created_at,
            disconnected_at=c.disconnected_at,
            calendars=self._calendars(c.connection_id),
            watches=[
                WatchOut(
                    watch_id=w.watch_id,
                    calendar_id=w.calendar_id,
                    state=w.state,  # type: ignore[arg-type]
                    expires_at=w.expires_at,
                    last_error=w.last_error,
                )
                for w in watches
            ],
            revocation=RevocationOut(
                state=c.revoke_state,  # type: ignore[arg-type]
                attempts_failed=c.revoke_attempts,
                last_error=c.revoke_error,
            )
            if c.revoke_state
            else None,
        )


class RosterService:
    """Managers and reps (F9)."""

    def __init__(self, services: GatewayServices) -> None:
        self.repo = RosterRepository(services.store)

    def put_manager(self, manager_id: str, body: ManagerIn) -> ManagerOut:
        created = self.repo.upsert_manager(manager_id, body.name, body.email)
        return ManagerOut(manager_id=manager_id, name=body.name, email=body.email, created=created)

    def put_team_member(self, rep_id: str, body: TeamMemberIn) -> TeamMemberOut:
        if self.repo.manager(body.manager_id) is None:
            raise NotFound(f"manager_id: unknown manager {body.manager_id!r}; PUT /v1/managers/{{id}} first")
        start = body.start_date.isoformat() if body.start_date else None
        created = self.repo.upsert_team_member(rep_id, body.manager_id, body.name, body.email, start)
        return TeamMemberOut(
            rep_id=rep_id,
            manager_id=body.manager_id,
            name=body.name,
            email=body.email,
            start_date=body.start_date,
            created=created,
        )

    def delete_team_member(self, rep_id: str) -> None:
        if not self.repo.delete_team_member(rep_id):
            raise NotFound(f"id: unknown team member {rep_id!r}")


# One answer for every way of failing verification (no oracle: a prober cannot tell an unknown id
# from a wrong token); the counters keep the reasons apart.
_GOOGLE_UNVERIFIED = "x-goog-channel-token: no channel matches this channel id, resource id and token"
_GOOGLE_MESSAGES = {
    "inactive_channel": "x-goog-channel-id: the channel is no longer active",
    "disconnected": "x-goog-channel-id: the connection is disconnected",
    "replayed": "x-goog-message-number: not newer than the last message of this channel",
}
_GRAPH_UNVERIFIED = (
    "clientState: no subscription matches this subscriptionId, tenantId, resource and clientState"
)
_GRAPH_MESSAGES = {
    "inactive_subscription": "subscriptionId: the subscription is no longer active",
    "disconnected": "subscriptionId: the connection is disconnected",
}
_JSON = "application/json"


_ACK_QUEUED = b'{"status":"accepted","enqueued":1,"rejected":0}'
_ACK_SYNC = b'{"status":"accepted","enqueued":0,"rejected":0}'


def _ack(enqueued: int, rejected: int = 0) -> Response:
    body = b'{"status":"accepted","enqueued":%d,"rejected":%d}' % (enqueued, rejected)
    return Response(body, status_code=202, media_type=_JSON)


def _reject(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class WebhookService:
    """Provider notifications: parse, verify + enqueue through the intake, answer (F7)."""

    def __init__(self, services: GatewayServices) -> None:
        self.services = services
        self.intake = services.intake

    async def google(self, raw_headers: list[tuple[bytes, bytes]]) -> Response:
        notice = parse_google_headers(raw_headers)
        try:
            if notice is None:
                await self.intake.count("webhook_rejected_google_malformed")
                self.intake.rejections.warning("rejected google notification: malformed headers")
                return _reject(
                    400,
                    "x-goog-channel-id: X-Goog-Channel-ID, X-Goog-Resource-ID, a valid "
                    "X-Goog-Resource-State and a numeric X-Goog-Message-Number are required",
                )
            (verdict,) = await self.intake.google(notice)
        except IntakeUnavailable:
            return _reject(503, "queue: temporarily unavailable; retry")
        if verdict.accepted:
            return Response(_ACK_QUEUED if verdict.queue_reason else _ACK_SYNC, 202, media_type=_JSON)
        return _reject(verdict.status, _GOOGLE_MESSAGES.get(verdict.reason, _GOOGLE_UNVERIFIED))

    async def microsoft(self, request: Request, lifecycle: bool = False) -> Response:
        kind = "microsoft_lifecycle" if lifecycle else "microsoft"
        model = GraphLifecycleBatch if lifecycle else GraphNotificationBatch
        try:
            try:
                body = await request.body()  # capped while it streams by RequestLimits
            except BodyTooLarge as exc:
                await self.intake.count(f"webhook_rejected_{kind}_malformed")
                self.intake.rejections.warning("rejected %s notification: body too large", kind)
                return _reject(413, exc.detail)
            except ClientDisconnect:  # gone before the body arrived (or cut off by the read deadline)
                return _reject(400, "body: the client disconnected before sending it")
            try:
                batch = model.model_validate_json(body or b"null")
            except ValidationError as exc:
                await self.intake.count(f"webhook_rejected_{kind}_malformed")
                self.intake.rejections.warning("rejected %s notification: malformed body", kind)
                return _reject(400, describe_validation_error(list(exc.errors())))
            notices = [
                GraphNotice(
                    item.subscriptionId,
                    secret_digest(item.clientState) if item.clientState else None,
                    getattr(item, "changeType", None),
                    getattr(item, "lifecycleEvent", None),
                    item.tenantId,
                    getattr(item, "resource", None),
                )
                for item in batch.value
            ]
            verdicts = await self.intake.microsoft(notices, lifecycle=lifecycle)
        except IntakeUnavailable:
            return _reject(503, "queue: temporarily unavailable; retry")
        if lifecycle:
            self._after_lifecycle(verdicts)
        accepted = [v for v in verdicts if v.accepted]
        if not accepted:
            first = verdicts[0]
            return _reject(first.status, _GRAPH_MESSAGES.get(first.reason, _GRAPH_UNVERIFIED))
        enqueued = sum(1 for v in accepted if v.queue_reason)
        return _ack(enqueued, len(verdicts) - len(accepted))

    @staticmethod
    def validation_response(token: str) -> Response:
        """Graph's handshake: the URL-decoded token, as text/plain, within 10 s."""
        if len(token) > MAX_VALIDATION_TOKEN:
            return _reject(400, "validationToken: too long")
        return Response(
            token, status_code=200, media_type="text/plain", headers={"X-Content-Type-Options": "nosniff"}
        )

    def _after_lifecycle(self, verdicts: list[Verdict]) -> None:
        """Work a lifecycle event asks for, off the request so the acknowledgement stays fast.
        (The resync that subscriptionRemoved and missed need was queued with the verdict.)"""
        workers, watches = self.services.workers, self.services.watches
        for verdict in verdicts:
            if not verdict.accepted or verdict.watch_id is None:
                continue
            watch_id = verdict.watch_id
            if verdict.lifecycle_event == "reauthorizationRequired":
                workers.submit(f"reauthorize {watch_id}", _reauthorize(self.services, watch_id))
            elif verdict.lifecycle_event == "subscriptionRemoved":
                workers.submit(f"recreate {watch_id}", lambda w=watch_id: watches.recreate(w))
            elif verdict.lifecycle_event != "missed":
                log.info(
                    "lifecycle event %s for %s ignored",
                    printable(verdict.lifecycle_event),
                    printable(watch_id),
                )


def _reauthorize(services: GatewayServices, watch_id: str) -> Callable[[], None]:
    def run() -> None:
        outcome = services.watches.reauthorize(watch_id)
        if outcome.action == "reauthorized" and outcome.connection_id:
            # Graph paused delivery until now: whatever changed meanwhile is picked up by a resync.
            ChangeQueue(services.store).enqueue(
                outcome.connection_id, outcome.calendar_id, "microsoft:reauthorized"
            )

    return run

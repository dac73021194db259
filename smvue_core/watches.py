"""Push channels and subscriptions, one per synced calendar (F7): create, renew, reauthorize,
recreate and stop them.

Every watch gets a fresh random secret (the Google channel token / the Graph `clientState`). It is
handed to the provider and kept only as its digest (smvue_core/security/watch_secrets.py): enough
for the gateway to verify a notification, useless to forge one. The rows themselves are
smvue_core/opstore/watches.py's.

Google channels cannot be extended, so renewal opens a new channel; both stay active through an
overlap and the old one is stopped once the overlap has passed. Graph subscriptions are PATCHed,
and recreated when Graph no longer knows them. Stopping needs the user's token: `stop_connection`
marks a disconnected connection's watches `stopping`, and `retry_stopping` (the gateway's
background worker and the renewal schedule) retries until each one is stopped or has expired.

Provider failures never reach the caller: they end up in the watch's (or the connection's)
`last_error` and in the returned outcomes, and the next renewal run tries again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from smvue_core.clock import now_utc, parse_utc
from smvue_core.opstore.connections import Connection, ConnectionRepository
from smvue_core.opstore.db import OpStore
from smvue_core.opstore.watches import Watch, WatchRepository
from smvue_core.providers.base import (
    CalendarProvider,
    EventNotFound,
    ProviderError,
    ProviderSession,
    ReauthRequired,
    WatchInfo,
)
from smvue_core.security.cipher import SecretDecryptError, TokenCipher
from smvue_core.security.watch_secrets import secret_digest
from smvue_core.settings import Settings

log = logging.getLogger(__name__)

GOOGLE_CHANNEL_TTL = timedelta(days=7)  # Google's default and our request (providers.md 1.4)
# Under the 4,230-minute cap for Outlook events (providers.md 2.2), with room for clock skew.
GRAPH_SUBSCRIPTION_LIFETIME = timedelta(minutes=4200)
GOOGLE_OVERLAP = timedelta(minutes=10)
DEFAULT_RENEW_WITHIN = timedelta(hours=24)
WATCHING = ("connected", "syncing", "error")  # statuses whose calendars should be watched


@dataclass(frozen=True)
class WatchOutcome:
    """What one step did, for logs, the API and the renewal schedule's metadata."""

    connection_id: str
    calendar_id: str | None
    action: str  # created | renewed | replaced | retired | reauthorized | recreated | stopped | failed
    watch_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.action != "failed"


class _NoSession(Exception):
    """The connection has no usable credentials (disconnected, deleted or undecryptable)."""


class WatchManager:
    def __init__(
        self,
        opstore: OpStore,
        cipher: TokenCipher,
        providers: Mapping[str, CalendarProvider],
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        google_ttl: timedelta = GOOGLE_CHANNEL_TTL,
        graph_lifetime: timedelta = GRAPH_SUBSCRIPTION_LIFETIME,
        overlap: timedelta = GOOGLE_OVERLAP,
        new_secret: Callable[[], str] | None = None,
    ) -> None:
        self.store = opstore
        self.watches = WatchRepository(opstore)
        self.connections = ConnectionRepository(opstore, cipher)
        self.providers = providers
        self.public_url = settings.public_url.rstrip("/")
        self.clock = clock or now_utc
        self.google_ttl = google_ttl
        self.graph_lifetime = graph_lifetime
        self.overlap = overlap
        # Injectable so tests can forge a notification that carries a genuine secret.
        self.new_secret = new_secret or (lambda: secrets.token_urlsafe(32))

    # --- addresses ---------------------------------------------------------------------------
    def address(self, provider: str) -> str:
        return f"{self.public_url}/webhooks/{provider}"

    @property
    def lifecycle_address(self) -> str:
        return f"{self.public_url}/webhooks/microsoft/lifecycle"

    def lifetime(self, provider: str) -> timedelta:
        return self.google_ttl if provider == "google" else self.graph_lifetime

    # --- reading -----------------------------------------------------------------------------
    def get(self, watch_id: str) -> Watch | None:
        return self.watches.get(watch_id)

    def list(self, connection_id: str | None = None, states: tuple[str, ...] | None = None) -> list[Watch]:
        return self.watches.list(connection_id, states)

    # --- creating ----------------------------------------------------------------------------
    def ensure(self, connection_id: str, now: datetime | None = None) -> list[WatchOutcome]:
        """A live watch for every selected calendar of a watchable connection; watches of calendars
        no longer selected are retired."""
        now = now or self.clock()
        connection = self.connections.get(connection_id)
        if connection is None or connection.status not in WATCHING:
            return []
        selected = {c.calendar_id for c in self.connections.calendars(connection_id)}
        live = self._live(connection_id, now)
        outcomes: list[WatchOutcome] = []
        stale = [w for w in live if w.calendar_id not in selected]
        missing = sorted(selected - {w.calendar_id for w in live})
        if not (missing or stale):
            return []
        try:
            session = self._session(connection)
        except _NoSession as exc:
            return [WatchOutcome(connection_id, c, "failed", error=str(exc)) for c in missing]
        for calendar_id in missing:
            outcomes.append(self._create(connection, session, calendar_id, now))
        for watch in stale:
            self._set_state([watch.watch_id], "stopping")
            outcomes.append(self._stop(watch, session, now))
        return outcomes

    def ensure_all(self, now: datetime | None = None) -> list[WatchOutcome]:
        """`ensure` for every watchable connection (self-healing after refused or lost watches)."""
        outcomes: list[WatchOutcome] = []
        for connection in self.connections.list(WATCHING):
            outcomes.extend(self.ensure(connection.connection_id, now))
        return outcomes

    def _create(
        self, connection: Connection, session: ProviderSession, calendar_id: str, now: datetime
    ) -> WatchOutcome:
        provider = connection.provider
        secret = self.new_secret()
        try:
            info = session.watch(
                calendar_id,
                self.address(provider),
                secret,
                now + self.lifetime(provider),
                self.lifecycle_address,
            )
        except Exception as exc:  # recorded and reported, never raised to the caller
            return self._failed(connection, calendar_id, "creating the watch", exc)
        self._insert(connection, calendar_id, info, secret, now)
        log.info("watch %s created for %s / %s", info.watch_id, connection.connection_id, calendar_id)
        return WatchOutcome(connection.connection_id, calendar_id, "created", info.watch_id)

    def _insert(
        self, connection: Connection, calendar_id: str, info: WatchInfo, secret: str, now: datetime
    ) -> None:
        self.watches.save_active(
            watch_id=info.watch_id,
            connection_id=connection.connection_id,
            calendar_id=calendar_id,
            provider=connection.provider,
            resource_id=info.resource_id,
            secret_sha256=secret_digest(secret),
            expires_at=info.expires_at,
            tenant_id=info.tenant_id,
            owner_id=info.owner_id,
            now=now,
        )

    # --- renewing ----------------------------------------------------------------------------
    def renew_due(
        self, now: datetime | None = None, within: timedelta = DEFAULT_RENEW_WITHIN
    ) -> list[WatchOutcome]:
        """Renew what expires within `within`, end finished Google overlaps, and heal calendars that
        have no live watch. Safe to run from several processes: an extra channel is retired by
        the next run's overlap step."""
        now = now or self.clock()
        outcomes = self._end_overlaps(now)
        by_connection: dict[str, list[Watch]] = {}
        for watch in self.watches.due_for_renewal(now + within):
            by_connection.setdefault(watch.connection_id, []).append(watch)
        for connection_id, watches in by_connection.items():
            connection = self.connections.get(connection_id)
            if connection is None:
                continue
            try:
                session = self._session(connection)
            except _NoSession as exc:
                outcomes.extend(self._record_failures(watches, str(exc)))
                continue
            for watch in watches:
                outcomes.append(self._renew(connection, session, watch, now))
        outcomes.extend(self.ensure_all(now))
        return outcomes

    def _renew(
        self, connection: Connection, session: ProviderSession, watch: Watch, now: datetime
    ) -> WatchOutcome:
        secret = self.new_secret()
        current = WatchInfo(watch.watch_id, watch.resource_id, _expiry(watch))
        try:
            info = session.renew_watch(
                watch.calendar_id,
                current,
                self.address(watch.provider),
                secret,
                now + self.lifetime(watch.provider),
                self.lifecycle_address,
            )
        except Exception as exc:
            outcome = self._failed(connection, watch.calendar_id, "renewing the watch", exc)
            self._note_error([watch.watch_id], outcome.error or "")
            return outcome
        if info.watch_id == watch.watch_id:  # Graph PATCH: same subscription, same secret
            self.watches.extend(watch.watch_id, info.expires_at, info.tenant_id, info.owner_id, now)
            return WatchOutcome(connection.connection_id, watch.calendar_id, "renewed", watch.watch_id)
        self._insert(connection, watch.calendar_id, info, secret, now)
        if watch.provider == "microsoft" or _expiry(watch) <= now:
            # Graph recreated a subscription it had lost, or the old channel is dead anyway.
            self._set_state([watch.watch_id], "stopped", "replaced")
        # Otherwise (Google) the old channel keeps delivering until the overlap ends.
        return WatchOutcome(connection.connection_id, watch.calendar_id, "replaced", info.watch_id)

    def _end_overlaps(self, now: datetime) -> list[WatchOutcome]:
        """Stop older active watches of a calendar once its newest one is `overlap` old."""
        retired = self.watches.overlapped(now - self.overlap)
        if not retired:
            return []
        self._set_state([w.watch_id for w in retired], "stopping")
        return self._stop_all(retired, now)

    # --- lifecycle ---------------------------------------------------------------------------
    def reauthorize(self, watch_id: str, now: datetime | None = None) -> WatchOutcome:
        """Graph `reauthorizationRequired`: reauthorize (recreate when Graph no longer knows it)."""
        now = now or self.clock()
        watch = self.get(watch_id)
        if watch is None or watch.state != "active":
            return WatchOutcome("", None, "failed", watch_id, "no active watch with this id")
        connection = self.connections.get(watch.connection_id)
        if watch.provider != "microsoft" or connection is None or connection.status not in WATCHING:
            return WatchOutcome(watch.connection_id, watch.calendar_id, "reauthorized", watch_id)
        try:
            session = self._session(connection)
            session.reauthorize_watch(watch_id, now + self.graph_lifetime)
        except EventNotFound:
            return self.recreate(watch_id, now)
        except Exception as exc:
            outcome = self._failed(connection, watch.calendar_id, "reauthorizing the watch", exc)
            self._note_error([watch_id], outcome.error or "")
            return outcome
        log.info("watch %s reauthorized", watch_id)
        return WatchOutcome(watch.connection_id, watch.calendar_id, "reauthorized", watch_id)

    def recreate(self, watch_id: str, now: datetime | None = None) -> WatchOutcome:
        """Graph `subscriptionRemoved` (or a subscription Graph lost): retire it, open a new one."""
        now = now or self.clock()
        watch = self.get(watch_id)
        if watch is None:
            return WatchOutcome("", None, "failed", watch_id, "no watch with this id")
        if watch.state == "active":
            self._set_state([watch_id], "stopped", "removed by the provider")
        connection = self.connections.get(watch.connection_id)
        if connection is None or connection.status not in WATCHING:
            return WatchOutcome(watch.connection_id, watch.calendar_id, "retired", watch_id)
        selected = {c.calendar_id for c in self.connections.calendars(connection.connection_id)}
        live = {w.calendar_id for w in self._live(connection.connection_id, now)}
        if watch.calendar_id not in selected or watch.calendar_id in live:
            return WatchOutcome(watch.connection_id, watch.calendar_id, "retired", watch_id)
        try:
            session = self._session(connection)
        except _NoSession as exc:
            return WatchOutcome(watch.connection_id, watch.calendar_id, "failed", watch_id, str(exc))
        outcome = self._create(connection, session, watch.calendar_id, now)
        if outcome.ok:
            return WatchOutcome(watch.connection_id, watch.calendar_id, "recreated", outcome.watch_id)
        return outcome

    # --- stopping ----------------------------------------------------------------------------
    def stop_connection(self, connection_id: str, now: datetime | None = None) -> int:
        """Mark the connection's watches `stopping` and try to stop each; returns how many are left."""
        now = now or self.clock()
        self.watches.mark_connection_stopping(connection_id, now)
        self._stop_all(self.list(connection_id, ("stopping",)), now)
        return len(self.list(connection_id, ("stopping",)))

    def retry_stopping(self, now: datetime | None = None) -> list[WatchOutcome]:
        """Retry every watch left `stopping` (by a disconnect or an overlap)."""
        now = now or self.clock()
        return self._stop_all(self.list(states=("stopping",)), now)

    def pending_stops(self, connection_id: str) -> int:
        return len(self.list(connection_id, ("stopping",)))

    def _stop_all(self, watches: list[Watch], now: datetime) -> list[WatchOutcome]:
        outcomes, sessions = [], {}
        for watch in watches:
            if watch.connection_id not in sessions:
                connection = self.connections.get(watch.connection_id)
                try:
                    if connection is None:
                        raise _NoSession("the connection no longer exists")
                    sessions[watch.connection_id] = self._session(connection)
                except _NoSession as exc:
                    sessions[watch.connection_id] = exc
            outcomes.append(self._stop(watch, sessions[watch.connection_id], now))
        return outcomes

    def _stop(self, watch: Watch, session: ProviderSession | Exception, now: datetime) -> WatchOutcome:
        expired = _expiry(watch) <= now
        if isinstance(session, Exception):
            # Without a token the watch cannot be stopped; it dies at its expiry on its own.
            note = f"not stopped ({session}); it expires at {watch.expires_at}"
            self._set_state([watch.watch_id], "stopped", note)
            return WatchOutcome(watch.connection_id, watch.calendar_id, "stopped", watch.watch_id, note)
        try:
            session.stop_watch(watch.watch_id, watch.resource_id)
        except ReauthRequired as exc:
            note = f"not stopped (token refused: {exc}); it expires at {watch.expires_at}"
            self._set_state([watch.watch_id], "stopped", note)
            return WatchOutcome(watch.connection_id, watch.calendar_id, "stopped", watch.watch_id, note)
        except Exception as exc:
            if expired:
                self._set_state([watch.watch_id], "stopped", "expired before it could be stopped")
                return WatchOutcome(watch.connection_id, watch.calendar_id, "stopped", watch.watch_id)
            error = f"stopping failed: {_one_line(exc)}"
            self.watches.record_stop_failure(watch.watch_id, error, now)
            log.warning("watch %s: %s", watch.watch_id, error)
            return WatchOutcome(watch.connection_id, watch.calendar_id, "failed", watch.watch_id, error)
        self._set_state([watch.watch_id], "stopped")
        log.info("watch %s stopped", watch.watch_id)
        return WatchOutcome(watch.connection_id, watch.calendar_id, "stopped", watch.watch_id)

    # --- plumbing ----------------------------------------------------------------------------
    def _live(self, connection_id: str, now: datetime) -> list[Watch]:
        return self.watches.live(connection_id, now)

    def _session(self, connection: Connection) -> ProviderSession:
        provider = self.providers.get(connection.provider)
        if provider is None:
            raise _NoSession(f"no {connection.provider} client configured")
        try:
            credentials = self.connections.credentials(connection.connection_id)
        except SecretDecryptError as exc:
            raise _NoSession(str(exc)) from None
        if credentials is None:
            raise _NoSession("no stored credentials")
        return provider.session(
            credentials,
            lambda fresh: self.connections.save_credentials(connection.connection_id, fresh),
        )

    def _failed(self, connection: Connection, calendar_id: str, doing: str, exc: Exception) -> WatchOutcome:
        if isinstance(exc, ReauthRequired):
            self.connections.set_status(connection.connection_id, "needs_reconnect", error=f"reauth: {exc}")
        elif not isinstance(exc, ProviderError):
            log.exception("%s for %s / %s failed", doing, connection.connection_id, calendar_id)
        error = f"{doing} for calendar {calendar_id} failed: {_one_line(exc)}"
        if not isinstance(exc, ReauthRequired):
            self.connections.record_error(connection.connection_id, error)
        log.warning("%s: %s", connection.connection_id, error)
        return WatchOutcome(connection.connection_id, calendar_id, "failed", error=error)

    def _record_failures(self, watches: list[Watch], error: str) -> list[WatchOutcome]:
        self._note_error([w.watch_id for w in watches], error)
        return [WatchOutcome(w.connection_id, w.calendar_id, "failed", w.watch_id, error) for w in watches]

    def _note_error(self, watch_ids: list[str], error: str) -> None:
        self.watches.note_error(watch_ids, error, self.clock())

    def _set_state(self, watch_ids: list[str], state: str, note: str | None = None) -> None:
        self.watches.set_state(watch_ids, state, note, self.clock())


def _expiry(watch: Watch) -> datetime:
    return parse_utc(watch.expires_at)  # type: ignore[return-value]  # always stored


def _one_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]

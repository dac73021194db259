"""Connecting and disconnecting a manager's calendar (F1, F2, F15): the OAuth round trip and the
disconnect order as library code.

`start` remembers the flow (encrypted: it holds the PKCE verifier) under its `state`, bound to the
browser that started it; `finish` consumes it exactly once in that browser, accepts only the
manager's own account, stops the old watches with the old credentials, stores the encrypted
credentials, records the calendars and queues the initial import. The gateway's /oauth routes are thin wrappers around these two calls (plus
`WatchManager.ensure`). `disconnect` and `finish_disconnects` are the F15 disconnect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from smvue_core.clock import now_utc, parse_utc
from smvue_core.opstore.connections import AccountMismatch, Connection, ConnectionRepository
from smvue_core.opstore.db import OpStore
from smvue_core.opstore.oauth_states import OAuthStateRepository, PendingFlow
from smvue_core.opstore.queue import ChangeQueue
from smvue_core.opstore.roster import RosterRepository
from smvue_core.providers.base import AuthResult, AuthStart, CalendarProvider, ProviderError
from smvue_core.security.cipher import SecretDecryptError, TokenCipher
from smvue_core.watches import WatchManager

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=15)
# A revoke that keeps failing (the provider unreachable) stops holding the tokens back after this.
REVOKE_GIVE_UP = timedelta(days=1)
_NO_COOKIE = (
    "state: this connection was started in another browser (its cookie is missing or does not "
    "match); start the connection again from this browser"
)
_OTHER_ACCOUNT = (
    "account: this {provider} connection belongs to another account; disconnect it first to "
    "connect a different one"
)


def new_browser_binding() -> str:
    """The secret the browser that starts a connection keeps (as a cookie) to finish it."""
    return secrets.token_urlsafe(32)


def _digest(binding: str | None) -> str | None:
    return None if binding is None else hashlib.sha256(binding.encode()).hexdigest()


def _same_digest(stored: str | None, given: str | None) -> bool:
    if stored is None or given is None:
        return stored is given
    return hmac.compare_digest(stored, given)


class ConnectError(Exception):
    """The connect attempt cannot go on (unknown manager, stale or forged state, provider refusal).

    The message starts with the field at fault; `status` is the HTTP status the gateway answers.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ConnectOutcome:
    connection: Connection
    calendars: int
    reconnected: bool


@dataclass
class DisconnectOutcome:
    connection: Connection
    discarded_changes: int
    pending_watch_stops: int
    credentials_deleted: bool
    # revoked | not_supported | pending (retried in the background) | given_up
    revocation: str


class ConnectService:
    def __init__(
        self,
        store: OpStore,
        cipher: TokenCipher,
        providers: dict[str, CalendarProvider],
        public_url: str,
        watches: WatchManager | None = None,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.providers = providers
        self.public_url = public_url.rstrip("/")
        self.connections = ConnectionRepository(store, cipher)
        self.roster = RosterRepository(store)
        self.oauth_states = OAuthStateRepository(store)
        self.queue = ChangeQueue(store)
        self.watches = watches

    def redirect_uri(self, provider: str) -> str:
        return f"{self.public_url}/oauth/{provider}/callback"

    def start(self, manager_id: str, provider: str, browser_binding: str | None = None) -> str:
        """The provider's authorize URL for this manager (login_hint = the manager's email)."""
        return self.begin(manager_id, provider, browser_binding).url

    def begin(self, manager_id: str, provider: str, browser_binding: str | None = None) -> AuthStart:
        """Start a flow and remember it under its state.

        `browser_binding` is the secret the gateway hands the browser as a cookie
        (`new_browser_binding`); only its SHA-256 is kept, and `finish` wants it back. In-process
        callers that drive the flow themselves may leave it out; such a flow can then only be
        finished without one, never through the gateway's callback.
        """
        manager = self.roster.manager(manager_id)
        if manager is None:
            raise ConnectError(f"manager_id: unknown manager {manager_id!r}", status=404)
        client = self._provider(provider)
        start = client.start_authorization(self.redirect_uri(provider), login_hint=manager.email)
        now = now_utc()
        self.oauth_states.remember(
            start.state,
            provider,
            manager_id,
            self.cipher.encrypt(json.dumps(start.flow)),
            _digest(browser_binding),
            now,
            now + STATE_LIFETIME,
        )
        return start

    def finish(
        self, provider: str, params: dict[str, str], browser_binding: str | None = None
    ) -> ConnectOutcome:
        """Complete the callback: exchange the code, check who consented, stop the old watches,
        store tokens, list calendars, queue the import.

        Nothing is stored unless the account that consented is the manager's: its verified address
        is the manager's roster email, or (a reconnect) it is the account already on the
        connection. A live connection never changes account; disconnect it first.
        """
        client = self._provider(provider)
        pending = self._take_state(provider, params.get("state") or "", browser_binding)
        flow = json.loads(self.cipher.decrypt(pending.flow))
        try:
            result = client.finish_authorization(flow, params)
        except ProviderError as exc:
            raise ConnectError(f"code: {exc}") from None
        manager_id = pending.manager_id
        existing = self.connections.of_manager(manager_id, provider)
        self._check_account(manager_id, provider, existing, result)
        reconnected = existing is not None
        if existing is not None:
            self._stop_old_watches(existing, result)
        try:
            connection = self.connections.connect(
                manager_id, provider, result.account_email, result.credentials, result.account_subject
            )
        except AccountMismatch:  # another callback revived it with its account meanwhile
            raise ConnectError(_OTHER_ACCOUNT.format(provider=provider), status=403) from None
        session = client.session(
            result.credentials,
            lambda fresh: self.connections.save_credentials(connection.connection_id, fresh),
        )
        try:
            calendars = session.list_calendars()
        except ProviderError as exc:
            self.connections.set_status(
                connection.connection_id, "error", error=f"listing calendars failed: {exc}"
            )
            raise ConnectError(f"connected, but listing calendars failed: {exc}", status=502) from None
        self.connections.save_calendars(connection.connection_id, calendars)
        # A reconnect resumes from the stored cursor when it is still valid (the sync engine
        # decides); a first connect gets its initial import.
        self.queue.enqueue(connection.connection_id, None, "reconnect" if reconnected else "connect")
        return ConnectOutcome(connection, len(calendars), reconnected)

    def _take_state(self, provider: str, state: str, browser_binding: str | None) -> PendingFlow:
        """The flow started under `state`, consumed exactly once, by the browser that started it."""
        if browser_binding == "":
            raise ConnectError(_NO_COOKIE)

        def same_browser(pending: PendingFlow) -> None:
            if not _same_digest(pending.browser_sha256, _digest(browser_binding)):
                # Another browser's callback: refused, and the flow stays for its own browser.
                raise ConnectError(_NO_COOKIE)

        pending = self.oauth_states.take(state, provider, same_browser)
        if pending is None:
            raise ConnectError("state: unknown or already used; start the connection again")
        if pending.expires_at < now_utc():
            raise ConnectError("state: expired; start the connection again")
        return pending

    def _check_account(
        self, manager_id: str, provider: str, existing: Connection | None, result: AuthResult
    ) -> None:
        """Refuse (403, nothing stored) an account that is not the manager's."""
        if not result.email_verified:
            raise ConnectError(
                f"account: the {provider} account that signed in has no verified email address; "
                "sign in with the manager's own, verified account",
                status=403,
            )
        if existing is not None and existing.status != "disconnected":
            if not existing.is_account(result.account_subject, result.account_email):
                log.warning("connect refused: %s reconnect of %s with another account", provider, manager_id)
                raise ConnectError(_OTHER_ACCOUNT.format(provider=provider), status=403)
            return
        manager = self.roster.manager(manager_id)
        if manager is None:
            raise ConnectError(f"manager_id: unknown manager {manager_id!r}", status=404)
        if result.account_email.casefold() != manager.email.casefold():
            log.warning("connect refused: %s account is not manager %s's", provider, manager_id)
            raise ConnectError(
                f"account: {result.account_email} signed in, which is not the email of manager "
                f"{manager_id}; sign in with the manager's own {provider} account",
                status=403,
            )

    def _stop_old_watches(self, existing: Connection, result: AuthResult) -> None:
        """Stop the connection's watches with its OLD credentials, before they are replaced: the
        new account's token cannot stop another account's channel (the provider answers 404)."""
        if self.watches is None:
            return
        pending = self.watches.stop_connection(existing.connection_id)
        if pending and not existing.is_account(result.account_subject, result.account_email):
            # The previous account's watches could not be stopped yet (provider unreachable): its
            # credentials are still needed for that, so the new account has to wait.
            raise ConnectError(
                f"connection: {pending} watch(es) of the previous account are still being stopped; "
                "try connecting again in a few minutes",
                status=409,
            )

    # --- disconnect (F15) ---------------------------------------------------------------------
    def disconnect(self, connection_id: str) -> DisconnectOutcome:
        """Disconnect a connection, in this order:

        1. mark it `disconnected`: syncs skip it and the gateway rejects (and counts) its
           notifications from this moment;
        2. discard its queued changes (meetings and events already synced stay);
        3. stop its channels / subscriptions (`WatchManager.stop_connection`);
        4. revoke the token where the provider allows it (Google; Outlook has no revocation) and
           delete the stored credentials.

        Stopping a watch needs the user's token, so when some watch could not be stopped yet, the
        encrypted credentials are kept, ONLY until the gateway's background worker
        (`webhook_gateway.workers`, through `finish_disconnects`) has stopped the rest; then the
        token is revoked and deleted. A watch that can never be stopped (token refused) is given up
        and simply expires at the provider. A revoke whose outcome is unknown (a 5xx, no answer)
        also keeps the credentials, and is retried by the same worker until it succeeds or is given
        up (the connection's `revoke_state` says which). Reconnecting through OAuth revives the
        same connection id with fresh credentials; a pending revoke then no longer applies to it.
        """
        connection = self.connections.mark_disconnected(connection_id)
        if connection is None:
            raise ConnectError(f"connection_id: unknown connection {connection_id!r}", status=404)
        discarded = self.queue.discard_connection(connection_id)
        pending = self.watches.stop_connection(connection_id) if self.watches else 0
        if pending == 0:
            self._revoke_and_forget(connection)
        after = self.connections.get(connection_id)
        deleted = after is not None and not after.has_credentials
        log.info(
            "disconnected %s: %d queued changes discarded, %d watch stops pending, token revoke %s",
            connection_id,
            discarded,
            pending,
            after.revoke_state if after else None,
        )
        revocation = (after.revoke_state if after else None) or "pending"  # None: waits for the stops
        return DisconnectOutcome(after, discarded, pending, deleted, revocation)  # type: ignore[arg-type]

    def finish_disconnects(self, now: datetime | None = None) -> int:
        """Retry pending watch stops; revoke and delete the tokens of disconnects that are done
        (retrying a revoke that failed, until REVOKE_GIVE_UP after the disconnect).

        Called periodically by the gateway's background worker. Returns how many connections had
        their credentials deleted in this pass.
        """
        if self.watches is not None:
            self.watches.retry_stopping()
        finished = 0
        for connection in self.connections.disconnected_holding_credentials():
            if self.watches is not None and self.watches.pending_stops(connection.connection_id):
                continue
            finished += int(self._revoke_and_forget(connection, now))
        return finished

    def _revoke_and_forget(self, connection: Connection, now: datetime | None = None) -> bool:
        """Revoke the grant, then delete the tokens. A revoke whose outcome is unknown keeps the
        (encrypted) tokens for the next attempt, and is given up visibly after REVOKE_GIVE_UP."""
        now = now or now_utc()
        cid = connection.connection_id
        current = self.connections.get(cid)
        if current is None or current.status != "disconnected":
            return False  # reconnected meanwhile: its new credentials are not ours to delete
        provider = self.providers.get(connection.provider)
        try:
            credentials = self.connections.credentials(cid)
        except SecretDecryptError:
            log.error("token revoke of %s given up: its credentials cannot be decrypted", cid)
            self.store.bump_counter(f"token_revoke_given_up_{connection.provider}")
            return self.connections.forget_credentials(
                cid, "given_up", "the stored credentials cannot be decrypted (key rotated away?)"
            )
        if credentials is None:
            return False
        if provider is None:
            return self.connections.forget_credentials(cid, "not_supported")
        try:
            revoked = provider.revoke(credentials)
        except Exception as exc:  # outcome unknown: the grant may still work, so try again later
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            attempts = self.connections.record_revoke_failure(cid, error)
            self.store.bump_counter(f"token_revoke_failures_{connection.provider}")
            started = parse_utc(current.disconnected_at or current.updated_at)
            if now - started < REVOKE_GIVE_UP:
                log.warning(
                    "token revoke of %s failed (attempt %d: %s); retrying later", cid, attempts, error
                )
                return False
            log.error(
                "token revoke of %s given up after %d attempts (%s): the grant may still be valid at %s",
                cid,
                attempts,
                error,
                connection.provider,
            )
            self.store.bump_counter(f"token_revoke_given_up_{connection.provider}")
            return self.connections.forget_credentials(
                cid,
                "given_up",
                f"{attempts} attempts failed (last: {error}); the grant may still be valid at "
                f"{connection.provider} until the user removes SMVue's access there",
            )
        if revoked:
            self.store.bump_counter(f"token_revoked_{connection.provider}")
        return self.connections.forget_credentials(cid, "revoked" if revoked else "not_supported")

    def _provider(self, provider: str) -> CalendarProvider:
        if provider not in self.providers:
            raise ConnectError(f"provider: must be one of {sorted(self.providers)}")
        return self.providers[provider]

"""Connecting a manager's calendar (F1, F2, F15 reconnect): the OAuth round trip as library code.

`start` remembers the flow (encrypted: it holds the PKCE verifier) under its `state`; `finish`
consumes it exactly once, stores the encrypted credentials, records the calendars and queues the
initial import. The gateway's /oauth routes are thin wrappers around these two calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smvue_pipeline.opstore.connections import Connection, ConnectionRepository
from smvue_pipeline.opstore.db import OpStore
from smvue_pipeline.opstore.queue import ChangeQueue
from smvue_pipeline.opstore.roster import RosterRepository
from smvue_pipeline.providers.base import CalendarProvider, ProviderError
from smvue_pipeline.security.cipher import TokenCipher

STATE_LIFETIME = timedelta(minutes=15)


class ConnectError(Exception):
    """The connect attempt cannot go on (unknown manager, stale or forged state, provider refusal)."""


@dataclass
class ConnectOutcome:
    connection: Connection
    calendars: int
    reconnected: bool


class ConnectService:
    def __init__(
        self, store: OpStore, cipher: TokenCipher, providers: dict[str, CalendarProvider], public_url: str
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.providers = providers
        self.public_url = public_url.rstrip("/")
        self.connections = ConnectionRepository(store, cipher)
        self.roster = RosterRepository(store)
        self.queue = ChangeQueue(store)

    def redirect_uri(self, provider: str) -> str:
        return f"{self.public_url}/oauth/{provider}/callback"

    def start(self, manager_id: str, provider: str) -> str:
        """The provider's authorize URL for this manager (login_hint = the manager's email)."""
        manager = self.roster.manager(manager_id)
        if manager is None:
            raise ConnectError(f"manager_id: unknown manager {manager_id!r}")
        client = self._provider(provider)
        start = client.start_authorization(self.redirect_uri(provider), login_hint=manager.email)
        now = datetime.now(UTC)
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM oauth_states WHERE expires_at < ?", (now.isoformat(),))
            conn.execute(
                "INSERT INTO oauth_states (state, provider, manager_id, flow, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    start.state,
                    provider,
                    manager_id,
                    self.cipher.encrypt(json.dumps(start.flow)),
                    now.isoformat(),
                    (now + STATE_LIFETIME).isoformat(),
                ),
            )
        return start.url

    def finish(self, provider: str, params: dict[str, str]) -> ConnectOutcome:
        """Complete the callback: exchange the code, store tokens, list calendars, queue the import."""
        client = self._provider(provider)
        state = params.get("state") or ""
        with self.store.transaction() as conn:
            # Consumed in the same transaction it is read: a replayed callback finds nothing.
            row = conn.execute(
                "SELECT manager_id, flow, expires_at FROM oauth_states WHERE state = ? AND provider = ?",
                (state, provider),
            ).fetchone()
            conn.execute("DELETE FROM oauth_states WHERE state = ?", (state,))
        if row is None:
            raise ConnectError("state: unknown or already used; start the connection again")
        if row["expires_at"] < datetime.now(UTC).isoformat():
            raise ConnectError("state: expired; start the connection again")
        flow = json.loads(self.cipher.decrypt(row["flow"]))
        try:
            result = client.finish_authorization(flow, params)
        except ProviderError as exc:
            raise ConnectError(str(exc)) from None
        existing = {(c.manager_id, c.provider) for c in self.connections.list()}
        reconnected = (row["manager_id"], provider) in existing
        connection = self.connections.connect(
            row["manager_id"], provider, result.account_email, result.credentials
        )
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
            raise ConnectError(f"connected, but listing calendars failed: {exc}") from None
        self.connections.save_calendars(connection.connection_id, calendars)
        # A reconnect resumes from the stored cursor when it is still valid (the sync engine
        # decides); a first connect gets its initial import.
        self.queue.enqueue(connection.connection_id, None, "reconnect" if reconnected else "connect")
        return ConnectOutcome(connection, len(calendars), reconnected)

    def _provider(self, provider: str) -> CalendarProvider:
        if provider not in self.providers:
            raise ConnectError(f"provider: must be one of {sorted(self.providers)}")
        return self.providers[provider]

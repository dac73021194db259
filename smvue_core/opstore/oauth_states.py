"""OAuth flows in progress (F1): remembered under their `state` until the callback consumes them.

The flow is stored encrypted by the caller (it holds the PKCE verifier); the browser that started
it is known only by its cookie's SHA-256. Which browser may finish a flow is smvue_core/connect.py's
decision; this module reads, keeps and deletes rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from smvue_core.clock import iso_utc, parse_utc
from smvue_core.opstore.db import OpStore


@dataclass(frozen=True)
class PendingFlow:
    manager_id: str
    flow: bytes | str  # the encrypted flow, as the caller stored it
    expires_at: datetime
    browser_sha256: str | None


class OAuthStateRepository:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    def remember(
        self,
        state: str,
        provider: str,
        manager_id: str,
        encrypted_flow: bytes | str,
        browser_sha256: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Keep a new flow, dropping the ones that expired before `now` in the same transaction."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM oauth_states WHERE expires_at < ?", (iso_utc(now),))
            conn.execute(
                """INSERT INTO oauth_states (state, provider, manager_id, flow, created_at, expires_at,
                       browser_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (
                    state,
                    provider,
                    manager_id,
                    encrypted_flow,
                    iso_utc(now),
                    iso_utc(expires_at),
                    browser_sha256,
                ),
            )

    def take(self, state: str, provider: str, accept: Callable[[PendingFlow], None]) -> PendingFlow | None:
        """The flow started under `state`, deleted in the same transaction it is read, so a replayed
        callback finds nothing. `accept` may raise to refuse it: the flow then stays."""
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT manager_id, flow, expires_at, browser_sha256 FROM oauth_states "
                "WHERE state = ? AND provider = ?",
                (state, provider),
            ).fetchone()
            pending = None
            if row is not None:
                pending = PendingFlow(
                    row["manager_id"],
                    row["flow"],
                    parse_utc(row["expires_at"]),  # type: ignore[arg-type]  # never NULL
                    row["browser_sha256"],
                )
                accept(pending)
            conn.execute("DELETE FROM oauth_states WHERE state = ?", (state,))
        return pending

"""Connections, their encrypted credentials, and their calendars."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass

from smvue_core.clock import now_iso
from smvue_core.opstore.db import OpStore
from smvue_core.providers.base import CalendarInfo
from smvue_core.security.cipher import TokenCipher

log = logging.getLogger(__name__)

STATUSES = ("connected", "syncing", "needs_reconnect", "disconnected", "error")
# How the token revoke of a disconnect ended (NULL while none was attempted yet).
REVOKE_STATES = ("pending", "revoked", "not_supported", "given_up")
SYNCABLE = ("connected", "syncing", "error")


@dataclass
class Connection:
    connection_id: str
    manager_id: str
    provider: str
    account_email: str | None
    status: str
    last_synced_at: str | None
    last_error: str | None
    created_at: str
    updated_at: str
    disconnected_at: str | None
    has_credentials: bool
    revoke_state: str | None = None
    revoke_attempts: int = 0
    revoke_error: str | None = None
    account_subject: str | None = None  # "google:<sub>" / "microsoft:<tid>/<oid>"; None before it was kept

    def is_account(self, subject: str | None, email: str) -> bool:
        """Whether an account that just consented is this connection's own account: its subject
        when one is stored, else (connections made before subjects were kept) its address."""
        if self.account_subject:
            return subject == self.account_subject
        return (self.account_email or "").casefold() == email.casefold()


class AccountMismatch(Exception):
    """A reconnect brought another account than the one the live connection belongs to."""


def _row_to_connection(row) -> Connection:
    return Connection(
        connection_id=row["connection_id"],
        manager_id=row["manager_id"],
        provider=row["provider"],
        account_email=row["account_email"],
        status=row["status"],
        last_synced_at=row["last_synced_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        disconnected_at=row["disconnected_at"],
        has_credentials=row["secret"] is not None,
        revoke_state=row["revoke_state"],
        revoke_attempts=row["revoke_attempts"],
        revoke_error=row["revoke_error"],
        account_subject=row["account_subject"],
    )


def syncable_connections(store: OpStore) -> list[tuple[str, str]]:
    """(connection_id, provider) of every connection a sync can use: syncable, credentials kept.
    Needs no key: nothing here is decrypted (the reconcile schedule asks every hour)."""
    rows = store.query(
        "SELECT connection_id, provider FROM connections "
        "WHERE secret IS NOT NULL AND status IN (SELECT value FROM json_each(?)) ORDER BY connection_id",
        (_json_list(set(SYNCABLE)),),
    )
    return [(row["connection_id"], row["provider"]) for row in rows]


class ConnectionRepository:
    def __init__(self, store: OpStore, cipher: TokenCipher) -> None:
        self.store = store
        self.cipher = cipher

    # --- connections -------------------------------------------------------------------------
    def connect(
        self,
        manager_id: str,
        provider: str,
        account_email: str,
        credentials: str,
        account_subject: str | None = None,
    ) -> Connection:
        """Create the manager's connection for this provider, or revive it on reconnect.

        Reconnecting keeps the connection id, so stored cursors (in the warehouse) still apply.
        A connection that is not disconnected keeps its account: reviving it with another one
        raises `AccountMismatch` and changes nothing (checked in the same transaction as the
        write, so two racing callbacks cannot swap it either).
        """
        now = now_iso()
        secret = self.cipher.encrypt(credentials)
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM connections WHERE manager_id = ? AND provider = ?",
                (manager_id, provider),
            ).fetchone()
            if row is None:
                connection_id = f"conn_{uuid.uuid4().hex[:16]}"
                conn.execute(
                    """INSERT INTO connections (connection_id, manager_id, provider, account_email, status,
                           secret, created_at, updated_at, account_subject)
                       VALUES (?, ?, ?, ?, 'connected', ?, ?, ?, ?)""",
                    (connection_id, manager_id, provider, account_email, secret, now, now, account_subject),
                )
            else:
                existing = _row_to_connection(row)
                if existing.status != "disconnected" and not existing.is_account(
                    account_subject, account_email
                ):
                    raise AccountMismatch(existing.connection_id)
                connection_id = existing.connection_id
                conn.execute(
                    # A revoke still pending for the old grant no longer applies: revoking it
                    # now would revoke the grant just given again (Google revokes per grant).
                    """UPDATE connections SET account_email = ?, status = 'connected', secret = ?,
                           account_subject = CASE WHEN status = 'disconnected' THEN ?
                                                  ELSE COALESCE(?, account_subject) END,
                           last_error = NULL, disconnected_at = NULL, updated_at = ?,
                           revoke_state = NULL, revoke_attempts = 0, revoke_error = NULL
                       WHERE connection_id = ?""",
                    (account_email, secret, account_subject, account_subject, now, connection_id),
                )
        return self.get(connection_id)  # type: ignore[return-value]

    def of_manager(self, manager_id: str, provider: str) -> Connection | None:
        row = self.store.query_one(
            "SELECT * FROM connections WHERE manager_id = ? AND provider = ?", (manager_id, provider)
        )
        return _row_to_connection(row) if row else None

    def get(self, connection_id: str) -> Connection | None:
        row = self.store.query_one("SELECT * FROM connections WHERE connection_id = ?", (connection_id,))
        return _row_to_connection(row) if row else None

    def list(self, statuses: tuple[str, ...] | None = None) -> list[Connection]:
        if statuses:
            marks = ",".join("?" * len(statuses))
            rows = self.store.query(
                f"SELECT * FROM connections WHERE status IN ({marks}) ORDER BY created_at", statuses
            )
        else:
            rows = self.store.query("SELECT * FROM connections ORDER BY created_at")
        return [_row_to_connection(r) for r in rows]

    @staticmethod
    def write_target(conn: sqlite3.Connection, manager_id: str) -> tuple[str, str] | None:
        """The (connection, calendar) a manager's SMVue meetings are written to, inside the caller's
        transaction: a syncable connection with credentials, connected first, its primary calendar first."""
        marks = ",".join("?" * len(SYNCABLE))
        row = conn.execute(
            f"""SELECT c.connection_id, cal.calendar_id FROM connections c
                JOIN calendars cal ON cal.connection_id = c.connection_id
                WHERE c.manager_id = ? AND c.status IN ({marks}) AND c.secret IS NOT NULL
                ORDER BY c.status = 'connected' DESC, cal.is_primary DESC, cal.is_selected DESC, c.created_at
                LIMIT 1""",
            (manager_id, *SYNCABLE),
        ).fetchone()
        return None if row is None else (row["connection_id"], row["calendar_id"])

    def set_status(
        self, connection_id: str, status: str, error: str | None = None, synced: bool = False
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown connection status {status!r}")
        now = now_iso()
        with self.store.transaction() as conn:
            # A disconnected connection stays disconnected whatever a late sync reports.
            conn.execute(
                f"""UPDATE connections SET status = ?, last_error = ?, updated_at = ?
                       {", last_synced_at = ?" if synced else ""}
                   WHERE connection_id = ? AND status <> 'disconnected'""",
                (status, error, now, *((now,) if synced else ()), connection_id),
            )

    def mark_disconnected(self, connection_id: str) -> Connection | None:
        """First step of a disconnect (F15): syncs and notifications stop at once.

        The encrypted credentials stay for now: stopping the connection's watches needs them
        (`forget_credentials` removes them once that is done). None when the id is unknown.
        """
        now = now_iso()
        with self.store.transaction() as conn:
            conn.execute(
                """UPDATE connections SET status = 'disconnected', disconnected_at = COALESCE(
                       CASE WHEN status = 'disconnected' THEN disconnected_at END, ?), updated_at = ?
                   WHERE connection_id = ?""",
                (now, now, connection_id),
            )
        return self.get(connection_id)

    def forget_credentials(
        self, connection_id: str, revoke_state: str | None = None, revoke_error: str | None = None
    ) -> bool:
        """Delete a disconnected connection's stored tokens, noting how their revoke ended; a
        reconnected one keeps its new ones."""
        if revoke_state is not None and revoke_state not in REVOKE_STATES:
            raise ValueError(f"unknown revoke state {revoke_state!r}")
        # A given-up revoke stays in last_error (the grant may still work at the provider); a
        # pending one's note goes once the revoke went through.
        note = f"token revoke given up: {revoke_error}" if revoke_state == "given_up" else None
        with self.store.transaction() as conn:
            cur = conn.execute(
                """UPDATE connections SET secret = NULL, updated_at = ?,
                       revoke_state = coalesce(?, revoke_state), revoke_error = ?,
                       last_error = CASE WHEN CAST(? AS TEXT) IS NOT NULL THEN ?
                                         WHEN revoke_state = 'pending' THEN NULL ELSE last_error END
                   WHERE connection_id = ? AND status = 'disconnected' AND secret IS NOT NULL""",
                (now_iso(), revoke_state, revoke_error, note, note, connection_id),
            )
            return cur.rowcount > 0

    def record_revoke_failure(self, connection_id: str, error: str) -> int:
        """A revoke attempt failed: the (still encrypted) tokens stay for the next attempt, and the
        connection shows it. Returns the attempts made so far."""
        with self.store.transaction() as conn:
            conn.execute(
                """UPDATE connections SET revoke_state = 'pending', revoke_attempts = revoke_attempts + 1,
                       revoke_error = ?, last_error = ?, updated_at = ?
                   WHERE connection_id = ? AND status = 'disconnected' AND secret IS NOT NULL""",
                (error, f"token revoke pending: {error}", now_iso(), connection_id),
            )
            row = conn.execute(
                "SELECT revoke_attempts FROM connections WHERE connection_id = ?", (connection_id,)
            ).fetchone()
        return row["revoke_attempts"] if row else 0

    def disconnected_holding_credentials(self) -> list[Connection]:
        """Disconnects still waiting for their watches to stop, or for their revoke, before the tokens go."""
        rows = self.store.query(
            "SELECT * FROM connections WHERE status = 'disconnected' AND secret IS NOT NULL ORDER BY connection_id"
        )
        return [_row_to_connection(r) for r in rows]

    def record_error(self, connection_id: str, error: str) -> None:
        """Note a problem (a watch the provider refused) without changing the status."""
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE connections SET last_error = ?, updated_at = ? WHERE connection_id = ?",
                (error, now_iso(), connection_id),
            )

    def disconnect(self, connection_id: str) -> None:
        """Forget the credentials and stop syncing at once; meetings and events stay.

        The gateway disconnects through `ConnectService.disconnect`, which stops the watches first.
        """
        now = now_iso()
        with self.store.transaction() as conn:
            conn.execute(
                """UPDATE connections SET status = 'disconnected', secret = NULL, disconnected_at = ?,
                       updated_at = ? WHERE connection_id = ?""",
                (now, now, connection_id),
            )

    # --- credentials -------------------------------------------------------------------------
    def credentials(self, connection_id: str) -> str | None:
        row = self.store.query_one("SELECT secret FROM connections WHERE connection_id = ?", (connection_id,))
        if row is None or row["secret"] is None:
            return None
        return self.cipher.decrypt(row["secret"])

    def save_credentials(self, connection_id: str, credentials: str) -> None:
        """Store refreshed credentials (refresh tokens rotate), unless the connection was disconnected."""
        secret = self.cipher.encrypt(credentials)
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE connections SET secret = ?, updated_at = ? WHERE connection_id = ? AND secret IS NOT NULL",
                (secret, now_iso(), connection_id),
            )

    def rotate_secrets(self) -> int:
        """Re-encrypt every stored secret under the primary key (after a new key was put first)."""
        rotated = 0
        with self.store.transaction() as conn:
            for row in conn.execute("SELECT connection_id, secret FROM connections WHERE secret IS NOT NULL"):
                conn.execute(
                    "UPDATE connections SET secret = ? WHERE connection_id = ?",
                    (self.cipher.rotate(row["secret"]), row["connection_id"]),
                )
                rotated += 1
            for row in conn.execute("SELECT state, flow FROM oauth_states"):
                conn.execute(
                    "UPDATE oauth_states SET flow = ? WHERE state = ?",
                    (self.cipher.rotate(row["flow"]), row["state"]),
                )
                rotated += 1
        return rotated

    # --- calendars ---------------------------------------------------------------------------
    def save_calendars(
        self, connection_id: str, calendars: list[CalendarInfo], selected: set[str] | None = None
    ) -> None:
        """Record the account's calendars; the primary one is selected by default (F3)."""
        now = now_iso()
        with self.store.transaction() as conn:
            for cal in calendars:
                is_selected = cal.is_primary if selected is None else cal.calendar_id in selected
                conn.execute(
                    """INSERT INTO calendars (connection_id, calendar_id, name, is_primary, is_selected, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (connection_id, calendar_id) DO UPDATE SET
                           name = excluded.name, is_primary = excluded.is_primary,
                           is_selected = CASE WHEN ? THEN excluded.is_selected ELSE calendars.is_selected END,
                           updated_at = excluded.updated_at""",
                    (
                        connection_id,
                        cal.calendar_id,
                        cal.name,
                        int(cal.is_primary),
                        int(is_selected),
                        now,
                        selected is not None,
                    ),
                )

    def select_calendars(self, connection_id: str, calendar_ids: set[str]) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE calendars SET is_selected = CASE WHEN calendar_id IN (SELECT value FROM json_each(?)) THEN 1 ELSE 0 END "
                "WHERE connection_id = ?",
                (_json_list(calendar_ids), connection_id),
            )

    def forget_calendar(self, connection_id: str, calendar_id: str) -> None:
        """The provider deleted the calendar: stop syncing it, and hand its watches to the watch
        maintenance (the gateway's worker stops every watch left `stopping`)."""
        now = now_iso()
        with self.store.transaction() as conn:
            conn.execute(
                "DELETE FROM calendars WHERE connection_id = ? AND calendar_id = ?",
                (connection_id, calendar_id),
            )
            conn.execute(
                """UPDATE watches SET state = 'stopping', updated_at = ?
                   WHERE connection_id = ? AND calendar_id = ? AND state = 'active'""",
                (now, connection_id, calendar_id),
            )
        log.info(
            "connection %s: calendar %s deleted at the provider, no longer synced", connection_id, calendar_id
        )

    def calendar_listing(self, connection_id: str) -> list[dict]:
        """Every calendar of the connection with its selection flag (for the app API)."""
        rows = self.store.query(
            "SELECT calendar_id, name, is_primary, is_selected FROM calendars WHERE connection_id = ? "
            "ORDER BY is_primary DESC, name",
            (connection_id,),
        )
        return [
            {
                "calendar_id": r["calendar_id"],
                "name": r["name"],
                "is_primary": bool(r["is_primary"]),
                "is_selected": bool(r["is_selected"]),
            }
            for r in rows
        ]

    def calendars(self, connection_id: str, selected_only: bool = True) -> list[CalendarInfo]:
        rows = self.store.query(
            "SELECT calendar_id, name, is_primary FROM calendars WHERE connection_id = ?"
            + (" AND is_selected = 1" if selected_only else "")
            + " ORDER BY is_primary DESC, name",
            (connection_id,),
        )
        return [CalendarInfo(r["calendar_id"], r["name"], bool(r["is_primary"])) for r in rows]


def _json_list(values: set[str]) -> str:
    import json

    return json.dumps(sorted(values))

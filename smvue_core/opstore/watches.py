"""Push channels and subscriptions as the store keeps them: one row per watch, its secret only as a
digest (smvue_core/security/watch_secrets.py). What to do with them is smvue_core/watches.py's job.

Times are stored in the one fixed-width UTC form (smvue_core/clock.py), so the expiry and
creation comparisons below are plain text comparisons inside SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from smvue_core.clock import iso_utc
from smvue_core.opstore.db import OpStore


@dataclass(frozen=True)
class Watch:
    watch_id: str
    connection_id: str
    calendar_id: str
    provider: str
    resource_id: str | None
    expires_at: str
    state: str
    stop_attempts: int
    last_error: str | None
    created_at: str


class WatchRepository:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    # --- reading -----------------------------------------------------------------------------
    def get(self, watch_id: str) -> Watch | None:
        row = self.store.query_one("SELECT * FROM watches WHERE watch_id = ?", (watch_id,))
        return _watch(row) if row else None

    def list(self, connection_id: str | None = None, states: tuple[str, ...] | None = None) -> list[Watch]:
        sql, params = "SELECT * FROM watches WHERE 1 = 1", []
        if connection_id is not None:
            sql += " AND connection_id = ?"
            params.append(connection_id)
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(states)
        rows = self.store.query(sql + " ORDER BY connection_id, calendar_id, created_at", tuple(params))
        return [_watch(r) for r in rows]

    def live(self, connection_id: str, now: datetime) -> list[Watch]:
        """The connection's active watches that have not expired at `now`."""
        rows = self.store.query(
            "SELECT * FROM watches WHERE connection_id = ? AND state = 'active' AND expires_at > ?",
            (connection_id, iso_utc(now)),
        )
        return [_watch(r) for r in rows]

    def due_for_renewal(self, expiring_by: datetime) -> list[Watch]:
        """The newest active watch of each calendar of a watchable connection, when it expires by
        `expiring_by` (older ones of the same calendar are overlaps, ended by `overlapped`)."""
        rows = self.store.query(
            """SELECT w.* FROM watches w
               JOIN connections c ON c.connection_id = w.connection_id
               WHERE w.state = 'active' AND w.expires_at <= ?
                 AND c.status IN ('connected', 'syncing', 'error')
                 AND w.created_at = (SELECT max(created_at) FROM watches x WHERE x.state = 'active'
                                     AND x.connection_id = w.connection_id AND x.calendar_id = w.calendar_id)
               ORDER BY w.connection_id""",
            (iso_utc(expiring_by),),
        )
        return [_watch(r) for r in rows]

    def overlapped(self, newer_created_by: datetime) -> list[Watch]:
        """Active watches of a calendar that has a newer active watch created by `newer_created_by`."""
        rows = self.store.query(
            """SELECT w.* FROM watches w
               WHERE w.state = 'active' AND EXISTS (
                   SELECT 1 FROM watches n WHERE n.state = 'active' AND n.connection_id = w.connection_id
                   AND n.calendar_id = w.calendar_id AND n.created_at > w.created_at AND n.created_at <= ?)""",
            (iso_utc(newer_created_by),),
        )
        return [_watch(r) for r in rows]

    # --- writing -----------------------------------------------------------------------------
    def save_active(
        self,
        *,
        watch_id: str,
        connection_id: str,
        calendar_id: str,
        provider: str,
        resource_id: str | None,
        secret_sha256: str,
        expires_at: datetime,
        tenant_id: str | None,
        owner_id: str | None,
        now: datetime,
    ) -> None:
        """Record a watch the provider just opened (or reopened under the same id) as active."""
        stamp = iso_utc(now)
        with self.store.transaction() as conn:
            conn.execute(
                """INSERT INTO watches (watch_id, connection_id, calendar_id, provider, resource_id,
                       secret_sha256, expires_at, state, created_at, updated_at, tenant_id, owner_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)
                   ON CONFLICT (watch_id) DO UPDATE SET resource_id = excluded.resource_id,
                       secret_sha256 = excluded.secret_sha256, expires_at = excluded.expires_at,
                       state = 'active', last_error = NULL, updated_at = excluded.updated_at,
                       tenant_id = excluded.tenant_id, owner_id = excluded.owner_id""",
                (
                    watch_id,
                    connection_id,
                    calendar_id,
                    provider,
                    resource_id,
                    secret_sha256,
                    iso_utc(expires_at),
                    stamp,
                    stamp,
                    tenant_id,
                    owner_id,
                ),
            )

    def extend(
        self, watch_id: str, expires_at: datetime, tenant_id: str | None, owner_id: str | None, now: datetime
    ) -> None:
        """A renewed subscription (same id, same secret) lives until `expires_at`; one created before
        its tenant and owner were recorded gets them now."""
        with self.store.transaction() as conn:
            conn.execute(
                """UPDATE watches SET expires_at = ?, last_error = NULL, updated_at = ?,
                       tenant_id = COALESCE(tenant_id, ?), owner_id = COALESCE(owner_id, ?)
                   WHERE watch_id = ?""",
                (iso_utc(expires_at), iso_utc(now), tenant_id, owner_id, watch_id),
            )

    def mark_connection_stopping(self, connection_id: str, now: datetime) -> None:
        """Every active watch of the connection is to be stopped."""
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE watches SET state = 'stopping', updated_at = ? WHERE connection_id = ? AND state = 'active'",
                (iso_utc(now), connection_id),
            )

    def record_stop_failure(self, watch_id: str, error: str, now: datetime) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                """UPDATE watches SET stop_attempts = stop_attempts + 1, last_error = ?, updated_at = ?
                   WHERE watch_id = ?""",
                (error, iso_utc(now), watch_id),
            )

    def note_error(self, watch_ids: Sequence[str], error: str, now: datetime) -> None:
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE watches SET last_error = ?, updated_at = ? WHERE watch_id = ?",
                [(error, iso_utc(now), w) for w in watch_ids],
            )

    def set_state(self, watch_ids: Sequence[str], state: str, note: str | None, now: datetime) -> None:
        """Move the watches to `state`; `note`, when given, replaces their last error."""
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE watches SET state = ?, last_error = COALESCE(?, last_error), updated_at = ? WHERE watch_id = ?",
                [(state, note, iso_utc(now), w) for w in watch_ids],
            )


def _watch(row) -> Watch:
    return Watch(
        watch_id=row["watch_id"],
        connection_id=row["connection_id"],
        calendar_id=row["calendar_id"],
        provider=row["provider"],
        resource_id=row["resource_id"],
        expires_at=row["expires_at"],
        state=row["state"],
        stop_attempts=row["stop_attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
    )

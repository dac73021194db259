"""SMVue-scheduled meetings (F14) and the idempotency keys of the requests that made them.

Every change writes the meeting row (its version + 1) and an outbox row in ONE transaction: the
calling code opens it (`store.transaction()`) and passes the connection, so a request's
idempotency record, meeting and outbox row commit together or not at all.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from smvue_core.clock import iso_utc, parse_utc
from smvue_core.opstore.db import OpStore
from smvue_core.opstore.outbox import Outbox


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    manager_id: str
    rep_id: str
    connection_id: str | None
    calendar_id: str | None
    title: str
    meeting_type: str | None
    start_at: datetime
    end_at: datetime
    status: str  # scheduled | cancelled
    provider_event_id: str | None
    writeback_state: str  # pending | synced | failed
    writeback_error: str | None
    version: int
    created_at: str
    updated_at: str
    calendar_updated_at: datetime | None


def _meeting(row: sqlite3.Row) -> Meeting:
    return Meeting(
        meeting_id=row["meeting_id"],
        manager_id=row["manager_id"],
        rep_id=row["rep_id"],
        connection_id=row["connection_id"],
        calendar_id=row["calendar_id"],
        title=row["title"],
        meeting_type=row["meeting_type"],
        start_at=parse_utc(row["start_at"]),  # type: ignore[arg-type]
        end_at=parse_utc(row["end_at"]),  # type: ignore[arg-type]
        status=row["status"],
        provider_event_id=row["provider_event_id"],
        writeback_state=row["writeback_state"],
        writeback_error=row["writeback_error"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        calendar_updated_at=parse_utc(row["calendar_updated_at"]),
    )


def new_meeting_id() -> str:
    return f"mtg_{uuid.uuid4().hex}"


class MeetingRepository:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    # --- reading -----------------------------------------------------------------------------
    def get(self, meeting_id: str, conn: sqlite3.Connection | None = None) -> Meeting | None:
        row = (
            (conn or self.store.connection())
            .execute("SELECT * FROM meetings WHERE meeting_id = ?", (meeting_id,))
            .fetchone()
        )
        return _meeting(row) if row else None

    def synced_with_events(self) -> list[Meeting]:
        """Meetings whose event is on the calendar as SMVue last wrote it: what backflow compares."""
        rows = self.store.query(
            "SELECT * FROM meetings WHERE writeback_state = 'synced' AND provider_event_id IS NOT NULL"
        )
        return [_meeting(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self.store.query(
            "SELECT writeback_state, count(*) AS n FROM meetings GROUP BY writeback_state"
        )
        return {r["writeback_state"]: r["n"] for r in rows}

    # --- changes from the API (meeting row + outbox row, one transaction) --------------------
    @staticmethod
    def schedule(
        conn: sqlite3.Connection,
        *,
        manager_id: str,
        rep_id: str,
        connection_id: str,
        calendar_id: str,
        title: str,
        meeting_type: str | None,
        start_at: datetime,
        end_at: datetime,
        now: datetime,
        meeting_id: str | None = None,
    ) -> str:
        meeting_id = meeting_id or new_meeting_id()
        stamp = iso_utc(now)
        conn.execute(
            """INSERT INTO meetings (meeting_id, manager_id, rep_id, connection_id, calendar_id, title,
                   meeting_type, start_at, end_at, status, writeback_state, version, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', 'pending', 1, ?, ?)""",
            (
                meeting_id,
                manager_id,
                rep_id,
                connection_id,
                calendar_id,
                title,
                meeting_type,
                iso_utc(start_at),
                iso_utc(end_at),
                stamp,
                stamp,
            ),
        )
        Outbox.enqueue(conn, meeting_id, "create", 1, now)
        return meeting_id

    @staticmethod
    def reschedule(
        conn: sqlite3.Connection, meeting: Meeting, start_at: datetime, end_at: datetime, now: datetime
    ) -> int:
        """New times, version + 1, an `update` queued. Returns the new version."""
        version = meeting.version + 1
        conn.execute(
            """UPDATE meetings SET start_at = ?, end_at = ?, version = ?, writeback_state = 'pending',
                   writeback_error = NULL, updated_at = ?
               WHERE meeting_id = ?""",
            (iso_utc(start_at), iso_utc(end_at), version, iso_utc(now), meeting.meeting_id),
        )
        Outbox.enqueue(conn, meeting.meeting_id, "update", version, now)
        return version

    @staticmethod
    def cancel(conn: sqlite3.Connection, meeting: Meeting, now: datetime) -> int:
        version = meeting.version + 1
        conn.execute(
            """UPDATE meetings SET status = 'cancelled', version = ?, writeback_state = 'pending',
                   writeback_error = NULL, updated_at = ?
               WHERE meeting_id = ?""",
            (version, iso_utc(now), meeting.meeting_id),
        )
        Outbox.enqueue(conn, meeting.meeting_id, "cancel", version, now)
        return version

    @staticmethod
    def set_type(conn: sqlite3.Connection, meeting_id: str, meeting_type: str | None, now: datetime) -> None:
        """The meeting's own type (no calendar write: the type is SMVue's, not the event's)."""
        conn.execute(
            "UPDATE meetings SET meeting_type = ?, updated_at = ? WHERE meeting_id = ?",
            (meeting_type, iso_utc(now), meeting_id),
        )

    # --- outcomes from write-back ------------------------------------------------------------
    @staticmethod
    def record_synced(
        conn: sqlite3.Connection,
        meeting_id: str,
        version: int,
        event_id: str | None,
        calendar_updated_at: datetime | None,
        now: datetime,
    ) -> None:
        """The calendar holds `version`. The event id is kept whatever the version (a newer change
        must find the event this write made); the state turns synced only if nothing newer waits."""
        conn.execute(
            """UPDATE meetings SET
                   provider_event_id = coalesce(?, provider_event_id),
                   calendar_updated_at = CASE WHEN CAST(? AS TEXT) IS NOT NULL
                       AND (calendar_updated_at IS NULL OR calendar_updated_at < ?) THEN ? ELSE calendar_updated_at END,
                   writeback_state = CASE WHEN version = ? THEN 'synced' ELSE writeback_state END,
                   writeback_error = CASE WHEN version = ? THEN NULL ELSE writeback_error END,
                   updated_at = ?
               WHERE meeting_id = ?""",
            (
                event_id,
                *(3 * [iso_utc(calendar_updated_at) if calendar_updated_at else None]),
                version,
                version,
                iso_utc(now),
                meeting_id,
            ),
        )

    @staticmethod
    def record_failed(
        conn: sqlite3.Connection, meeting_id: str, version: int, error: str, now: datetime
    ) -> None:
        conn.execute(
            """UPDATE meetings SET writeback_state = 'failed', writeback_error = ?, updated_at = ?
               WHERE meeting_id = ? AND version = ?""",
            (error, iso_utc(now), meeting_id, version),
        )

    # --- changes from the calendar (meeting_backflow) ----------------------------------------
    def apply_calendar_change(
        self,
        meeting_id: str,
        expected_version: int,
        *,
        start_at: datetime | None,
        end_at: datetime | None,
        cancelled: bool,
        calendar_updated_at: datetime | None,
        now: datetime,
    ) -> bool:
        """The calendar wins for changes made there: take its times or its cancellation, without a
        write-back (the calendar already says so). Skipped when the meeting changed since it was
        read or a change of SMVue's own still waits to be written."""
        with self.store.transaction() as conn:
            current = self.get(meeting_id, conn)
            if current is None or current.version != expected_version or Outbox.has_pending(conn, meeting_id):
                return False
            conn.execute(
                """UPDATE meetings SET
                       start_at = coalesce(?, start_at), end_at = coalesce(?, end_at),
                       status = CASE WHEN ? THEN 'cancelled' ELSE status END,
                       calendar_updated_at = coalesce(?, calendar_updated_at),
                       version = version + 1, updated_at = ?
                   WHERE meeting_id = ?""",
                (
                    iso_utc(start_at) if start_at else None,
                    iso_utc(end_at) if end_at else None,
                    bool(cancelled),
                    iso_utc(calendar_updated_at) if calendar_updated_at else None,
                    iso_utc(now),
                    meeting_id,
                ),
            )
        return True


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int
    response_json: str


class IdempotencyKeys:
    """The first answer to a request made with an `Idempotency-Key`, replayed to its retries.

    A key is kept for at least `RETENTION` (a client retries within minutes; a day covers an app
    that was offline overnight), then pruned, so the table does not grow with every request ever
    made. A request reusing a pruned key is a new request."""

    RETENTION = timedelta(hours=24)

    @staticmethod
    def get(conn: sqlite3.Connection, key: str) -> StoredResponse | None:
        row = conn.execute(
            "SELECT request_hash, status_code, response_json FROM idempotency_keys WHERE idempotency_key = ?",
            (key,),
        ).fetchone()
        return StoredResponse(row["request_hash"], row["status_code"], row["response_json"]) if row else None

    @staticmethod
    def put(
        conn: sqlite3.Connection,
        key: str,
        request_hash: str,
        status_code: int,
        response_json: str,
        now: datetime,
    ) -> None:
        conn.execute(
            """INSERT INTO idempotency_keys (idempotency_key, request_hash, status_code, response_json, created_at)
               VALUES (?, ?, ?, ?, ?)""",
            (key, request_hash, status_code, response_json, iso_utc(now)),
        )

    @classmethod
    def prune(cls, store: OpStore, now: datetime) -> int:
        """Delete the keys older than `RETENTION`; returns how many went."""
        with store.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at < ?", (iso_utc(now - cls.RETENTION),)
            )
            return gone.rowcount

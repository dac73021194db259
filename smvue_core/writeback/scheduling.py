"""What the meetings API does (F14, F16), apart from HTTP: validate, then change the meeting and
queue its write-back in one operational-store transaction.

Errors carry the field they are about; the gateway answers them as 4xx `{"error": "<field>: …"}`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from smvue_core.clock import now_utc
from smvue_core.opstore import OpStore
from smvue_core.opstore.annotations import Annotation, AnnotationRepository
from smvue_core.opstore.connections import ConnectionRepository
from smvue_core.opstore.meetings import IdempotencyKeys, Meeting, MeetingRepository
from smvue_core.opstore.outbox import Outbox, OutboxItem
from smvue_core.opstore.roster import RosterRepository

MAX_DURATION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class MeetingError(Exception):
    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Invalid(MeetingError):
    status = 422


class NotFound(MeetingError):
    status = 404


class Conflict(MeetingError):
    status = 409


@dataclass(frozen=True)
class ScheduleRequest:
    manager_id: str
    rep_id: str
    start: datetime
    end: datetime
    title: str
    meeting_type: str | None = None


@dataclass(frozen=True)
class Accepted:
    """The answer to a change: 202 with the meeting id and its write-back state."""

    status_code: int
    meeting_id: str
    writeback: str
    replayed: bool = False

    def body(self) -> dict:
        return {"meeting_id": self.meeting_id, "writeback": self.writeback}


@dataclass(frozen=True)
class AnnotationResult:
    annotation: Annotation
    source: str  # smvue | calendar


@dataclass(frozen=True)
class MeetingView:
    meeting: Meeting
    latest: OutboxItem | None
    annotation: Annotation | None


def _times(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise Invalid(name, "must include a time zone offset (e.g. 2026-01-05T09:00:00+01:00)")
    # Calendars keep whole seconds; so does SMVue, so a round trip compares equal.
    start, end = start.astimezone(UTC).replace(microsecond=0), end.astimezone(UTC).replace(microsecond=0)
    if end <= start:
        raise Invalid("end", "must be after start")
    if end - start > MAX_DURATION:
        raise Invalid("end", "a meeting lasts at most 24 hours")
    return start, end


def request_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class MeetingService:
    def __init__(
        self,
        store: OpStore,
        published_path: str | Path | None = None,
        warehouse_key: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.published_path = Path(published_path) if published_path else None
        self.warehouse_key = warehouse_key
        self.clock = clock or now_utc
        self.on_change = on_change or (lambda: None)
        self.meetings = MeetingRepository(store)
        self.annotations = AnnotationRepository(store)
        self.outbox = Outbox(store)

    # --- schedule, reschedule, cancel --------------------------------------------------------
    def schedule(self, request: ScheduleRequest, idempotency_key: str | None = None) -> Accepted:
        start, end = _times(request.start, request.end)
        title = request.title.strip()
        if not title:
            raise Invalid("title", "must not be empty")
        meeting_type = (request.meeting_type or "").strip() or None
        if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_KEY_LENGTH):
            raise Invalid("Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} characters")
        fingerprint = request_hash(
            {
                "op": "POST /v1/meetings",
                "manager_id": request.manager_id,
                "rep_id": request.rep_id,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "title": title,
                "meeting_type": meeting_type,
            }
        )
        now = self.clock()
        # One transaction: the key's answer, the meeting and its outbox row commit together, so
        # concurrent retries of one request see either nothing or everything.
        with self.store.transaction() as conn:
            if idempotency_key is not None:
                stored = IdempotencyKeys.get(conn, idempotency_key)
                if stored is not None:
                    if stored.request_hash != fingerprint:
                        raise Invalid("Idempotency-Key", "already used for a different request")
                    body = json.loads(stored.response_json)
                    return Accepted(stored.status_code, body["meeting_id"], body["writeback"], replayed=True)
            connection_id, calendar_id = self._validate_people(conn, request.manager_id, request.rep_id)
            meeting_id = MeetingRepository.schedule(
                conn,
                manager_id=request.manager_id,
                rep_id=request.rep_id,
                connection_id=connection_id,
                calendar_id=calendar_id,
                title=title,
                meeting_type=meeting_type,
                start_at=start,
                end_at=end,
                now=now,
            )
            accepted = Accepted(202, meeting_id, "pending")
            if idempotency_key is not None:
                IdempotencyKeys.put(
                    conn, idempotency_key, fingerprint, accepted.status_code, json.dumps(accepted.body()), now
                )
        self.on_change()
        return accepted

    def reschedule(self, meeting_id: str, start: datetime, end: datetime) -> Accepted:
        start, end = _times(start, end)
        self._require_own(meeting_id, "reschedule")
        with self.store.transaction() as conn:
            meeting = self.meetings.get(meeting_id, conn)
            assert meeting is not None  # meetings are never deleted
            if meeting.status == "cancelled":
                raise Conflict("meeting_id", f"meeting {meeting_id} is cancelled; schedule a new one")
            if (meeting.start_at, meeting.end_at) == (start, end) and meeting.writeback_state != "failed":
                return Accepted(202, meeting_id, meeting.writeback_state)  # nothing changes
            # (The same times again after a failed write-back: the app's way to retry it.)
            MeetingRepository.reschedule(conn, meeting, start, end, self.clock())
        self.on_change()
        return Accepted(202, meeting_id, "pending")

    def cancel(self, meeting_id: str) -> Accepted:
        self._require_own(meeting_id, "cancel")
        with self.store.transaction() as conn:
            meeting = self.meetings.get(meeting_id, conn)
            assert meeting is not None  # meetings are never deleted
            if meeting.status == "cancelled" and meeting.writeback_state != "failed":
                return Accepted(202, meeting_id, meeting.writeback_state)  # already cancelled
            MeetingRepository.cancel(conn, meeting, self.clock())
        self.on_change()
        return Accepted(202, meeting_id, "pending")

    def get(self, meeting_id: str) -> MeetingView:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            if self.is_calendar_one_on_one(meeting_id):
                raise NotFound(
                    "meeting_id",
                    f"{meeting_id} is a calendar 1:1, not a meeting scheduled in SMVue "
                    "(see analytics.one_on_one_meetings)",
                )
            raise NotFound("meeting_id", f"no meeting {meeting_id!r}")
        return MeetingView(meeting, self.outbox.latest(meeting_id), self.annotations.get(meeting_id))

    # --- annotations (F16): SMVue meetings and calendar 1:1s alike ----------------------------
    def archive(self, one_on_one_id: str, archived: bool = True) -> AnnotationResult:
        source = self._annotatable(one_on_one_id)
        return AnnotationResult(self.annotations.set_archived(one_on_one_id, archived, self.clock()), source)

    def set_type(self, one_on_one_id: str, meeting_type: str | None) -> AnnotationResult:
        meeting_type = (meeting_type or "").strip() or None
        source = self._annotatable(one_on_one_id)
        now = self.clock()
        with self.store.transaction() as conn:
            if source == "smvue":
                MeetingRepository.set_type(conn, one_on_one_id, meeting_type, now)
            return AnnotationResult(self.annotations.set_type(one_on_one_id, meeting_type, now, conn), source)

    # --- helpers -----------------------------------------------------------------------------
    def _validate_people(self, conn, manager_id: str, rep_id: str) -> tuple[str, str]:
        """The manager's connection and calendar to write to; every reason not to, by field."""
        if not RosterRepository.has_manager(conn, manager_id):
            raise Invalid("manager_id", f"no manager {manager_id!r}")
        reps_manager = RosterRepository.manager_of(conn, rep_id)
        if reps_manager is None:
            raise Invalid("rep_id", f"no rep {rep_id!r}")
        if reps_manager != manager_id:
            raise Invalid("rep_id", f"rep {rep_id!r} is not on manager {manager_id!r}'s team")
        target = ConnectionRepository.write_target(conn, manager_id)
        if target is None:
            raise Invalid("manager_id", f"manager {manager_id!r} has no connected calendar")
        return target

    def _require_own(self, meeting_id: str, verb: str) -> None:
        """An SMVue meeting, or the reason it is not (checked before any write transaction opens:
        the snapshot lookup must not hold the store's write lock)."""
        if self.meetings.get(meeting_id) is not None:
            return
        if self.is_calendar_one_on_one(meeting_id):
            raise Conflict(
                "meeting_id",
                f"{meeting_id} is a 1:1 from the manager's calendar, not scheduled in SMVue; "
                f"{verb} it in the calendar",
            )
        raise NotFound("meeting_id", f"no meeting {meeting_id!r}")

    def _annotatable(self, one_on_one_id: str) -> str:
        """`smvue` for an SMVue meeting, `calendar` for a calendar 1:1; NotFound for anything else."""
        if self.meetings.get(one_on_one_id) is not None:
            return "smvue"
        if self.is_calendar_one_on_one(one_on_one_id):
            return "calendar"
        raise NotFound("meeting_id", f"no meeting or 1:1 {one_on_one_id!r}")

    def is_calendar_one_on_one(self, one_on_one_id: str) -> bool:
        """Looked up read-only in the published snapshot (never the warehouse: a run may hold it)."""
        if self.published_path is None or not self.published_path.exists():
            return False
        import duckdb

        from smvue_core.warehouse.database import open_database

        try:
            con = open_database(self.published_path, self.warehouse_key, read_only=True)
        except duckdb.Error:
            return False
        try:
            row = con.execute(
                "SELECT 1 FROM analytics.one_on_one_meetings WHERE one_on_one_id = ? AND source = 'calendar' LIMIT 1",
                [one_on_one_id],
            ).fetchone()
        except duckdb.CatalogException:
            return False  # no 1:1 table published yet
        finally:
            con.close()
        return row is not None

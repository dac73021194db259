"""The write-back worker: claim due outbox rows under a lease, write the calendar, record the outcome.

Runs as threads inside the gateway (webhook_gateway/writeback_worker.py) or as its own process
(`python -m smvue_core.writeback`). Any number of them can share one operational store: claims
are transactions, and a meeting is only ever held by one lease. A worker killed mid-write leaves a
lease that lapses; whoever takes the row over looks the event up by tag before creating anything.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from smvue_core.clock import now_utc
from smvue_core.opstore import OpStore
from smvue_core.opstore.connections import ConnectionRepository
from smvue_core.opstore.meetings import Meeting, MeetingRepository
from smvue_core.opstore.outbox import Claim, Outbox
from smvue_core.opstore.roster import RosterRepository
from smvue_core.providers.base import (
    CalendarProvider,
    EventConflict,
    EventNotFound,
    MeetingSpec,
    ProviderError,
    ProviderSession,
    ProviderUnavailable,
    ReauthRequired,
)
from smvue_core.security.cipher import TokenCipher
from smvue_core.settings import Settings
from smvue_core.writeback import failpoints
from smvue_core.writeback.job import EventGone, Refused, Written, write_meeting

log = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """Nothing to retry: the meeting, its rep or its connection is not in a state to be written."""


@dataclass(frozen=True)
class WorkerConfig:
    lease_seconds: float = 120.0  # longer than the slowest provider call, client retries included
    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 300.0
    batch: int = 8

    def backoff(self, attempts: int) -> timedelta:
        """Exponential: 2 s, 4 s, 8 s, … capped (attempts counts the one that just failed)."""
        return timedelta(
            seconds=min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (attempts - 1))
        )


def writeback_providers(settings: Settings) -> dict[str, CalendarProvider]:
    """Provider clients tuned for write-back: few in-call retries and short waits, because the outbox
    retries with its own backoff and a lease must outlive the slowest call."""
    from smvue_core.providers.factory import calendar_providers

    quick = {
        "max_attempts": 3,
        "retry_base_seconds": 0.25,
        "retry_cap_seconds": 2.0,
        "max_retry_after_seconds": 10.0,
        "request_timeout_seconds": 20.0,
    }
    return calendar_providers(settings, google=quick, microsoft=quick)


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:500]


class WritebackWorker:
    """One worker; give each thread its own (provider sessions are not shared between threads)."""

    def __init__(
        self,
        store: OpStore,
        cipher: TokenCipher,
        providers: dict[str, CalendarProvider],
        *,
        config: WorkerConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        owner: str | None = None,
        points: frozenset[str] | None = None,
    ) -> None:
        self.store = store
        self.providers = providers
        self.config = config or WorkerConfig()
        self.clock = clock or now_utc
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.points = failpoints.armed() if points is None else points
        self.outbox = Outbox(store)
        self.meetings = MeetingRepository(store)
        self.connections = ConnectionRepository(store, cipher)
        self.roster = RosterRepository(store)
        self._sessions: dict[str, tuple[str, ProviderSession]] = {}

    # --- the loop ----------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim what is due and work through it; returns how many rows were handled."""
        claims = self.outbox.claim(self.owner, self.clock(), self.config.lease_seconds, self.config.batch)
        for claim in claims:
            failpoints.reach("writeback.after_claim", self.points)
            self.process(claim)
        return len(claims)

    def run(self, stop: threading.Event, interval: float = 1.0, wake: threading.Event | None = None) -> None:
        """Until `stop`: drain, then sleep until woken (a new outbox row), the next due row, or
        `interval` — whichever comes first (other processes may enqueue without waking us)."""
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # before claiming, so a row queued meanwhile is never slept through
            try:
                handled = self.run_once()
            except Exception:  # noqa: BLE001 - a worker thread must survive a bad row or a locked store
                log.exception("write-back worker %s: claim round failed", self.owner)
                handled = 0
            if handled:
                continue
            timeout = interval
            due = self.outbox.next_due()
            if due is not None:
                timeout = max(0.0, min(interval, (due - self.clock()).total_seconds()))
            if wake is not None:
                wake.wait(timeout)
            else:
                stop.wait(timeout)

    # --- one row -----------------------------------------------------------------------------
    def process(self, claim: Claim) -> None:
        item = claim.item
        meeting = self.meetings.get(item.meeting_id)
        if meeting is None:
            self._finish(claim, None, "failed", f"meeting {item.meeting_id} does not exist")
            return
        try:
            session = self._session(meeting)
            spec = self._spec(meeting) if meeting.status == "scheduled" else None
            failpoints.reach("writeback.before_provider_call", self.points)
            written = write_meeting(session, meeting, spec, claim.retried)
            failpoints.reach("writeback.after_provider_call", self.points)
        except Refused as exc:
            self._finish(claim, meeting, "refused", f"refused: {_one_line(exc)}")
        except (PermanentFailure, EventGone) as exc:
            self._finish(claim, meeting, "failed", _one_line(exc))
        except ReauthRequired as exc:
            self._finish(
                claim, meeting, "failed", f"calendar connection needs reconnecting: {_one_line(exc)}"
            )
        except (ProviderUnavailable, EventConflict, EventNotFound, OSError) as exc:
            self._retry_or_fail(claim, meeting, exc)
        except ProviderError as exc:  # a 4xx the provider will answer the same way next time
            self._finish(claim, meeting, "failed", f"the provider refused the write: {_one_line(exc)}")
        except Exception as exc:  # noqa: BLE001 - unexpected: retried, then visible as failed
            log.exception("write-back of meeting %s failed unexpectedly", item.meeting_id)
            self._retry_or_fail(claim, meeting, exc)
        else:
            self._synced(claim, meeting, written)

    def _session(self, meeting: Meeting) -> ProviderSession:
        connection = self.connections.get(meeting.connection_id or "")
        if connection is None or connection.status == "disconnected":
            raise PermanentFailure(f"calendar connection {meeting.connection_id} is disconnected")
        credentials = self.connections.credentials(connection.connection_id)
        if credentials is None:
            raise PermanentFailure(
                f"calendar connection {connection.connection_id} has no stored credentials"
            )
        cached = self._sessions.get(connection.connection_id)
        if cached is not None and cached[0] == credentials:
            return cached[1]
        connection_id = connection.connection_id

        def save(fresh: str) -> None:
            self.connections.save_credentials(connection_id, fresh)
            self._sessions[connection_id] = (fresh, session)

        session = self.providers[connection.provider].session(credentials, save)
        self._sessions[connection_id] = (credentials, session)
        return session

    def _spec(self, meeting: Meeting) -> MeetingSpec:
        rep = self.roster.team_member(meeting.rep_id)
        if rep is None:
            raise PermanentFailure(f"rep {meeting.rep_id} is no longer on the roster")
        return MeetingSpec(
            meeting_id=meeting.meeting_id,
            title=meeting.title,
            start_at=meeting.start_at,
            end_at=meeting.end_at,
            attendee_email=rep.email,
            attendee_name=rep.name,
        )

    # --- outcomes ----------------------------------------------------------------------------
    def _synced(self, claim: Claim, meeting: Meeting, written: Written) -> None:
        now = self.clock()
        with self.store.transaction() as conn:
            if Outbox.settle(conn, claim.item.outbox_id, self.owner, "done", None, now):
                MeetingRepository.record_synced(
                    conn, meeting.meeting_id, meeting.version, written.event_id, written.updated_at, now
                )
        log.info(
            "meeting %s v%s: %s event %s",
            meeting.meeting_id,
            meeting.version,
            written.outcome,
            written.event_id,
        )

    def _finish(self, claim: Claim, meeting: Meeting | None, state: str, error: str) -> None:
        now = self.clock()
        with self.store.transaction() as conn:
            if (
                Outbox.settle(conn, claim.item.outbox_id, self.owner, state, error, now)
                and meeting is not None
            ):
                MeetingRepository.record_failed(conn, meeting.meeting_id, meeting.version, error, now)
        log.warning("meeting %s write-back %s: %s", claim.item.meeting_id, state, error)

    def _retry_or_fail(self, claim: Claim, meeting: Meeting, error: BaseException) -> None:
        attempts = claim.item.attempts
        message = f"{type(error).__name__}: {_one_line(error)}"
        if attempts >= self.config.max_attempts:
            self._finish(claim, meeting, "failed", f"gave up after {attempts} attempts: {message}")
            return
        now = self.clock()
        with self.store.transaction() as conn:
            Outbox.retry_later(
                conn, claim.item.outbox_id, self.owner, message, now + self.config.backoff(attempts), now
            )
        log.info(
            "meeting %s write-back attempt %s failed, retrying: %s", meeting.meeting_id, attempts, message
        )

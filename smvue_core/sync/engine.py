"""Syncing calendars: decide full or incremental, fetch through the provider session, apply.

Fetching (network, and turning records into Arrow) runs concurrently across connections; applying
(DuckDB) runs on the caller's thread. Whatever finished fetching while the previous batch was being
written goes into the next transaction together (group commit), and only a bounded number of
connections may be fetched ahead of the writer, which bounds memory. The engine never branches on
the provider.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from smvue_core.providers.base import (
    CalendarGone,
    CalendarInfo,
    CursorExpired,
    EventRecord,
    ProviderError,
    ProviderSession,
    Removal,
    RequestStats,
    SyncWindow,
)
from smvue_core.sync.raw_store import (
    ApplyCounts,
    CalendarChanges,
    SyncState,
    apply_batch,
    events_table,
    load_states,
    purge_calendars_not_kept,
)
from smvue_core.sync.window import sync_window

log = logging.getLogger(__name__)


@dataclass
class CalendarPlan:
    calendar: CalendarInfo
    mode: str  # full | incremental
    reason: str
    cursor: str | None
    window: SyncWindow


@dataclass
class ConnectionJob:
    """One connection to sync: how to open its session, and the calendars to cover."""

    connection_id: str
    provider: str
    open_session: Callable[[], ProviderSession]
    calendars: list[CalendarInfo]
    force_full: bool = False
    # Every calendar SMVue syncs for the connection (`calendars` may be a few of them). When set,
    # rows of any other calendar (deselected by the user, deleted at the provider) are removed.
    keep_only: frozenset[str] | None = None


@dataclass
class FetchedCalendar:
    plan: CalendarPlan
    events: list[EventRecord]
    removals: list[Removal]
    cursor: str | None
    full: bool
    mode: str  # full | incremental | full_after_410


GONE = "gone"  # the calendar was deleted at the provider


@dataclass
class CalendarResult:
    calendar_id: str
    mode: str
    counts: ApplyCounts

    @property
    def gone(self) -> bool:
        return self.mode == GONE


@dataclass
class ConnectionResult:
    connection_id: str
    provider: str
    calendars: list[CalendarResult] = field(default_factory=list)
    stats: RequestStats = field(default_factory=RequestStats)
    error: ProviderError | Exception | None = None
    purged: int = 0  # rows of calendars no longer synced, removed

    @property
    def ok(self) -> bool:
        return self.error is None

    def total(self, attr: str) -> int:
        return sum(getattr(c.counts, attr) for c in self.calendars)


class SyncEngine:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        now: Callable[[], datetime],
        past_days: int = 90,
        future_days: int = 30,
        max_workers: int = 2,
        max_ahead: int = 6,
    ) -> None:
        self.con = con
        # Connections fetched but not yet written, at most: bounds memory, sizes the group commits.
        self.max_ahead = max(1, max_ahead)
        self.now = now
        self.past_days = past_days
        self.future_days = future_days
        self.max_workers = max_workers

    # --- planning ----------------------------------------------------------------------------
    def plan(
        self, state: SyncState | None, calendar: CalendarInfo, force_full: bool, window: SyncWindow
    ) -> CalendarPlan:
        if force_full:
            return CalendarPlan(calendar, "full", "requested", None, window)
        if state is None or not state.cursor:
            return CalendarPlan(calendar, "full", "no cursor yet", None, window)
        if state.window.end < window.end:
            return CalendarPlan(calendar, "full", "window rolled forward", None, window)
        if state.window.start > window.start:
            # More history asked for (past_days raised): a cursor only covers what it listed.
            return CalendarPlan(calendar, "full", "window widened", None, window)
        return CalendarPlan(calendar, "incremental", "cursor", state.cursor, state.window)

    # --- fetching ----------------------------------------------------------------------------
    @staticmethod
    def fetch(session: ProviderSession, plan: CalendarPlan, window: SyncWindow) -> FetchedCalendar:
        calendar_id = plan.calendar.calendar_id
        if plan.mode == "incremental":
            try:
                return _collect(
                    session.incremental_sync(calendar_id, plan.cursor or ""), plan, False, "incremental"
                )
            except CursorExpired:
                log.info("cursor expired for calendar %s; full resync", calendar_id)
                plan = CalendarPlan(plan.calendar, "full", "cursor expired (410)", None, window)
                return _collect(session.full_sync(calendar_id, window), plan, True, "full_after_410")
        return _collect(session.full_sync(calendar_id, plan.window), plan, True, "full")

    # --- running -----------------------------------------------------------------------------
    def run(self, jobs: Iterable[ConnectionJob]) -> list[ConnectionResult]:
        jobs = list(jobs)
        now = self.now()  # one synced_at for the whole run
        # Batches are small and the fetch threads need the other core: one DuckDB thread keeps the
        # writer from competing with them (and keeps its per-thread buffers out of memory).
        previous_threads = self.con.execute("SELECT current_setting('threads')").fetchone()[0]
        self.con.execute("SET threads = 1")
        try:
            return self._run(jobs, now)
        finally:
            self.con.execute(f"SET threads = {int(previous_threads)}")

    def _run(self, jobs: list[ConnectionJob], now: datetime) -> list[ConnectionResult]:
        window = sync_window(now, self.past_days, self.future_days)
        states = load_states(self.con)
        results: dict[str, ConnectionResult] = {}

        def fetch_connection(
            job: ConnectionJob,
        ) -> tuple[list[tuple[str, CalendarChanges]], list[str], RequestStats, Exception | None]:
            ready: list[tuple[str, CalendarChanges]] = []
            gone: list[str] = []  # deleted at the provider: nothing to apply, the purge drops them
            session = None
            try:
                session = job.open_session()
                for calendar in job.calendars:
                    plan = self.plan(
                        states.get((job.connection_id, calendar.calendar_id)),
                        calendar,
                        job.force_full,
                        window,
                    )
                    try:
                        item = self.fetch(session, plan, window)
                    except CalendarGone:
                        log.warning("calendar %s of %s is gone", calendar.calendar_id, job.connection_id)
                        gone.append(calendar.calendar_id)
                        continue
                    # Arrow here, on the fetch thread: the writer then only runs DuckDB (which
                    # releases the GIL), and a fetched calendar waits in compact columns.
                    table = events_table(job.connection_id, job.provider, calendar.name, item.events, now)
                    ready.append(
                        (
                            item.mode,
                            CalendarChanges(
                                connection_id=job.connection_id,
                                provider=job.provider,
                                calendar_id=calendar.calendar_id,
                                events=table,
                                removals=item.removals,
                                cursor=item.cursor,
                                window=window if item.full else item.plan.window,
                                full=item.full,
                            ),
                        )
                    )
            except Exception as exc:  # one connection's failure never stops the others
                # Calendars fetched before the failure are complete (each carries its own cursor),
                # so they are still applied: a calendar that keeps failing does not hold the
                # others back. The request counts go into the run's report either way.
                return ready, gone, session.stats if session else RequestStats(), exc
            finally:
                if session is not None:
                    session.close()
            return ready, gone, session.stats, None

        pending = deque(jobs)
        in_flight: dict = {}
        workers = max(1, min(self.max_workers, len(jobs) or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:

            def top_up() -> None:
                while pending and len(in_flight) < self.max_ahead:
                    job = pending.popleft()
                    in_flight[pool.submit(fetch_connection, job)] = job

            top_up()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                finished = [(in_flight.pop(future), future.result()) for future in done]
                top_up()  # the next fetches run while this batch is written
                batch: list[tuple[ConnectionResult, str, CalendarChanges]] = []
                for job, (ready, gone, stats, error) in finished:
                    result = ConnectionResult(job.connection_id, job.provider, stats=stats, error=error)
                    result.calendars.extend(CalendarResult(c, GONE, ApplyCounts()) for c in gone)
                    results[job.connection_id] = result
                    if error is not None:
                        log.warning("connection %s failed: %s", job.connection_id, type(error).__name__)
                    batch.extend((result, mode, changes) for mode, changes in ready)
                counts = apply_batch(self.con, [changes for _, _, changes in batch], now)
                for (result, mode, changes), tally in zip(batch, counts, strict=True):
                    result.calendars.append(CalendarResult(changes.calendar_id, mode, tally))
        self._purge_calendars_not_kept(jobs, results)
        return [results[job.connection_id] for job in jobs if job.connection_id in results]

    def _purge_calendars_not_kept(
        self, jobs: list[ConnectionJob], results: dict[str, ConnectionResult]
    ) -> None:
        covered = [job for job in jobs if job.keep_only is not None and job.connection_id in results]
        if not covered:
            return
        gone = {(r.connection_id, c.calendar_id) for r in results.values() for c in r.calendars if c.gone}
        kept = [
            (job.connection_id, calendar_id)
            for job in covered
            for calendar_id in sorted(job.keep_only or ())
            if (job.connection_id, calendar_id) not in gone
        ]
        purged = purge_calendars_not_kept(self.con, [job.connection_id for job in covered], kept)
        for connection_id, rows in purged.items():
            results[connection_id].purged = rows


def _collect(pages, plan: CalendarPlan, full: bool, mode: str) -> FetchedCalendar:
    events: list[EventRecord] = []
    removals: list[Removal] = []
    cursor = None
    for page in pages:
        events.extend(page.events)
        removals.extend(page.removals)
        if page.cursor:
            cursor = page.cursor
    # Later pages win: an event listed twice (replays happen) keeps its last version.
    deduped = list({e.event_id: e for e in events}.values())
    return FetchedCalendar(plan, deduped, removals, cursor, full, mode)

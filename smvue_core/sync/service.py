"""Carrying out one sync request: pick the connections and calendars, mark them syncing, run the
engine in the caller's warehouse writer, then record each connection's outcome and settle the
queued changes the run covered — only after the warehouse committed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime

import duckdb

from smvue_core.opstore.connections import SYNCABLE, ConnectionRepository
from smvue_core.opstore.queue import ChangeQueue
from smvue_core.providers.base import CalendarProvider, ReauthRequired
from smvue_core.sync.engine import ConnectionJob, ConnectionResult, SyncEngine
from smvue_core.sync.request import SyncRequest


def select_jobs(
    request: SyncRequest, connections: ConnectionRepository, providers: Mapping[str, CalendarProvider]
) -> list[ConnectionJob]:
    """The connections and calendars this run covers, each with a way to open its session."""
    wanted_calendars: dict[str, set[str]] = defaultdict(set)
    for ref in request.calendars:
        wanted_calendars[ref.connection_id].add(ref.calendar_id)
    wanted = set(request.connection_ids) | set(wanted_calendars)
    jobs = []
    for connection in connections.list(SYNCABLE):
        if wanted and connection.connection_id not in wanted:
            continue
        if not connection.has_credentials:
            continue
        calendars = connections.calendars(connection.connection_id)
        selected = frozenset(c.calendar_id for c in calendars)
        only = wanted_calendars.get(connection.connection_id)
        if only and connection.connection_id not in request.connection_ids:
            calendars = [c for c in calendars if c.calendar_id in only]
        if not calendars:
            continue
        provider = providers[connection.provider]
        jobs.append(
            ConnectionJob(
                connection_id=connection.connection_id,
                provider=connection.provider,
                open_session=_session_opener(provider, connections, connection.connection_id),
                calendars=calendars,
                keep_only=selected,
                force_full=request.forces_full(connection.connection_id),
            )
        )
    return jobs


def _session_opener(provider: CalendarProvider, connections: ConnectionRepository, connection_id: str):
    def open_session():
        credentials = connections.credentials(connection_id)
        if credentials is None:
            raise ReauthRequired("no stored credentials")
        return provider.session(credentials, lambda fresh: connections.save_credentials(connection_id, fresh))

    return open_session


def mark_syncing(jobs: list[ConnectionJob], connections: ConnectionRepository) -> None:
    for job in jobs:
        connections.set_status(job.connection_id, "syncing")


def record_outcomes(
    results: list[ConnectionResult],
    connections: ConnectionRepository,
    queue: ChangeQueue,
    queue_up_to: int,
) -> None:
    """Connection status after the warehouse committed; queued changes settled only then."""
    for result in results:
        for calendar in result.calendars:
            if calendar.gone:
                connections.forget_calendar(result.connection_id, calendar.calendar_id)
        if result.ok:
            connections.set_status(result.connection_id, "connected", synced=True)
            if queue_up_to:
                queue.settle(result.connection_id, [c.calendar_id for c in result.calendars], queue_up_to)
        elif isinstance(result.error, ReauthRequired):
            connections.set_status(
                result.connection_id, "needs_reconnect", error=f"reconnect needed: {result.error}"
            )
        else:
            connections.set_status(result.connection_id, "error", error=one_line(result.error))


def run_sync(
    request: SyncRequest,
    jobs: list[ConnectionJob],
    con: duckdb.DuckDBPyConnection,
    connections: ConnectionRepository,
    queue: ChangeQueue,
    now: Callable[[], datetime],
) -> list[ConnectionResult]:
    """Sync `jobs` (from select_jobs, marked syncing) in the writer `con`, then record outcomes."""
    engine = SyncEngine(
        con,
        now=now,
        past_days=request.past_days,
        future_days=request.future_days,
        max_workers=request.fetch_workers,
    )
    results = engine.run(jobs)
    record_outcomes(results, connections, queue, request.queue_up_to)
    return results


def one_line(error: BaseException | None) -> str:
    """An error as one line of at most 500 characters (status column, logs)."""
    text = f"{type(error).__name__}: {error}" if error else "unknown error"
    return text.splitlines()[0][:500]

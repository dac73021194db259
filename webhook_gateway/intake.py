"""The notification intake: verify, append to the change queue, commit, and only then acknowledge.

Commits are grouped: the first notice of an event-loop iteration schedules one flush, every notice
that arrives before it runs joins the same transaction, and each request awaits its own verdict,
which is set after COMMIT. A burst therefore costs one commit per group instead of one per request.
The flush runs on the event loop itself: a second thread would have to win the GIL back from a busy
loop after every SQLite call, which costs more than the work. Two things keep the loop from
stalling on SQLite: its connection waits at most `busy_timeout_ms` for another writer (then the
notifications are answered 503 and the provider retries), and WAL checkpoints are left to a
worker thread (`checkpoint()`, every second).

Watch rows are cached between transactions. `PRAGMA data_version` changes whenever another
connection (the API, the Dagster daemon, a renewal run) commits, and it is read inside the flush's
own write transaction, so a cached row is never older than the data that transaction sees: a
disconnect committed before a notice's transaction always rejects it. A Google channel's last
accepted message number rides in the same cached row and is advanced in the transaction that
queues the change, so a replayed number is refused however the notices are grouped.

On PostgreSQL (SMVUE_DATABASE_URL) the group is one transaction on a connection of the intake's
own; there is no `data_version`, so a cached watch row serves its own group only, and the queue
rows go in last, under the queue's ordered-append lock (opstore/postgres.py), just before COMMIT.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence

from smvue_core.clock import now_iso
from smvue_core.opstore.db import OpStore, bump_counters, store_errors
from smvue_core.opstore.notices import (
    advance_message_numbers,
    begin_group,
    commit_group,
    data_version,
    lookup_watch,
    open_intake_connection,
    rollback_group,
)
from smvue_core.opstore.queue import insert_rows
from webhook_gateway.notifications import GoogleNotice, GraphNotice, Verdict, verify_google, verify_graph
from webhook_gateway.rejection_log import RejectionLog, printable

log = logging.getLogger(__name__)

_MISSING = object()


class IntakeUnavailable(Exception):
    """The queue could not be written (the store locked past the timeout, or shutting down)."""


class _Group:
    """The notices waiting for the next flush on one event loop."""

    __slots__ = ("jobs",)

    def __init__(self) -> None:
        self.jobs: list[tuple[str, Sequence | str, asyncio.Future]] = []


class _Writer(threading.local):
    """Per thread (an event loop's): its connection, its cache of watch rows, and accepted-notice
    counts not yet written (they ride along with a later transaction, at most a second later: one
    page fewer to write per commit; a crash may lose a second of these counts, never a queue row)."""

    conn: object | None = None
    cache: dict
    data_version: int | None = None
    accepted: Counter
    counted_at: float = 0.0

    def __init__(self) -> None:
        self.cache = {}
        self.accepted = Counter()


class NotificationIntake:
    def __init__(self, store_path, *, busy_timeout_ms: int = 2000, cache_limit: int = 50_000) -> None:
        self._store = OpStore(store_path, busy_timeout_ms=busy_timeout_ms)
        self._checkpointer = OpStore(store_path)
        self._store_errors = store_errors()
        self._cache_limit = cache_limit
        self._groups: dict[asyncio.AbstractEventLoop, _Group] = {}
        self._writer = _Writer()
        self._closed = False
        # Shared with the routes' own rejections (malformed requests): one budget of log lines.
        self.rejections = RejectionLog(log)

    def start(self) -> None:
        self._closed = False

    def stop(self) -> None:
        self._closed = True

    # --- submitting --------------------------------------------------------------------------
    # Each returns a future (no coroutine layer of its own: every awaiting frame is paid for twice,
    # on suspend and on resume, and this is the hot path). The result is a list of verdicts.
    def google(self, notice: GoogleNotice) -> asyncio.Future:
        return self._submit("google", (notice,))

    def microsoft(self, notices: Sequence[GraphNotice], lifecycle: bool = False) -> asyncio.Future:
        return self._submit("microsoft_lifecycle" if lifecycle else "microsoft", notices)

    def count(self, counter: str) -> asyncio.Future:
        """Bump a counter (a malformed request) in the next group, like any other notice."""
        return self._submit("count", counter)

    def _submit(self, kind: str, notices) -> asyncio.Future:
        if self._closed:
            raise IntakeUnavailable("the gateway is shutting down")
        loop = asyncio.get_running_loop()
        group = self._groups.get(loop)
        if group is None:
            group = self._groups[loop] = _Group()
            loop.call_soon(self._flush, loop)
        future = loop.create_future()
        group.jobs.append((kind, notices, future))
        return future

    # --- the flush (on the event loop) -------------------------------------------------------
    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._groups.pop(loop).jobs
        try:
            verdicts = self._commit(jobs)
        except Exception as exc:  # every waiting request gets an answer, whatever went wrong
            if isinstance(exc, self._store_errors):
                log.error("change queue write failed (%s); %d requests answered 503", exc, len(jobs))
                exc = IntakeUnavailable(str(exc))
            else:
                log.exception("notification intake failed; %d requests answered 500", len(jobs))
            for _, _, future in jobs:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(jobs, verdicts, strict=True):
            if not future.done():
                future.set_result(result)

    def _connection(self):
        writer = self._writer
        if writer.conn is None:
            writer.conn = open_intake_connection(self._store)
        return writer.conn

    def _commit(self, jobs) -> list[list[Verdict]]:
        conn = self._connection()
        writer = self._writer
        begin_group(conn)
        try:
            version = data_version(conn)
            if version is None or version != writer.data_version:
                writer.cache.clear()
                writer.data_version = version
            rows, counters, results = [], Counter(), []
            numbers: dict[str, int] = {}  # Google channel → the message number it reached here
            accepted, cache = writer.accepted, writer.cache
            received_at = now_iso()
            for kind, notices, _ in jobs:
                if kind == "count":
                    counters[notices] += 1
                    results.append([])
                    continue
                google = kind == "google"
                verify = verify_google if google else verify_graph
                verdicts = []
                for notice in notices:
                    watch_id = notice.channel_id if google else notice.subscription_id
                    row = cache.get(watch_id, _MISSING)
                    if row is _MISSING:
                        row = self._lookup(conn, watch_id)
                    verdict = verify(notice, row)
                    if verdict.accepted:
                        accepted[kind] += 1
                        if verdict.message_number is not None:
                            # The next notice of this group (or a later one) compares against it;
                            # a rollback drops the cache (below), so it never outlives its commit.
                            numbers[watch_id] = verdict.message_number
                            cache[watch_id] = (*row[:-1], verdict.message_number)
                        if verdict.queue_reason:
                            rows.append(
                                (
                                    verdict.connection_id,
                                    verdict.calendar_id,
                                    verdict.queue_reason,
                                    0,
                                    received_at,
                                )
                            )
                    else:
                        counters[f"webhook_rejected_{kind}_{verdict.reason}"] += 1
                        # Ids only, escaped (forgers choose them), never a token; rate-limited.
                        self.rejections.warning(
                            "rejected %s notification for %s: %s",
                            kind,
                            printable(verdict.watch_id),
                            verdict.reason,
                        )
                    verdicts.append(verdict)
                results.append(verdicts)
            if numbers:  # in the same transaction as the queue rows they let through
                advance_message_numbers(conn, [(n, w) for w, n in numbers.items()])
            now = time.monotonic()
            flush_accepted = bool(accepted) and (bool(counters) or now - writer.counted_at >= 1.0)
            if flush_accepted:
                counters.update({f"webhook_accepted_{kind}": n for kind, n in accepted.items()})
            if counters:
                bump_counters(conn, counters.items())
            if rows:  # last before COMMIT: on PostgreSQL it holds the queue's ordered-append lock
                insert_rows(self._store, conn, rows)
            commit_group(conn)
        except BaseException:
            rollback_group(conn)
            writer.cache.clear()  # it may hold message numbers that were never committed
            raise
        if flush_accepted:
            accepted.clear()
            writer.counted_at = now
        return results

    def _lookup(self, conn, watch_id: str) -> tuple | None:
        cache = self._writer.cache
        row = cache.get(watch_id, _MISSING)
        if row is _MISSING:
            row = lookup_watch(conn, watch_id)
            if len(cache) >= self._cache_limit:  # forged ids must not grow it without bound
                cache.clear()
            cache[watch_id] = row
        return row  # type: ignore[return-value]

    # --- maintenance (off the loop) ----------------------------------------------------------
    def checkpoint(self) -> None:
        """Copy the WAL into the database (PASSIVE: never blocks writers or readers)."""
        self._checkpointer.checkpoint()

"""The notification intake: verify, append to the change queue, commit, and only then acknowledge.

One writer thread owns a SQLite connection and commits in groups: every notice that arrived while
the previous transaction ran is verified and appended in the next one, so a burst costs one commit
per group instead of one per request, and the event loop never waits on SQLite (a busy lock or a
WAL checkpoint stalls acknowledgements, not the server). Each request awaits a future that the
writer resolves after COMMIT.

Watch rows are cached between transactions. `PRAGMA data_version` changes whenever another
connection (the API, the Dagster daemon, a renewal run) commits, and the writer reads it inside its
own write transaction, so a cached row is never older than the data the transaction sees: a
disconnect committed before a notice's transaction always rejects it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from smvue_pipeline.opstore.db import BUMP_COUNTER_SQL, OpStore, utc_now_iso
from smvue_pipeline.opstore.queue import insert_rows
from webhook_gateway.notifications import (
    WATCH_LOOKUP_SQL,
    GoogleNotice,
    GraphNotice,
    Verdict,
    verify_google,
    verify_graph,
)

log = logging.getLogger(__name__)

_STOP = object()
_MISSING = object()


class IntakeUnavailable(Exception):
    """The queue could not be written (the store locked past its timeout, or shutting down)."""


@dataclass(slots=True)
class _Job:
    kind: str  # google | microsoft | microsoft_lifecycle | count
    notices: Sequence[GoogleNotice | GraphNotice] | str  # for `count`: the counter name
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class NotificationIntake:
    def __init__(self, store_path, *, max_batch: int = 1024, cache_limit: int = 50_000) -> None:
        self._store = OpStore(store_path)  # its own thread-local connection, used by the writer only
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._max_batch = max_batch
        self._cache_limit = cache_limit
        self._cache: dict[str, tuple | None] = {}
        self._data_version: int | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="gateway-intake", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    # --- submitting (event loop side) --------------------------------------------------------
    async def google(self, notice: GoogleNotice) -> Verdict:
        return (await self._submit("google", (notice,)))[0]

    async def microsoft(self, notices: Sequence[GraphNotice], lifecycle: bool = False) -> list[Verdict]:
        return await self._submit("microsoft_lifecycle" if lifecycle else "microsoft", notices)

    async def count(self, counter: str) -> None:
        """Bump a counter (a malformed request) in the next group, like any other notice."""
        await self._submit("count", counter)

    async def _submit(self, kind: str, notices) -> list[Verdict]:
        if self._thread is None:
            self.start()
        if self._closed:
            raise IntakeUnavailable("the gateway is shutting down")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(kind, notices, future, loop))
        return await future

    # --- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        conn = self._store.connection()
        conn.row_factory = None  # plain tuples: this connection belongs to this thread alone
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                    break
                batch.append(job)
            try:
                results = self._commit(conn, batch)
            except sqlite3.Error as exc:
                log.error("change queue write failed (%s); %d requests answered 503", exc, len(batch))
                self._deliver([(job, IntakeUnavailable(str(exc))) for job in batch])
            else:
                self._deliver(results)
        self._fail_leftovers()
        self._store.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[tuple[_Job, list[Verdict]]]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                self._cache.clear()
                self._data_version = version
            rows, counters = [], Counter()
            received_at = utc_now_iso()
            results = []
            for job in batch:
                if job.kind == "count":
                    counters[job.notices] += 1  # type: ignore[index]
                    results.append((job, []))
                    continue
                verify = verify_google if job.kind == "google" else verify_graph
                verdicts = []
                for notice in job.notices:  # type: ignore[union-attr]
                    watch_id = notice.channel_id if job.kind == "google" else notice.subscription_id
                    verdict = verify(notice, self._lookup(conn, watch_id))
                    if verdict.accepted:
                        counters[f"webhook_accepted_{job.kind}"] += 1
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
                        counters[f"webhook_rejected_{job.kind}_{verdict.reason}"] += 1
                        # One line per rejection; ids only (forgers choose them), never a token.
                        log.warning(
                            "rejected %s notification for %s: %s",
                            job.kind,
                            (verdict.watch_id or "?")[:80],
                            verdict.reason,
                        )
                    verdicts.append(verdict)
                results.append((job, verdicts))
            if rows:
                insert_rows(conn, rows)
            conn.executemany(BUMP_COUNTER_SQL, counters.items())
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _lookup(self, conn: sqlite3.Connection, watch_id: str) -> tuple | None:
        row = self._cache.get(watch_id, _MISSING)
        if row is _MISSING:
            row = conn.execute(WATCH_LOOKUP_SQL, (watch_id,)).fetchone()
            if len(self._cache) >= self._cache_limit:  # forged ids must not grow it without bound
                self._cache.clear()
            self._cache[watch_id] = row
        return row  # type: ignore[return-value]

    def _deliver(self, results: list[tuple[_Job, object]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for job, result in results:
            by_loop.setdefault(job.loop, []).append((job.future, result))
        for loop, items in by_loop.items():
            # RuntimeError: that loop is closed, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, items)

    def _fail_leftovers(self) -> None:
        leftovers = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not _STOP:
                leftovers.append((job, IntakeUnavailable("the gateway is shutting down")))
        self._deliver(leftovers)


def _resolve(items: list[tuple[asyncio.Future, object]]) -> None:
    for future, result in items:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

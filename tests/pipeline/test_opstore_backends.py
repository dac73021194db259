"""The operational store's promises that other processes lean on, on both backends: versioned
migrations, one lease holder at a time, claims that never hand one row to two workers, and a
change queue whose ids become visible in order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from smvue_core.opstore import OpStore
from smvue_core.opstore.leases import Leases
from smvue_core.opstore.migrations import LATEST
from smvue_core.opstore.outbox import Outbox
from smvue_core.opstore.queue import ChangeQueue

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_every_migration_is_recorded_once_and_reopening_applies_none(opstore_backend):
    store = OpStore(opstore_backend)
    versions = [r["version"] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, LATEST + 1))
    again = OpStore(opstore_backend)
    assert again.counters() == {}
    assert [r[0] for r in again.query("SELECT version FROM schema_migrations ORDER BY version")] == versions
    assert {"name", "owner", "until"} <= again.columns("leases")


def test_a_lease_has_one_holder_until_it_expires(opstore_backend):
    leases = Leases(OpStore(opstore_backend))
    ttl = timedelta(seconds=30)
    assert leases.hold("housekeeping", "a", NOW, ttl)
    assert not leases.hold("housekeeping", "b", NOW + timedelta(seconds=10), ttl)
    assert leases.hold("housekeeping", "a", NOW + timedelta(seconds=20), ttl)  # renewed
    assert not leases.hold("housekeeping", "b", NOW + timedelta(seconds=45), ttl)
    assert leases.hold("housekeeping", "b", NOW + timedelta(seconds=51), ttl)  # a stopped renewing
    assert leases.holder("housekeeping", NOW + timedelta(seconds=52)) == "b"
    leases.release("housekeeping", "b")
    assert leases.hold("housekeeping", "a", NOW + timedelta(seconds=53), ttl)


def test_concurrent_claims_never_hand_a_row_to_two_workers(opstore_backend):
    store = OpStore(opstore_backend)
    with store.transaction() as conn:
        for i in range(60):
            Outbox.enqueue(conn, f"m{i}", "create", 1, NOW)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        outbox = Outbox(OpStore(opstore_backend))  # a handle of its own, as another process has
        mine = claimed.setdefault(owner, [])
        try:
            while True:
                got = outbox.claim(owner, NOW, lease_seconds=300, limit=3)
                if not got:
                    return
                mine += [c.item.outbox_id for c in got]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    every = [i for ids in claimed.values() for i in ids]
    assert sorted(every) == sorted(set(every)) and len(every) == 60


def test_queue_ids_become_visible_in_order_under_concurrent_appends(opstore_backend):
    """A reader past a cursor must never find a smaller id appear after it read a larger one."""
    store = OpStore(opstore_backend)
    stop = threading.Event()
    errors: list[BaseException] = []

    def appender(n: int) -> None:
        queue = ChangeQueue(OpStore(opstore_backend))
        try:
            for i in range(40):
                queue.enqueue_many([(f"c{n}", f"cal{i}", "notification", False)] * 3)
        except BaseException as exc:
            errors.append(exc)

    seen_behind: list[int] = []

    def reader() -> None:
        queue = ChangeQueue(OpStore(opstore_backend))
        cursor, seen = 0, set()
        while not stop.is_set():
            for change in queue.pending(after_id=cursor):
                seen.add(change.queue_id)
                cursor = max(cursor, change.queue_id)
            behind = [c.queue_id for c in queue.pending() if c.queue_id not in seen and c.queue_id < cursor]
            seen_behind.extend(behind)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert not errors
    assert seen_behind == []
    assert ChangeQueue(store).depth() == 4 * 40 * 3

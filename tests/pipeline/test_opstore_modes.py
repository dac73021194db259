"""Issue 13, item 4: the operational store and its -wal/-shm are owner-only whatever the umask,
and making them so never touches the locks SQLite holds (closing a descriptor on an open database
drops every POSIX lock of the process: the corruption SQLite's docs warn about)."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from smvue_core.opstore import OpStore


def modes(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mode & 0o777 for p in sorted(path.parent.iterdir())}


def test_the_store_and_its_wal_and_shm_are_owner_only_from_a_loose_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        store = OpStore(tmp_path / "home" / "operational.sqlite")
        store.bump_counter("probe")
        assert modes(store.path) == {
            "operational.sqlite": 0o600,
            "operational.sqlite-shm": 0o600,
            "operational.sqlite-wal": 0o600,
        }
        assert store.path.parent.stat().st_mode & 0o777 == 0o700
        store.close()
    finally:
        os.umask(previous)


def test_files_an_older_version_left_readable_are_tightened(tmp_path):
    path = tmp_path / "operational.sqlite"
    with sqlite3.connect(path) as conn:  # as a store created before the fix: 0644, -wal 0644
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE leftover (x)")
    path.chmod(0o644)
    (tmp_path / "operational.sqlite-wal").touch(mode=0o644)
    store = OpStore(path)
    assert store.counters() == {}
    assert {name: mode for name, mode in modes(path).items() if name.startswith("operational")} == {
        "operational.sqlite": 0o600,
        "operational.sqlite-shm": 0o600,
        "operational.sqlite-wal": 0o600,
    }
    store.close()


def _locks_on(path: Path) -> list[tuple[str, str]]:
    """This process's POSIX locks on `path` (from /proc/locks): (kind, range start)."""
    inode = path.stat().st_ino
    found = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "POSIX" not in fields:
            continue
        at = fields.index("POSIX")
        pid, device_inode, start = fields[at + 3], fields[at + 4], fields[at + 5]
        if int(pid) == os.getpid() and int(device_inode.rsplit(":", 1)[1]) == inode:
            found.append((fields[at + 2], start))
    return found


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads /proc/locks")
def test_a_new_threads_connection_keeps_the_locks_another_holds(tmp_path):
    store = OpStore(tmp_path / "operational.sqlite")
    holder = store.connection()
    holder.execute("BEGIN IMMEDIATE")
    try:
        held = _locks_on(store.path)
        assert held, "a write transaction holds a lock on the database file"
        opened = threading.Thread(target=lambda: OpStore(store.path).counters())
        opened.start()
        opened.join()
        assert _locks_on(store.path) == held
    finally:
        holder.execute("ROLLBACK")
        store.close()

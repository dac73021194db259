"""Issue 3, test 5: kill -9 of a sync process in the middle of a paged import, then a rerun: the
table equals a clean import's, and no cursor ever ran ahead of its rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests import processes
from tests.sync import scenario
from tests.waiting import scaled, wait_until

PAGE_SIZE = 2
EVENTS_PER_CALENDAR = 10
ROOT = Path(__file__).resolve().parents[2]


def seed(harness, mailbox) -> None:
    today = datetime.now(UTC).date()
    for calendar_id in mailbox.calendars.values():
        events = []
        for n in range(EVENTS_PER_CALENDAR):
            start = scenario.local(today + timedelta(days=n - 4), 9 + n % 8)
            make = scenario.google_event if mailbox.provider == "google" else scenario.graph_event
            events.append(make(f"Meeting {n}", start, 30))
        harness.admin.seed(mailbox.email, mailbox.provider, events, calendar_id)


def requests_of(harness, email: str) -> int:
    return harness.admin.stats()["requests_by_user"].get(email, 0)


def comparable(rows: list[dict]) -> dict:
    return {
        (r["connection_id"], r["calendar_id"], r["event_id"]): {
            k: v for k, v in r.items() if k != "synced_at"
        }
        for r in rows
    }


def wait_for(condition, child, what: str, timeout: float = 60) -> None:
    def sync_running() -> None:
        assert child.poll() is None, f"the sync process ended before {what}"

    wait_until(condition, timeout, what, guard=sync_running)


def test_kill_mid_import_then_rerun_equals_a_clean_import(harness, tmp_path):
    google, outlook = harness.connect("google"), harness.connect("microsoft")
    for mailbox in (google, outlook):
        seed(harness, mailbox)
    small_pages = {"google": {"page_size": PAGE_SIZE}, "microsoft": {"delta_page_size": PAGE_SIZE}}
    # The clean import to compare with, in a warehouse of its own, paged the same way.
    clean_path = tmp_path / "clean.duckdb"
    harness.admin.reset_stats()
    harness.engine_sync(warehouse_path=clean_path, full=True, **small_pages)
    google_pages = requests_of(harness, google.email)
    graph_pages = requests_of(harness, outlook.email)
    assert google_pages >= 2 * EVENTS_PER_CALENDAR / PAGE_SIZE and graph_pages >= 10
    clean = comparable(harness.query("SELECT * FROM raw.calendar_events", path=clean_path))
    assert len(clean) == 2 * 2 * EVENTS_PER_CALENDAR

    # Graph pages come slowly, so Google's import commits while Graph is still paging.
    harness.admin.faults(
        {
            "rules": [
                {"kind": "latency", "latency_ms": 150, "user": outlook.email, "path": r"/calendarView/delta$"}
            ]
        }
    )
    harness.admin.reset_stats()
    child = processes.spawn(
        [sys.executable, "-m", "tests.sync.sync_child", str(PAGE_SIZE)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    output = processes.Output(child)
    try:
        # Google's calendars committed (the child says so after each transaction)...
        def applied(lines: list[str]) -> set[str]:
            done = [line.split() for line in lines if line.startswith("applied")]
            assert all(d[1] == google.connection_id for d in done), "Graph must still be paging"
            return {d[2] for d in done}

        output.wait_for(
            lambda lines: applied(lines) >= set(google.calendars.values()), 60, "Google's calendars applied"
        )
        # ...then one more Graph page, and kill -9 in the middle of Graph's paged import.
        seen = requests_of(harness, outlook.email)
        wait_for(lambda: requests_of(harness, outlook.email) > seen, child, "another Graph page")
        assert requests_of(harness, outlook.email) < graph_pages, "Graph's import must still be paging"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=scaled(10)) == -signal.SIGKILL
    finally:
        processes.stop(child)
    harness.admin.clear_faults()

    # What the killed run left: Google's calendars committed with their cursors, Graph's nothing;
    # a cursor never without every row of its calendar.
    after_kill = comparable(harness.query("SELECT * FROM raw.calendar_events"))
    states = harness.query("SELECT connection_id, calendar_id, sync_cursor FROM raw.sync_state")
    assert {(s["connection_id"], s["calendar_id"]) for s in states} == {
        (google.connection_id, c) for c in google.calendars.values()
    }
    for state in states:
        key = (state["connection_id"], state["calendar_id"])
        assert state["sync_cursor"]
        assert {k: v for k, v in after_kill.items() if k[:2] == key} == {
            k: v for k, v in clean.items() if k[:2] == key
        }
    assert not any(k[0] == outlook.connection_id for k in after_kill)
    assert {harness.connection(m.connection_id).status for m in (google, outlook)} == {"syncing"}

    assert harness.materialize().success
    assert comparable(harness.query("SELECT * FROM raw.calendar_events")) == clean
    assert {harness.connection(m.connection_id).status for m in (google, outlook)} == {"connected"}

"""Issue 3, test 5: kill -9 of a sync process in the middle of a paged import, then a rerun: the
table equals a clean import's, and no cursor ever ran ahead of its rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.sync import scenario

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


def pages_fetched(harness, emails) -> int:
    by_user = harness.admin.stats()["requests_by_user"]
    return sum(by_user.get(email, 0) for email in emails)


def comparable(rows: list[dict]) -> dict:
    return {(r["connection_id"], r["calendar_id"], r["event_id"]): {k: v for k, v in r.items() if k != "synced_at"} for r in rows}


def test_kill_mid_import_then_rerun_equals_a_clean_import(harness, tmp_path):
    mailboxes = [harness.connect("google"), harness.connect("microsoft")]
    for mailbox in mailboxes:
        seed(harness, mailbox)
    emails = [m.email for m in mailboxes]
    harness.admin.faults(
        {
            "rules": [
                {"kind": "latency", "latency_ms": 150, "user": email, "path": r"(/events$|/calendarView/delta$)"}
                for email in emails
            ]
        }
    )
    harness.admin.reset_stats()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.sync_child", str(PAGE_SIZE)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # Some pages fetched, far from all (2 connections x 2 calendars x 5+ pages).
        while pages_fetched(harness, emails) < 4:
            assert child.poll() is None, "the sync finished before it could be killed"
            assert time.monotonic() < deadline, "the sync process never fetched a page"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    harness.admin.clear_faults()

    clean_path = tmp_path / "clean.duckdb"
    harness.engine_sync(warehouse_path=clean_path, full=True)
    clean = comparable(harness.query("SELECT * FROM raw.calendar_events", path=clean_path))
    assert len(clean) == 2 * 2 * EVENTS_PER_CALENDAR

    # Whatever the killed run left: a cursor only with every row of its calendar.
    if harness.settings.warehouse_path.exists():
        after_kill = comparable(harness.query("SELECT * FROM raw.calendar_events"))
        for state in harness.query("SELECT connection_id, calendar_id FROM raw.sync_state"):
            key = (state["connection_id"], state["calendar_id"])
            assert {k: v for k, v in after_kill.items() if k[:2] == key} == {
                k: v for k, v in clean.items() if k[:2] == key
            }
    assert {harness.connection(m.connection_id).status for m in mailboxes} == {"syncing"}

    assert harness.materialize().success
    assert comparable(harness.query("SELECT * FROM raw.calendar_events")) == clean
    assert {harness.connection(m.connection_id).status for m in mailboxes} == {"connected"}

"""Issue 3, test 3: a 410 in the middle of an incremental sync → a full resync of that calendar that
converges to the provider's state, with no duplicate and no lost app-side data."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from smvue_core.providers.base import MeetingSpec
from tests.sync import scenario

IGNORED = {"synced_at"}


def comparable(rows: dict[str, dict]) -> dict[str, dict]:
    return {k: {c: v for c, v in r.items() if c not in IGNORED} for k, r in rows.items()}


def one_on_one_id(connection_id: str, calendar_id: str, event_id: str) -> str:
    """The id a calendar 1:1 gets from its event (as the 1:1 model derives it): stable across resyncs."""
    key = "\x1f".join((connection_id, calendar_id, event_id)).encode()
    return "cal_" + hashlib.md5(key, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_410_mid_incremental_resyncs_and_keeps_app_data(harness, tmp_path, provider):
    mailbox = harness.connect(provider)
    built = scenario.build(mailbox)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=6, hours=2)
    tagged = harness.session(mailbox).create_event(
        mailbox.primary_calendar_id,
        MeetingSpec("meeting-410", "1:1 from SMVue", start, start + timedelta(minutes=30), scenario.REP_A),
    )
    assert harness.materialize().success
    rows = harness.rows(mailbox.connection_id)
    assert rows[tagged.event_id]["smvue_meeting_id"] == "meeting-410"
    # App-side data keyed by ids derived from events: an archived instance and a typed SMVue meeting.
    annotated = {
        one_on_one_id(mailbox.connection_id, mailbox.primary_calendar_id, built.instance_ids[0]): (
            1,
            "Weekly",
        ),
        one_on_one_id(mailbox.connection_id, mailbox.primary_calendar_id, tagged.event_id): (
            0,
            "Pipeline Review",
        ),
    }
    with harness.store.transaction() as conn:
        for key, (archived, kind) in annotated.items():
            conn.execute(
                "INSERT INTO annotations (one_on_one_id, is_archived, meeting_type, updated_at) VALUES (?, ?, ?, ?)",
                (key, archived, kind, "2026-01-01T00:00:00+00:00"),
            )
    scenario.change(built)
    harness.admin.faults(
        {
            "rules": [
                {
                    "kind": "sync_token_expired",
                    "user": mailbox.email,
                    "path": re.escape(mailbox.primary_calendar_id),
                    "count": 1,
                }
            ]
        }
    )
    harness.admin.reset_stats()

    result = harness.materialize()

    assert result.success
    assert harness.admin.stats()["faults"] == {"sync_token_expired": 1}
    states = harness.sync_state(mailbox.connection_id)
    assert (
        states[mailbox.primary_calendar_id]["last_full_sync_at"]
        > states[mailbox.second_calendar_id]["last_full_sync_at"]
    ), "the expired calendar (only) was fully resynced"
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["unique_event_key"]
    resynced = harness.rows(mailbox.connection_id)

    # A fresh import of the same calendars, into a warehouse of its own.
    fresh_path = tmp_path / "fresh.duckdb"
    harness.engine_sync(warehouse_path=fresh_path, full=True)
    fresh = harness.rows(mailbox.connection_id, path=fresh_path)
    live = {k: v for k, v in resynced.items() if v["status"] != "cancelled"}
    assert comparable(live) == comparable(fresh)
    gone = set(resynced) - set(live)
    assert gone and not gone & set(fresh)
    for event_id, expected in built.expected.items():
        assert scenario.actual(resynced[event_id]).status == expected.status, event_id
    # App-side data survives: the SMVue link on the event, the annotations in the opstore and app.*.
    assert resynced[tagged.event_id]["smvue_meeting_id"] == "meeting-410"
    stored = {
        r["one_on_one_id"]: (r["is_archived"], r["meeting_type"], r["updated_at"])
        for r in harness.store.query("SELECT * FROM annotations")
    }
    assert stored == {k: (*v, "2026-01-01T00:00:00+00:00") for k, v in annotated.items()}
    mirrored = harness.query("SELECT one_on_one_id, is_archived, meeting_type FROM app.annotations")
    assert {r["one_on_one_id"]: (int(r["is_archived"]), r["meeting_type"]) for r in mirrored} == annotated

"""Fixtures for the 1:1 → cadence → reminders → dashboard pipeline tests.

- `dbt_manifest` (session): dbt_cadence/target/manifest.json, current (tests/dbt_manifest.py).
- `wh`: a scratch warehouse with the app.* tables and helpers to add roster rows, events and
  SMVue meetings and run the 1:1 recompute (pure SQL; no provider involved).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smvue_core.warehouse.database import ensure_schema, open_database
from smvue_core.warehouse.one_on_ones import OneOnOneRules, ensure_app_tables, recompute
from tests.dbt_manifest import prepare as prepare_manifest

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The manifest, current (tests/conftest.py prepared it before collection; cheap to re-check)."""
    return prepare_manifest()


def person(
    email: str, *, resource: bool = False, response: str = "accepted", organizer: bool = False
) -> dict:
    return {
        "email": email,
        "name": email.split("@")[0],
        "response_status": response,
        "is_organizer": organizer,
        "is_resource": resource,
    }


class ScratchWarehouse:
    """A warehouse file with raw.calendar_events and app.* filled directly by the test."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.con = open_database(path)
        ensure_schema(self.con)
        ensure_app_tables(self.con)
        self.con.execute("SET TimeZone = 'UTC'")

    def add_manager(
        self, manager_id: str, name: str, email: str, connection_id: str, account_email: str | None = None
    ):
        self.con.execute(
            "INSERT INTO app.managers (manager_id, name, email) VALUES (?, ?, ?)", [manager_id, name, email]
        )
        self.con.execute(
            """INSERT INTO app.connections (connection_id, manager_id, provider, account_email, status, created_at)
               VALUES (?, ?, 'google', ?, 'connected', ?)""",
            [connection_id, manager_id, account_email or email, NOW],
        )

    def add_rep(
        self, rep_id: str, manager_id: str, name: str, email: str, start_date: str | None = "2025-01-01"
    ):
        self.con.execute(
            "INSERT INTO app.team_members (rep_id, manager_id, name, email, start_date) VALUES (?, ?, ?, ?, ?)",
            [rep_id, manager_id, name, email, start_date],
        )

    def set_rep_email(self, rep_id: str, email: str) -> None:
        self.con.execute("UPDATE app.team_members SET email = ? WHERE rep_id = ?", [email, rep_id])

    def add_event(
        self,
        event_id: str,
        attendees: list[dict],
        *,
        start: datetime = NOW - timedelta(days=1),
        minutes: float = 30,
        all_day: bool = False,
        status: str = "confirmed",
        connection_id: str = "conn_maya",
        calendar_id: str = "primary",
        smvue_meeting_id: str | None = None,
        ical_uid: str | None = None,
        recurring_event_id: str | None = None,
        original_start: datetime | None = None,
        video_link: str | None = None,
    ) -> None:
        # Replace by key, as the sync engine does (raw.calendar_events declares no primary key).
        self.con.execute(
            "DELETE FROM raw.calendar_events WHERE connection_id = ? AND calendar_id = ? AND event_id = ?",
            [connection_id, calendar_id, event_id],
        )
        self.con.execute(
            """INSERT INTO raw.calendar_events (connection_id, provider, calendar_id, calendar_name,
                   event_id, ical_uid, recurring_event_id, original_start_at, status, title, start_at, end_at,
                   is_all_day, time_zone, organizer_email, attendees, location, video_link, smvue_meeting_id,
                   provider_updated_at, synced_at)
               VALUES (?, 'google', ?, 'Work', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'UTC', NULL, ?, NULL, ?, ?, ?, ?)""",
            [
                connection_id,
                calendar_id,
                event_id,
                ical_uid or f"{event_id}@google.com",
                recurring_event_id,
                original_start,
                status,
                f"Event {event_id}",
                start,
                start + timedelta(minutes=minutes),
                all_day,
                attendees,
                video_link,
                smvue_meeting_id,
                NOW,
                NOW,
            ],
        )

    def add_meeting(
        self,
        meeting_id: str,
        manager_id: str,
        rep_id: str,
        start: datetime,
        *,
        minutes: int = 30,
        status: str = "scheduled",
        writeback_state: str = "synced",
        provider_event_id: str | None = None,
        meeting_type: str | None = "Weekly",
        connection_id: str = "conn_maya",
    ) -> None:
        self.con.execute(
            """INSERT INTO app.meetings (meeting_id, manager_id, rep_id, connection_id, calendar_id, start_at, end_at,
                   title, meeting_type, status, writeback_state, writeback_error, provider_event_id, updated_at)
               VALUES (?, ?, ?, ?, 'primary', ?, ?, 'SMVue 1:1', ?, ?, ?, NULL, ?, ?)""",
            [
                meeting_id,
                manager_id,
                rep_id,
                connection_id,
                start,
                start + timedelta(minutes=minutes),
                meeting_type,
                status,
                writeback_state,
                provider_event_id,
                NOW,
            ],
        )

    def annotate(
        self, one_on_one_id: str, *, archived: bool = False, meeting_type: str | None = None
    ) -> None:
        self.con.execute(
            "INSERT INTO app.annotations (one_on_one_id, is_archived, meeting_type, updated_at) VALUES (?, ?, ?, ?)",
            [one_on_one_id, archived, meeting_type, NOW],
        )

    def recompute(self, as_of: datetime = NOW, **rules) -> None:
        recompute(self.con, OneOnOneRules(as_of=as_of, **rules))

    def rows(self, sql: str, params=None) -> list[dict]:
        cursor = self.con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def one_on_ones(self) -> dict[str, dict]:
        """analytics.one_on_one_meetings keyed by event id (SMVue meetings without event: by meeting id)."""
        rows = self.rows("SELECT * FROM analytics.one_on_one_meetings")
        keyed = {r["event_id"] or r["one_on_one_id"]: r for r in rows}
        assert len(keyed) == len(rows)
        return keyed

    def classification(self, event_id: str) -> dict:
        (row,) = self.rows("SELECT * FROM analytics.meeting_classifications WHERE event_id = ?", [event_id])
        return row

    def close(self) -> None:
        self.con.close()


@pytest.fixture
def wh(tmp_path) -> ScratchWarehouse:
    """Maya (mgr-maya, calendar conn_maya) with reps Liam and Ava; Omar (mgr-omar) with Noah."""
    warehouse = ScratchWarehouse(":memory:")  # pure logic: no file needed
    warehouse.add_manager(
        "mgr-maya", "Maya Chen", "maya@acme.test", "conn_maya", account_email="maya.chen@gmail.test"
    )
    warehouse.add_rep("rep-liam", "mgr-maya", "Liam Ortiz", "liam@acme.test")
    warehouse.add_rep("rep-ava", "mgr-maya", "Ava Patel", "ava@acme.test")
    warehouse.add_manager("mgr-omar", "Omar Haddad", "omar@acme.test", "conn_omar")
    warehouse.add_rep("rep-noah", "mgr-omar", "Noah Kim", "noah@acme.test")
    yield warehouse
    warehouse.close()

"""Hand-made source rows for dbt_cadence: one rep per cadence case, measured at AS_OF.

Every timestamp is an offset from AS_OF, so each row says which boundary it sits on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from smvue_core.warehouse.database import open_database

AS_OF = datetime(2025, 6, 18, 12, 0, tzinfo=UTC)  # a Wednesday
DAY = timedelta(days=1)

SOURCE_DDL = """
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE SCHEMA IF NOT EXISTS app;
CREATE TABLE analytics.one_on_one_meetings (
    one_on_one_id VARCHAR PRIMARY KEY, manager_id VARCHAR, rep_id VARCHAR, connection_id VARCHAR,
    calendar_id VARCHAR, event_id VARCHAR, smvue_meeting_id VARCHAR, ical_uid VARCHAR,
    recurring_event_id VARCHAR, original_start_at TIMESTAMPTZ, title VARCHAR, start_at TIMESTAMPTZ,
    end_at TIMESTAMPTZ, duration_minutes INTEGER, status VARCHAR, is_archived BOOLEAN,
    meeting_type VARCHAR, source VARCHAR, classification_reason VARCHAR,
    is_typical_duration BOOLEAN, video_link VARCHAR
);
CREATE TABLE app.managers (manager_id VARCHAR PRIMARY KEY, name VARCHAR, email VARCHAR);
CREATE TABLE app.team_members (
    rep_id VARCHAR PRIMARY KEY, manager_id VARCHAR, name VARCHAR, email VARCHAR, start_date DATE
);
CREATE TABLE app.prep_reminders (
    reminder_id VARCHAR PRIMARY KEY, one_on_one_id VARCHAR, manager_id VARCHAR, rep_id VARCHAR,
    remind_at TIMESTAMPTZ, state VARCHAR, sent_at TIMESTAMPTZ
);
"""

MANAGERS = [("mgr_ana", "Ana Manager", "ana@example.com"), ("mgr_ben", "Ben Manager", "ben@example.com")]

# rep_id, manager_id, name, start_date (tenure at AS_OF in the comment)
TEAM_MEMBERS = [
    ("rep_on_track", "mgr_ana", "Olivia On-Track", date(2025, 1, 1)),  # 168 days: weekly
    ("rep_due", "mgr_ana", "Dan Due", date(2024, 1, 1)),  # over 365: biweekly
    ("rep_overdue", "mgr_ana", "Oscar Overdue", date(2024, 9, 1)),  # 290 days: biweekly
    ("rep_never_met", "mgr_ana", "Nina Never-Met", None),  # unknown: biweekly
    ("rep_dedup", "mgr_ana", "Dora Dedup", date(2025, 5, 1)),  # 48 days: weekly
    ("rep_up_next", "mgr_ben", "Uma Up-Next", date(2024, 12, 1)),  # 199 days: biweekly
    ("rep_rescued", "mgr_ben", "Ravi Rescued", date(2025, 4, 1)),  # 78 days: weekly
]


def meeting(
    one_on_one_id: str,
    rep_id: str,
    start_at: datetime,
    status: str,
    *,
    manager_id: str | None = None,
    ical_uid: str | None = None,
    original_start_at: datetime | None = None,
    is_archived: bool = False,
    meeting_type: str | None = "Weekly",
) -> tuple:
    manager = manager_id or next(m for r, m, _, _ in TEAM_MEMBERS if r == rep_id)
    return (
        one_on_one_id,
        manager,
        rep_id,
        "conn_1",
        "primary",
        f"evt_{one_on_one_id}",
        None,
        ical_uid,
        None,
        original_start_at,
        f"1:1 {rep_id}",
        start_at,
        start_at + timedelta(minutes=30),
        30,
        status,
        is_archived,
        meeting_type,
        "calendar",
        "two attendees: manager and rep",
        True,
        f"https://meet.example.com/{one_on_one_id}",
    )


ONE_ON_ONES = [
    # on_track: last held exactly 7 days ago (the weekly interval); intervals 7 and 7.
    meeting("ot_1", "rep_on_track", AS_OF - 21 * DAY, "held"),
    meeting("ot_2", "rep_on_track", AS_OF - 14 * DAY, "held"),
    meeting("ot_3", "rep_on_track", AS_OF - 7 * DAY, "held", meeting_type="Pipeline Review"),
    # due: 15 days since last (biweekly interval 14 < 15 <= 21); one more 45 days back.
    meeting("due_1", "rep_due", AS_OF - 45 * DAY, "held"),
    meeting("due_2", "rep_due", AS_OF - 15 * DAY, "held"),
    # overdue: 22 days since last (> 21); a cancelled and a declined one since do not count.
    meeting("od_1", "rep_overdue", AS_OF - 22 * DAY, "held"),
    meeting("od_2", "rep_overdue", AS_OF - 8 * DAY, "cancelled"),
    meeting("od_3", "rep_overdue", AS_OF - 1 * DAY, "declined"),
    # never_met: only a cancelled 1:1.
    meeting("nm_1", "rep_never_met", AS_OF - 3 * DAY, "cancelled"),
    # dedup: one occurrence on two calendars (same iCalUID and start) counts once ...
    meeting("dd_cal_a", "rep_dedup", AS_OF - 10 * DAY, "held", ical_uid="uid-dd-1"),
    meeting("dd_cal_b", "rep_dedup", AS_OF - 10 * DAY, "held", ical_uid="uid-dd-1"),
    # ... a series occurrence moved by a day: its cancelled original and live copy count once ...
    meeting(
        "dd_moved_old",
        "rep_dedup",
        AS_OF - 5 * DAY,
        "cancelled",
        ical_uid="uid-dd-series",
        original_start_at=AS_OF - 5 * DAY,
    ),
    meeting(
        "dd_moved_new",
        "rep_dedup",
        AS_OF - 4 * DAY,
        "held",
        ical_uid="uid-dd-series",
        original_start_at=AS_OF - 5 * DAY,
    ),
    # ... and an archived held 1:1 is left out.
    meeting("dd_archived", "rep_dedup", AS_OF - 2 * DAY, "held", is_archived=True),
    # Up Next window [AS_OF, AS_OF + 7 days): both edges, and what must stay out.
    meeting("up_at_as_of", "rep_up_next", AS_OF, "scheduled"),
    meeting("up_last_second", "rep_up_next", AS_OF + 7 * DAY - timedelta(seconds=1), "scheduled"),
    meeting("up_at_horizon", "rep_up_next", AS_OF + 7 * DAY, "scheduled"),
    meeting("up_archived", "rep_up_next", AS_OF + 2 * DAY, "scheduled", is_archived=True),
    meeting("up_cancelled", "rep_up_next", AS_OF + 3 * DAY, "cancelled"),
    meeting("up_held_before", "rep_up_next", AS_OF - 10 * DAY, "held"),
    # rescued: 30 days since last held (overdue by 20 against weekly's 10) but a 1:1 in 2 days;
    # seven past 1:1s, of which the brief lists the last five.
    meeting("rs_72", "rep_rescued", AS_OF - 72 * DAY, "held"),
    meeting("rs_65", "rep_rescued", AS_OF - 65 * DAY, "declined"),
    meeting("rs_58", "rep_rescued", AS_OF - 58 * DAY, "cancelled"),
    meeting("rs_51", "rep_rescued", AS_OF - 51 * DAY, "held"),
    meeting("rs_44", "rep_rescued", AS_OF - 44 * DAY, "held", meeting_type="Pipeline Review"),
    meeting("rs_37", "rep_rescued", AS_OF - 37 * DAY, "held"),
    meeting("rs_held", "rep_rescued", AS_OF - 30 * DAY, "held"),
    meeting("rs_next", "rep_rescued", AS_OF + 2 * DAY, "scheduled", meeting_type=None),
]

# reminder_id, one_on_one_id, state
PREP_REMINDERS = [
    ("rem_sent", "up_at_as_of", "sent"),
    ("rem_failed", "up_last_second", "failed"),
    ("rem_withdrawn", "rs_next", "withdrawn"),
]


def build_warehouse(path: Path, key: str | None = None) -> None:
    """Create the dbt sources in a fresh warehouse file and fill them with the cases above."""
    con = open_database(path, key)
    try:
        con.execute(SOURCE_DDL)
        con.executemany("INSERT INTO app.managers VALUES (?, ?, ?)", MANAGERS)
        con.executemany(
            "INSERT INTO app.team_members VALUES (?, ?, ?, ?, ?)",
            [(rep, mgr, name, f"{rep}@example.com", start) for rep, mgr, name, start in TEAM_MEMBERS],
        )
        placeholders = ", ".join("?" * len(ONE_ON_ONES[0]))
        con.executemany(f"INSERT INTO analytics.one_on_one_meetings VALUES ({placeholders})", ONE_ON_ONES)
        by_id = {row[0]: row for row in ONE_ON_ONES}
        con.executemany(
            "INSERT INTO app.prep_reminders VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (rid, oid, by_id[oid][1], by_id[oid][2], by_id[oid][11] - DAY, state, None)
                for rid, oid, state in PREP_REMINDERS
            ],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()

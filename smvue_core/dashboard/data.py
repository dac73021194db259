"""What the cadence dashboard shows, read from the published snapshot (F18), never the warehouse.

Every table is optional: before the first dbt run the marts are missing, and the page says so
instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from smvue_core.warehouse.database import open_database


@dataclass
class RepCadence:
    rep_id: str
    rep_name: str
    status: str
    days_since_last_held: int | None
    suggested_interval_days: int | None
    overdue_after_days: int | None
    suggested_cadence: str | None
    suggestion_reason: str | None
    held_last_30d: int
    held_last_90d: int
    last_held_at: datetime | None
    next_scheduled_at: datetime | None


@dataclass
class Week:
    week_start: date
    held: int
    scheduled: int
    missed: int  # cancelled + declined


@dataclass
class UpNext:
    one_on_one_id: str
    rep_name: str
    start_at: datetime
    title: str | None
    video_link: str | None
    meeting_type: str | None
    prep_status: str


@dataclass
class Brief:
    one_on_one_id: str
    rep_name: str
    start_at: datetime
    markdown: str


@dataclass
class ManagerView:
    manager_id: str
    name: str
    reps: list[RepCadence] = field(default_factory=list)
    weeks: list[Week] = field(default_factory=list)
    up_next: list[UpNext] = field(default_factory=list)
    briefs: list[Brief] = field(default_factory=list)


@dataclass
class DashboardData:
    managers: list[ManagerView]
    generated_at: datetime
    missing_tables: list[str]
    one_on_ones: int
    events_classified: int


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


WANTED = (
    "app.managers",
    "analytics.cadence_metrics",
    "analytics.cadence_weekly",
    "analytics.upcoming_one_on_ones",
    "analytics.coaching_briefs",
    "analytics.one_on_one_meetings",
)


def load(con: duckdb.DuckDBPyConnection, generated_at: datetime) -> DashboardData:
    con.execute("SET TimeZone = 'UTC'")
    present = _tables(con)
    missing = [t for t in WANTED if t not in present]
    managers: dict[str, ManagerView] = {}
    if "app.managers" in present:
        for row in _rows(con, "SELECT manager_id, name FROM app.managers ORDER BY name, manager_id"):
            managers[row["manager_id"]] = ManagerView(row["manager_id"], row["name"] or row["manager_id"])

    def manager(manager_id: str) -> ManagerView:
        return managers.setdefault(manager_id, ManagerView(manager_id, manager_id))

    if "analytics.cadence_metrics" in present:
        for row in _rows(
            con,
            """SELECT manager_id, rep_id, coalesce(rep_name, rep_id) AS rep_name, cadence_status, days_since_last_held,
                      suggested_interval_days, overdue_after_days, suggested_cadence, suggestion_reason,
                      held_last_30d, held_last_90d, last_held_at, next_scheduled_at
               FROM analytics.cadence_metrics ORDER BY rep_name, rep_id""",
        ):
            manager(row["manager_id"]).reps.append(
                RepCadence(
                    rep_id=row["rep_id"],
                    rep_name=row["rep_name"],
                    status=row["cadence_status"],
                    days_since_last_held=row["days_since_last_held"],
                    suggested_interval_days=row["suggested_interval_days"],
                    overdue_after_days=row["overdue_after_days"],
                    suggested_cadence=row["suggested_cadence"],
                    suggestion_reason=row["suggestion_reason"],
                    held_last_30d=row["held_last_30d"] or 0,
                    held_last_90d=row["held_last_90d"] or 0,
                    last_held_at=row["last_held_at"],
                    next_scheduled_at=row["next_scheduled_at"],
                )
            )
    if "analytics.cadence_weekly" in present:
        for row in _rows(
            con,
            """SELECT manager_id, week_start, sum(held_count) AS held, sum(scheduled_count) AS scheduled,
                      sum(cancelled_count + declined_count) AS missed
               FROM analytics.cadence_weekly GROUP BY ALL ORDER BY manager_id, week_start""",
        ):
            manager(row["manager_id"]).weeks.append(
                Week(row["week_start"], int(row["held"]), int(row["scheduled"]), int(row["missed"]))
            )
    if "analytics.upcoming_one_on_ones" in present:
        for row in _rows(
            con,
            """SELECT manager_id, one_on_one_id, coalesce(rep_name, rep_id) AS rep_name, start_at, title,
                      video_link, meeting_type, prep_status
               FROM analytics.upcoming_one_on_ones ORDER BY start_at, one_on_one_id""",
        ):
            manager(row["manager_id"]).up_next.append(
                UpNext(
                    row["one_on_one_id"],
                    row["rep_name"],
                    row["start_at"],
                    row["title"],
                    row["video_link"],
                    row["meeting_type"],
                    row["prep_status"],
                )
            )
    if "analytics.coaching_briefs" in present:
        for row in _rows(
            con,
            """SELECT manager_id, one_on_one_id, coalesce(rep_name, rep_id) AS rep_name, start_at, brief_markdown
               FROM analytics.coaching_briefs ORDER BY start_at, one_on_one_id""",
        ):
            manager(row["manager_id"]).briefs.append(
                Brief(row["one_on_one_id"], row["rep_name"], row["start_at"], row["brief_markdown"] or "")
            )
    one_on_ones = events = 0
    if "analytics.one_on_one_meetings" in present:
        one_on_ones = con.execute("SELECT count(*) FROM analytics.one_on_one_meetings").fetchone()[0]
    if "analytics.meeting_classifications" in present:
        events = con.execute("SELECT count(*) FROM analytics.meeting_classifications").fetchone()[0]
    return DashboardData(list(managers.values()), generated_at, missing, one_on_ones, events)


def load_published(path: str | Path, key: str | None, generated_at: datetime) -> DashboardData:
    if not Path(path).exists():
        raise FileNotFoundError(
            f"no published snapshot at {path}: run the pipeline (sync_calendars_job) first"
        )
    con = open_database(path, key, read_only=True)
    try:
        return load(con, generated_at)
    finally:
        con.close()

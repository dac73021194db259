"""Recomputing `analytics.one_on_one_meetings` and `analytics.meeting_classifications` (F8).

Pure DuckDB SQL over raw.calendar_events and app.*, rebuilt whole every time: editing a rep's
email in the roster, archiving a meeting or a sync that changed one event all converge the same
way, and 1,000,000 raw events take about a second (bench/one_on_one_recompute.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import duckdb

from smvue_core.warehouse.mirrors import APP_TABLES

STATEMENT_SEPARATOR = "\n;;\n"
REASON_CLASSES = (
    "one_on_one",
    "smvue_meeting",
    "people_count",
    "not_on_team",
    "duration",
    "all_day",
    "no_time",
    "no_manager",
)


@dataclass(frozen=True)
class OneOnOneRules:
    """F8's configurable bounds and the "now" that decides held vs scheduled."""

    as_of: datetime
    min_minutes: int = 10
    max_minutes: int = 120
    typical_min_minutes: int = 30
    typical_max_minutes: int = 60

    def __post_init__(self) -> None:
        if not 0 < self.min_minutes <= self.max_minutes:
            raise ValueError(
                f"min_minutes ({self.min_minutes}) must be > 0 and <= max_minutes ({self.max_minutes})"
            )
        if not self.typical_min_minutes <= self.typical_max_minutes:
            raise ValueError("typical_min_minutes must be <= typical_max_minutes")
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")


def one_on_one_id_for_event(connection_id: str, calendar_id: str, event_id: str) -> str:
    """The id a calendar 1:1 gets: stable across resyncs (same event, same id). Mirrors the SQL."""
    key = "\x1f".join((connection_id, calendar_id, event_id)).encode()
    return "cal_" + hashlib.md5(key, usedforsecurity=False).hexdigest()


def statements() -> list[str]:
    text = resources.files("smvue_core.warehouse").joinpath("one_on_one_meetings.sql").read_text()
    return [s.strip() for s in text.split(STATEMENT_SEPARATOR) if s.strip()]


def ensure_app_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty app.* tables where the mirror has not run yet, so a recompute never fails on a fresh
    warehouse (the mirror replaces them with the operational store's rows)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS app")
    for table in APP_TABLES.values():
        columns = ", ".join(f"{column} {kind}" for column, kind in table.columns.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS app.{table.name} ({columns})")


def recompute(con: duckdb.DuckDBPyConnection, rules: OneOnOneRules, *, transaction: bool = True) -> None:
    """Rebuild both tables; with `transaction`, readers of this connection see old or new, never half."""
    # Row order of the rebuilt tables carries no meaning; not preserving it lets DuckDB write them
    # in parallel (a second on 1M events with 2 cores).
    previous_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = false")
    if transaction:
        con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE oo_params AS
               SELECT CAST($as_of AS TIMESTAMPTZ) AS as_of, CAST($min AS INTEGER) AS min_minutes,
                      CAST($max AS INTEGER) AS max_minutes, CAST($tmin AS INTEGER) AS typical_min,
                      CAST($tmax AS INTEGER) AS typical_max""",
            {
                "as_of": rules.as_of.astimezone(UTC),
                "min": rules.min_minutes,
                "max": rules.max_minutes,
                "tmin": rules.typical_min_minutes,
                "tmax": rules.typical_max_minutes,
            },
        )
        for statement in statements():
            con.execute(statement)
        con.execute("DROP VIEW IF EXISTS oo_attendance")
        for temp in ("oo_params", "oo_connection_managers", "oo_reps", "oo_smvue_meetings", "oo_links"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        if transaction:
            con.execute("COMMIT")
    except BaseException:
        if transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if previous_order else 'false'}")


@dataclass
class OneOnOneSummary:
    one_on_ones: int
    events_classified: int
    held_last_30d: int
    scheduled_next_7d: int
    by_status: dict[str, int]
    by_reason_class: dict[str, int]
    # The newest 1:1s, for the asset's Markdown preview (assets/previews.py decides what shows).
    preview_columns: list[str]
    preview_rows: list[tuple]


def summarize(con: duckdb.DuckDBPyConnection, as_of: datetime) -> OneOnOneSummary:
    """Row counts, KPIs and a head(5) for the asset's metadata."""
    total, held_30, next_7 = con.execute(
        """SELECT count(*),
                  count(*) FILTER (WHERE status = 'held' AND NOT is_archived AND start_at >= $as_of - INTERVAL 30 DAY),
                  count(*) FILTER (WHERE status = 'scheduled' AND NOT is_archived
                                   AND start_at >= $as_of AND start_at < $as_of + INTERVAL 7 DAY)
           FROM analytics.one_on_one_meetings""",
        {"as_of": as_of},
    ).fetchone()
    by_status = dict(
        con.execute(
            "SELECT status, count(*) FROM analytics.one_on_one_meetings GROUP BY ALL ORDER BY 1"
        ).fetchall()
    )
    by_reason = dict(
        con.execute(
            "SELECT reason_class, count(*) FROM analytics.meeting_classifications GROUP BY ALL ORDER BY 2 DESC"
        ).fetchall()
    )
    head = con.execute(
        """SELECT one_on_one_id, manager_id, rep_id, strftime(start_at, '%Y-%m-%d %H:%M') AS start_utc,
                  duration_minutes, status, source, classification_reason
           FROM analytics.one_on_one_meetings ORDER BY start_at DESC, one_on_one_id LIMIT 5"""
    )
    columns = [d[0] for d in head.description]
    rows = head.fetchall()
    return OneOnOneSummary(
        one_on_ones=total,
        events_classified=sum(by_reason.values()),
        held_last_30d=held_30,
        scheduled_next_7d=next_7,
        by_status=by_status,
        by_reason_class=by_reason,
        preview_columns=columns,
        preview_rows=rows,
    )

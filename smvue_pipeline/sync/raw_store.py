"""raw.calendar_events and raw.sync_state: reading cursors and applying a calendar's changes.

Every write for one calendar — rows, cancellations and the new cursor — happens in one DuckDB
transaction, so a crash leaves either the old state or the new one, never a cursor ahead of rows.
Rows go in as one Arrow table (bulk), never row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from smvue_pipeline.providers.base import EventRecord, Removal, SyncWindow

ATTENDEE_TYPE = pa.struct(
    [
        ("email", pa.string()),
        ("name", pa.string()),
        ("response_status", pa.string()),
        ("is_organizer", pa.bool_()),
        ("is_resource", pa.bool_()),
    ]
)
TS = pa.timestamp("us", tz="UTC")
EVENT_SCHEMA = pa.schema(
    [
        ("connection_id", pa.string()),
        ("provider", pa.string()),
        ("calendar_id", pa.string()),
        ("calendar_name", pa.string()),
        ("event_id", pa.string()),
        ("ical_uid", pa.string()),
        ("recurring_event_id", pa.string()),
        ("original_start_at", TS),
        ("status", pa.string()),
        ("title", pa.string()),
        ("start_at", TS),
        ("end_at", TS),
        ("is_all_day", pa.bool_()),
        ("time_zone", pa.string()),
        ("organizer_email", pa.string()),
        ("attendees", pa.list_(ATTENDEE_TYPE)),
        ("location", pa.string()),
        ("video_link", pa.string()),
        ("smvue_meeting_id", pa.string()),
        ("provider_updated_at", TS),
        ("synced_at", TS),
    ]
)
COLUMNS = ", ".join(EVENT_SCHEMA.names)


@dataclass
class SyncState:
    cursor: str | None
    window: SyncWindow
    last_full_sync_at: datetime | None


@dataclass
class ApplyCounts:
    inserted: int = 0
    updated: int = 0
    cancelled: int = 0
    skipped_outside_window: int = 0


def load_states(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], SyncState]:
    rows = con.execute(
        "SELECT connection_id, calendar_id, sync_cursor, window_start, window_end, last_full_sync_at FROM raw.sync_state"
    ).fetchall()
    return {(r[0], r[1]): SyncState(r[2], SyncWindow(r[3], r[4]), r[5]) for r in rows}


def events_table(
    connection_id: str, provider: str, calendar_name: str, events: list[EventRecord], synced_at: datetime
) -> pa.Table:
    columns: dict[str, list] = {name: [] for name in EVENT_SCHEMA.names}
    for e in events:
        columns["connection_id"].append(connection_id)
        columns["provider"].append(provider)
        columns["calendar_id"].append(e.calendar_id)
        columns["calendar_name"].append(calendar_name)
        columns["event_id"].append(e.event_id)
        columns["ical_uid"].append(e.ical_uid)
        columns["recurring_event_id"].append(e.recurring_event_id)
        columns["original_start_at"].append(e.original_start_at)
        columns["status"].append(e.status)
        columns["title"].append(e.title)
        columns["start_at"].append(e.start_at)
        columns["end_at"].append(e.end_at)
        columns["is_all_day"].append(e.is_all_day)
        columns["time_zone"].append(e.time_zone)
        columns["organizer_email"].append(e.organizer_email)
        columns["attendees"].append(
            [
                {
                    "email": a.email,
                    "name": a.name,
                    "response_status": a.response_status,
                    "is_organizer": a.is_organizer,
                    "is_resource": a.is_resource,
                }
                for a in e.attendees
            ]
        )
        columns["location"].append(e.location)
        columns["video_link"].append(e.video_link)
        columns["smvue_meeting_id"].append(e.smvue_meeting_id)
        columns["provider_updated_at"].append(e.provider_updated_at)
        columns["synced_at"].append(synced_at)
    return pa.table(columns, schema=EVENT_SCHEMA)


def apply_calendar(
    con: duckdb.DuckDBPyConnection,
    *,
    connection_id: str,
    provider: str,
    calendar_id: str,
    calendar_name: str,
    events: list[EventRecord],
    removals: list[Removal],
    cursor: str | None,
    window: SyncWindow,
    full: bool,
    now: datetime,
) -> ApplyCounts:
    """Apply one calendar's fetched changes and its new cursor atomically."""
    counts = ApplyCounts()
    staged = events_table(connection_id, provider, calendar_name, events, now)
    key = (connection_id, calendar_id)
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("staged_events", staged)
        # Keep what overlaps the window, and updates to rows we already hold (an event moving out
        # of the window must not stay behind at its old time). The rest enters with the window.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE incoming AS
            SELECT s.* FROM staged_events s
            WHERE (s.end_at > $start AND s.start_at < $end)
               OR EXISTS (SELECT 1 FROM raw.calendar_events r
                          WHERE r.connection_id = s.connection_id AND r.calendar_id = s.calendar_id
                            AND r.event_id = s.event_id)
            """,
            {"start": window.start, "end": window.end},
        )
        kept = con.execute("SELECT count(*) FROM incoming").fetchone()[0]
        counts.skipped_outside_window = len(events) - kept
        counts.updated = con.execute(
            """SELECT count(*) FROM incoming i JOIN raw.calendar_events r
               USING (connection_id, calendar_id, event_id)"""
        ).fetchone()[0]
        counts.inserted = kept - counts.updated
        con.execute(f"INSERT OR REPLACE INTO raw.calendar_events ({COLUMNS}) SELECT {COLUMNS} FROM incoming")
        counts.cancelled += _apply_removals(con, key, removals, window, now)
        if full:
            counts.cancelled += _cancel_missing(con, key, window, now)
        con.execute(
            """
            INSERT OR REPLACE INTO raw.sync_state
                (connection_id, calendar_id, provider, sync_cursor, window_start, window_end,
                 last_full_sync_at, last_sync_at)
            VALUES ($c, $cal, $p, $cursor, $ws, $we,
                    CASE WHEN $full THEN $now ELSE
                        (SELECT last_full_sync_at FROM raw.sync_state
                         WHERE connection_id = $c AND calendar_id = $cal) END,
                    $now)
            """,
            {
                "c": connection_id,
                "cal": calendar_id,
                "p": provider,
                "cursor": cursor,
                "ws": window.start,
                "we": window.end,
                "full": full,
                "now": now,
            },
        )
        con.execute("DROP TABLE incoming")
        con.unregister("staged_events")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _apply_removals(
    con: duckdb.DuckDBPyConnection,
    key: tuple[str, str],
    removals: list[Removal],
    window: SyncWindow,
    now: datetime,
) -> int:
    if not removals:
        return 0
    removed = pa.table(
        {
            "event_id": [r.event_id for r in removals],
            "series": [r.series for r in removals],
            "window_only": [r.window_only for r in removals],
        }
    )
    con.register("removed_events", removed)
    try:
        return con.execute(
            """
            UPDATE raw.calendar_events r SET status = 'cancelled', synced_at = $now
            FROM removed_events x
            WHERE r.connection_id = $c AND r.calendar_id = $cal AND r.status <> 'cancelled'
              AND (r.event_id = x.event_id OR (x.series AND r.recurring_event_id = x.event_id))
              -- a Graph removal may only mean "left the window": rows outside it are history, kept
              AND (NOT x.window_only OR (r.end_at > $start AND r.start_at < $end))
            """,
            {"now": now, "c": key[0], "cal": key[1], "start": window.start, "end": window.end},
        ).fetchone()[0]
    finally:
        con.unregister("removed_events")


def _cancel_missing(
    con: duckdb.DuckDBPyConnection, key: tuple[str, str], window: SyncWindow, now: datetime
) -> int:
    """After a complete full listing, live rows inside the window that it did not return are gone."""
    return con.execute(
        """
        UPDATE raw.calendar_events r SET status = 'cancelled', synced_at = $now
        WHERE r.connection_id = $c AND r.calendar_id = $cal AND r.status <> 'cancelled'
          AND r.end_at > $start AND r.start_at < $end
          AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.event_id = r.event_id)
        """,
        {"now": now, "c": key[0], "cal": key[1], "start": window.start, "end": window.end},
    ).fetchone()[0]

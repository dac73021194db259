"""raw.calendar_events and raw.sync_state: reading cursors and applying calendars' changes.

Every write for a batch of calendars — rows, cancellations and their new cursors — happens in one
DuckDB transaction, so a crash leaves either the old state or the new one, never a cursor ahead of
its rows. Rows go in as one Arrow table and every step is one set-based statement for the whole
batch: a transaction's fixed cost is paid once per batch, not once per calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from smvue_core.providers.base import EventRecord, Removal, SyncWindow
from smvue_core.warehouse.schema import arrow_schema

TS = pa.timestamp("us", tz="UTC")
RAW_EVENTS = "raw.calendar_events"


def event_schema() -> pa.Schema:
    """raw.calendar_events' columns in Arrow, as rows are staged for it; the table itself is
    declared once, in smvue_core/warehouse/schema.sql."""
    return arrow_schema(RAW_EVENTS)


REMOVED_SCHEMA = pa.schema(
    [
        ("connection_id", pa.string()),
        ("calendar_id", pa.string()),
        ("event_id", pa.string()),
        ("series", pa.bool_()),
        ("window_only", pa.bool_()),
    ]
)


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
    schema = event_schema()
    columns: dict[str, list] = {name: [] for name in schema.names}
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
    return pa.table(columns, schema=schema)


@dataclass
class CalendarChanges:
    """One calendar's fetched changes, ready to apply: rows already in Arrow (`event_schema()`)."""

    connection_id: str
    provider: str
    calendar_id: str
    events: pa.Table
    removals: list[Removal]
    cursor: str | None
    window: SyncWindow
    full: bool


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
    table = events_table(connection_id, provider, calendar_name, events, now)
    changes = CalendarChanges(connection_id, provider, calendar_id, table, removals, cursor, window, full)
    return apply_batch(con, [changes], now)[0]


def apply_batch(
    con: duckdb.DuckDBPyConnection, batch: list[CalendarChanges], now: datetime
) -> list[ApplyCounts]:
    """Apply several calendars' changes and cursors in one transaction; counts in batch order."""
    if not batch:
        return []
    plans = pa.table(
        {
            "connection_id": [c.connection_id for c in batch],
            "calendar_id": [c.calendar_id for c in batch],
            "provider": [c.provider for c in batch],
            "sync_cursor": [c.cursor for c in batch],
            "window_start": pa.array([c.window.start for c in batch], TS),
            "window_end": pa.array([c.window.end for c in batch], TS),
            "is_full": [c.full for c in batch],
        }
    )
    schema = event_schema()
    staged = pa.concat_tables([c.events for c in batch]) if batch else schema.empty_table()
    removed = pa.table(
        {
            "connection_id": [c.connection_id for c in batch for _ in c.removals],
            "calendar_id": [c.calendar_id for c in batch for _ in c.removals],
            "event_id": [r.event_id for c in batch for r in c.removals],
            "series": [r.series for c in batch for r in c.removals],
            "window_only": [r.window_only for c in batch for r in c.removals],
        },
        schema=REMOVED_SCHEMA,
    )
    counts = {(c.connection_id, c.calendar_id): ApplyCounts() for c in batch}
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("sync_plans", plans)
        con.register("staged_events", staged)
        con.register("removed_events", removed)
        # Keep what overlaps the window, and updates to rows we already hold (an event moving out
        # of the window must not stay behind at its old time). The rest enters with the window.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE incoming AS
            SELECT {", ".join("s." + name for name in schema.names)}, r.event_id IS NOT NULL AS existed
            FROM staged_events s
            JOIN sync_plans p USING (connection_id, calendar_id)
            LEFT JOIN raw.calendar_events r USING (connection_id, calendar_id, event_id)
            WHERE (s.end_at > p.window_start AND s.start_at < p.window_end) OR r.event_id IS NOT NULL
            """
        )
        for connection_id, calendar_id, kept, existed in con.execute(
            "SELECT connection_id, calendar_id, count(*), count(*) FILTER (existed) FROM incoming GROUP BY ALL"
        ).fetchall():
            tally = counts[(connection_id, calendar_id)]
            tally.updated, tally.inserted = existed, kept - existed
        for change in batch:
            tally = counts[(change.connection_id, change.calendar_id)]
            tally.skipped_outside_window = change.events.num_rows - tally.inserted - tally.updated
        # Replace by key: delete what is about to be rewritten, then insert the batch in bulk.
        con.execute(
            """DELETE FROM raw.calendar_events r USING incoming i
               WHERE i.existed AND r.connection_id = i.connection_id AND r.calendar_id = i.calendar_id
                 AND r.event_id = i.event_id"""
        )
        columns = ", ".join(schema.names)
        con.execute(f"INSERT INTO raw.calendar_events ({columns}) SELECT {columns} FROM incoming")
        cancelled = _apply_removals(con, now) if removed.num_rows else []
        # Only calendars synced before can hold rows the full listing did not return.
        resynced = con.execute(
            "SELECT count(*) FROM sync_plans p JOIN raw.sync_state USING (connection_id, calendar_id) WHERE p.is_full"
        ).fetchone()[0]
        if resynced:
            cancelled += _cancel_missing(con, now)
        for connection_id, calendar_id in cancelled:
            counts[(connection_id, calendar_id)].cancelled += 1
        con.execute(
            """
            INSERT OR REPLACE INTO raw.sync_state
                (connection_id, calendar_id, provider, sync_cursor, window_start, window_end,
                 last_full_sync_at, last_sync_at)
            SELECT p.connection_id, p.calendar_id, p.provider, p.sync_cursor, p.window_start, p.window_end,
                   CASE WHEN p.is_full THEN $now ELSE s.last_full_sync_at END, $now
            FROM sync_plans p LEFT JOIN raw.sync_state s USING (connection_id, calendar_id)
            """,
            {"now": now},
        )
        con.execute("DROP TABLE incoming")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("sync_plans", "staged_events", "removed_events"):
            con.unregister(name)
    return [counts[(c.connection_id, c.calendar_id)] for c in batch]


def _apply_removals(con: duckdb.DuckDBPyConnection, now: datetime) -> list[tuple[str, str]]:
    return con.execute(
        """
        UPDATE raw.calendar_events r SET status = 'cancelled', synced_at = $now
        WHERE r.status <> 'cancelled' AND EXISTS (
            SELECT 1 FROM removed_events x JOIN sync_plans p USING (connection_id, calendar_id)
            WHERE x.connection_id = r.connection_id AND x.calendar_id = r.calendar_id
              AND (r.event_id = x.event_id OR (x.series AND r.recurring_event_id = x.event_id))
              -- a Graph removal may only mean "left the window": rows outside it are history, kept
              AND (NOT x.window_only OR (r.end_at > p.window_start AND r.start_at < p.window_end)))
        RETURNING r.connection_id, r.calendar_id
        """,
        {"now": now},
    ).fetchall()


def _cancel_missing(con: duckdb.DuckDBPyConnection, now: datetime) -> list[tuple[str, str]]:
    """After a complete full listing, live rows inside the window that it did not return are gone."""
    return con.execute(
        """
        UPDATE raw.calendar_events r SET status = 'cancelled', synced_at = $now
        WHERE r.status <> 'cancelled' AND EXISTS (
            SELECT 1 FROM sync_plans p
            WHERE p.is_full AND p.connection_id = r.connection_id AND p.calendar_id = r.calendar_id
              AND r.end_at > p.window_start AND r.start_at < p.window_end)
          AND NOT EXISTS (
            SELECT 1 FROM incoming i
            WHERE i.connection_id = r.connection_id AND i.calendar_id = r.calendar_id AND i.event_id = r.event_id)
        RETURNING r.connection_id, r.calendar_id
        """,
        {"now": now},
    ).fetchall()


def purge_calendars_not_kept(
    con: duckdb.DuckDBPyConnection, connection_ids: list[str], kept: list[tuple[str, str]]
) -> dict[str, int]:
    """Rows and cursors of the connections' calendars not in `kept` leave the warehouse: a
    calendar the user stopped sharing with SMVue (or deleted) is not kept. Rows deleted per
    connection."""
    covered = pa.table({"connection_id": connection_ids})
    keep = pa.table(
        {"connection_id": [c for c, _ in kept], "calendar_id": [k for _, k in kept]},
        schema=pa.schema([("connection_id", pa.string()), ("calendar_id", pa.string())]),
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("purge_covered", covered)
        con.register("purge_kept", keep)
        not_kept = """t.connection_id IN (SELECT connection_id FROM purge_covered) AND NOT EXISTS (
            SELECT 1 FROM purge_kept k WHERE k.connection_id = t.connection_id AND k.calendar_id = t.calendar_id)"""
        deleted = con.execute(
            f"DELETE FROM raw.calendar_events t WHERE {not_kept} RETURNING t.connection_id"
        ).fetchall()
        con.execute(f"DELETE FROM raw.sync_state t WHERE {not_kept}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("purge_covered")
        con.unregister("purge_kept")
    counts: dict[str, int] = {}
    for (connection_id,) in deleted:
        counts[connection_id] = counts.get(connection_id, 0) + 1
    return counts

"""Invariant checks shared by assets (F17): computed inside the run that wrote the data."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import dagster as dg
import duckdb

from smvue_core.clock import parse_utc

FORBIDDEN_COLUMNS = ("description", "body", "bodypreview", "notes", "attachments")


def duplicate_keys(con: duckdb.DuckDBPyConnection, table: str, key: str) -> int:
    """How many key values occur more than once (`table` and `key` come from code, never input)."""
    return con.execute(
        f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]


def unique_event_key_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    duplicates = duplicate_keys(con, "raw.calendar_events", "connection_id, calendar_id, event_id")
    return dg.AssetCheckResult(
        check_name="unique_event_key",
        passed=duplicates == 0,
        metadata={"duplicate_keys": dg.MetadataValue.int(duplicates)},
    )


def privacy_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """No column anywhere in the warehouse named like a description or body, and, when a privacy
    canary is configured (SMVUE_PRIVACY_CANARY, set by the emulator-backed demo and tests), no
    stored text containing it."""
    columns = con.execute(
        """SELECT table_schema || '.' || table_name || '.' || column_name FROM information_schema.columns
           WHERE table_catalog = current_database() AND lower(column_name) IN (SELECT unnest($names))""",
        {"names": list(FORBIDDEN_COLUMNS)},
    ).fetchall()
    canary = os.environ.get("SMVUE_PRIVACY_CANARY")
    canary_rows = 0
    if canary:
        canary_rows = con.execute(
            "SELECT count(*) FROM raw.calendar_events r WHERE contains(CAST(r AS VARCHAR), $c)",
            {"c": canary},
        ).fetchone()[0]
    return dg.AssetCheckResult(
        check_name="no_description_stored",
        passed=not columns and canary_rows == 0,
        metadata={
            "forbidden_columns": dg.MetadataValue.text(", ".join(c[0] for c in columns) or "none"),
            "rows_with_canary": dg.MetadataValue.int(canary_rows),
            "canary_checked": dg.MetadataValue.bool(bool(canary)),
        },
    )


# The hourly reconcile syncs every connection: three hours without a sync means two were missed.
CONNECTION_STALE_AFTER = timedelta(hours=3)
NEEDS_ATTENTION = ("error", "needs_reconnect")


def connections_healthy_check(
    connections: list, now: datetime, encrypted: bool = False
) -> dg.AssetCheckResult:
    """Freshness per connection (F15, F17): none in `error` or `needs_reconnect`, and every connected
    one synced within CONNECTION_STALE_AFTER (counted from its creation until its first sync).
    With the warehouse encrypted the details leave out the error texts (they can quote emails)."""
    broken = [c for c in connections if c.status in NEEDS_ATTENTION]
    stale = [
        c
        for c in connections
        if c.status in ("connected", "syncing")
        and now - parse_utc(c.last_synced_at or c.created_at) > CONNECTION_STALE_AFTER
    ]
    lines = [
        f"- `{c.connection_id}` ({c.provider}): {c.status}"
        + ("" if encrypted else f": {c.last_error or 'no detail'}")
        for c in broken
    ]
    lines += [
        f"- `{c.connection_id}` ({c.provider}): last synced {c.last_synced_at or 'never'}" for c in stale
    ]
    return dg.AssetCheckResult(
        check_name="connections_healthy",
        passed=not broken and not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "connections": dg.MetadataValue.int(len(connections)),
            "needing_attention": dg.MetadataValue.int(len(broken)),
            "not_synced_recently": dg.MetadataValue.int(len(stale)),
            "stale_after_hours": dg.MetadataValue.float(CONNECTION_STALE_AFTER.total_seconds() / 3600),
            "details": dg.MetadataValue.md("\n".join(lines) or "every connection is healthy"),
        },
    )

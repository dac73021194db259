"""Invariant checks shared by assets (F17): computed inside the run that wrote the data."""

from __future__ import annotations

import os

import dagster as dg
import duckdb

FORBIDDEN_COLUMNS = ("description", "body", "bodypreview", "notes", "attachments")


def unique_event_key_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    duplicates = con.execute(
        """SELECT count(*) FROM (SELECT connection_id, calendar_id, event_id FROM raw.calendar_events
           GROUP BY ALL HAVING count(*) > 1)"""
    ).fetchone()[0]
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

"""What every chaos scenario checks at its end: tables compared with a clean run's, duplicates, and
no canary (the emulator's description canary, every token it issued, every watch secret) in any
file written under the scenario's SMVUE_HOME."""

from __future__ import annotations

import os
from pathlib import Path

from bench.smvue_sync import SmvueHome

# Compared columns: everything but who synced it when (synced_at) and the connection id (two homes
# connect the same mailbox under different ids); keyed by (provider, calendar, event).
COLUMNS = (
    "provider, calendar_id, event_id, calendar_name, ical_uid, recurring_event_id, original_start_at, "
    "status, title, start_at, end_at, is_all_day, time_zone, organizer_email, attendees, location, "
    "video_link, smvue_meeting_id, provider_updated_at"
)


def live_rows(home: SmvueHome, path: Path | None = None) -> dict[tuple, tuple]:
    rows = home.query(f"SELECT {COLUMNS} FROM raw.calendar_events WHERE status <> 'cancelled'", path=path)
    return {(r[0], r[1], r[2]): tuple(str(v) for v in r[3:]) for r in rows}


def duplicates(home: SmvueHome) -> int:
    """Rows sharing a key, or live rows of one calendar sharing an iCalUID and start (a copy)."""
    keyed = home.query(
        "SELECT count(*) - count(DISTINCT (connection_id, calendar_id, event_id)) FROM raw.calendar_events"
    )[0][0]
    copies = home.query(
        """SELECT coalesce(sum(n - 1), 0) FROM (
               SELECT count(*) AS n FROM raw.calendar_events
               WHERE status <> 'cancelled' AND ical_uid IS NOT NULL
               GROUP BY connection_id, calendar_id, ical_uid, start_at HAVING count(*) > 1)"""
    )[0][0]
    return int(keyed) + int(copies)


def compare(chaos: dict[tuple, tuple], clean: dict[tuple, tuple]) -> dict:
    missing = clean.keys() - chaos.keys()
    extra = chaos.keys() - clean.keys()
    differ = [k for k in clean.keys() & chaos.keys() if clean[k] != chaos[k]]
    return {
        "equal": not (missing or extra or differ),
        "rows": len(clean),
        "missing": len(missing),
        "extra": len(extra),
        "different": len(differ),
        "examples": [str(k) for k in list(missing)[:2] + list(extra)[:2] + differ[:2]],
    }


def secrets_of(admin) -> list[str]:
    found = admin.secrets()
    return [found["description_canary"], *found.get("tokens", [])]


def scan(roots: list[Path], secrets: list[str], canary_prefix: str = "CANARY-DESC") -> dict:
    """Every file under `roots`, byte for byte, for each secret; DuckDB files also through SQL
    (DuckDB may store strings compressed) for the description canary."""
    needles = [s.encode() for s in secrets if s and len(s) >= 8]
    files = hits = 0
    found: list[str] = []
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                files += 1
                for needle in needles:
                    if needle in data:
                        hits += 1
                        found.append(f"{path.relative_to(root)}: {needle[:6].decode(errors='replace')}…")
                if name.endswith(".duckdb") and canary_prefix:
                    sql_hits = _duckdb_hits(path, canary_prefix)
                    if sql_hits:
                        hits += sql_hits
                        found.append(f"{path.relative_to(root)}: {sql_hits} rows holding {canary_prefix}")
    return {"files_scanned": files, "hits": hits, "found": found[:10], "secrets": len(needles)}


def _duckdb_hits(path: Path, needle: str) -> int:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return 0  # a snapshot being replaced, or encrypted: the byte scan covered it
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
        total = 0
        for schema, table in tables:
            total += con.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" t WHERE CAST(t AS VARCHAR) LIKE ?',
                [f"%{needle}%"],
            ).fetchone()[0]
        return total
    finally:
        con.close()

"""Versioned schema migrations, applied when a process first opens the store, for both backends.

`schema_migrations` records each version applied. Version 1 is the baseline: on SQLite,
schema.sql plus the columns added since tables first shipped (idempotent, so a file from before
versions existed is brought up to it); on PostgreSQL, schema_pg.sql. Later versions are one list
of statements per backend, appended below and never edited once shipped.
"""

from __future__ import annotations

import sqlite3
from importlib import resources

from smvue_core.clock import now_iso

# Columns added after a table first shipped: CREATE TABLE IF NOT EXISTS leaves older SQLite files
# without them, so the baseline adds them (table, column, type).
ADDED_COLUMNS = (
    ("meetings", "calendar_updated_at", "TEXT"),
    ("outbox", "lease_owner", "TEXT"),
    ("outbox", "lease_until", "TEXT"),
    ("connections", "revoke_state", "TEXT"),
    ("connections", "revoke_attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("connections", "revoke_error", "TEXT"),
    ("watches", "tenant_id", "TEXT"),
    ("watches", "owner_id", "TEXT"),
    ("watches", "last_message_number", "INTEGER"),
    ("connections", "account_subject", "TEXT"),
    ("oauth_states", "browser_sha256", "TEXT"),
    ("prep_reminders", "state_reason", "TEXT"),
    ("prep_reminders", "payload", "TEXT"),
    ("prep_reminders", "lease_owner", "TEXT"),
    ("prep_reminders", "lease_until", "TEXT"),
)

# Version 2: named leases (the gateway replicas' housekeeping leader, opstore/leases.py).
_LEASES = """CREATE TABLE IF NOT EXISTS leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    until       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
)"""

# version -> statements, after the baseline; the same for both backends while the SQL allows.
LATER = {2: [_LEASES]}
LATEST = max(LATER)

_VERSIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
)"""


def _read(name: str) -> str:
    return resources.files("smvue_core.opstore").joinpath(name).read_text()


def migrate_sqlite(conn: sqlite3.Connection) -> None:
    """On a fresh connection in autocommit mode; safe against another process doing the same."""
    conn.execute(_VERSIONS_TABLE)
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    if 1 not in applied:
        conn.executescript(_read("schema.sql"))
        for table, column, kind in ADDED_COLUMNS:
            present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                try:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise
        conn.execute("INSERT OR IGNORE INTO schema_migrations VALUES (1, ?)", (now_iso(),))
    for version in sorted(LATER):
        if version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                conn.execute("ROLLBACK")
                continue
            for statement in LATER[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, now_iso()))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def migrate_postgres(raw) -> None:
    """On a psycopg connection in autocommit mode, under a session advisory lock: replicas starting
    together wait for the first one and then find nothing left to do."""
    from smvue_core.opstore.postgres import MIGRATION_LOCK

    raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        raw.execute(_VERSIONS_TABLE)
        applied = {row[0] for row in raw.execute("SELECT version FROM schema_migrations").fetchall()}
        steps = [] if 1 in applied else [(1, [_read("schema_pg.sql")])]
        steps += [(v, LATER[v]) for v in sorted(LATER) if v not in applied]
        for version, statements in steps:
            with raw.transaction():
                for statement in statements:
                    raw.execute(statement)
                raw.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, now_iso()))
    finally:
        raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

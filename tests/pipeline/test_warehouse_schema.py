"""raw.calendar_events is declared once (schema.sql); the Arrow schema the sync engine stages rows
in is derived from it, and has the types the engine writes (UTC microsecond timestamps)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from smvue_core.opstore import OpStore
from smvue_core.opstore.mirror import MirrorReader
from smvue_core.sync.raw_store import event_schema
from smvue_core.warehouse.database import ensure_schema, open_database
from smvue_core.warehouse.schema import arrow_schema


def test_the_staging_schema_is_the_tables_own(tmp_path):
    con = open_database(tmp_path / "w.duckdb")
    ensure_schema(con)
    declared = [row[0] for row in con.execute("DESCRIBE raw.calendar_events").fetchall()]
    assert event_schema().names == declared
    timestamps = {f.name: f.type for f in event_schema() if pa.types.is_timestamp(f.type)}
    assert set(timestamps) == {"original_start_at", "start_at", "end_at", "provider_updated_at", "synced_at"}
    assert set(timestamps.values()) == {pa.timestamp("us", tz="UTC")}
    attendee = event_schema().field("attendees").type
    assert attendee == pa.list_(
        pa.struct(
            [
                ("email", pa.string()),
                ("name", pa.string()),
                ("response_status", pa.string()),
                ("is_organizer", pa.bool_()),
                ("is_resource", pa.bool_()),
            ]
        )
    )
    with pytest.raises(KeyError):
        arrow_schema("raw.no_such_table")


def test_the_mirror_reads_only_what_may_leave_the_store(tmp_path):
    reader = MirrorReader(OpStore(tmp_path / "op.sqlite"))
    assert reader.rows("managers", ["manager_id", "name"]) == []
    for table, columns in [
        ("connections", ["connection_id", "secret"]),
        ("oauth_states", ["state"]),
        ("managers", ["manager_id", "name; DROP TABLE managers"]),
    ]:
        with pytest.raises(ValueError):
            reader.rows(table, columns)

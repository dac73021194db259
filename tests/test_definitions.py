"""The Dagster code location loads, and every definition describes itself to operators (F17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from smvue_pipeline.definitions import defs

ONE_ON_ONES = dg.AssetKey("one_on_one_meetings")
CADENCE_MARTS = ["cadence_metrics", "cadence_weekly", "upcoming_one_on_ones", "coaching_briefs"]
# The lineage the README and the UI screenshot show, edge by edge.
LINEAGE = [
    ("raw_calendar_events", "one_on_one_meetings"),
    ("one_on_one_meetings", "stg_analytics__one_on_one_meetings"),
    ("stg_analytics__one_on_one_meetings", "int_one_on_ones_deduplicated"),
    ("int_one_on_ones_deduplicated", "int_one_on_ones_held"),
    ("int_one_on_ones_held", "cadence_metrics"),
    ("cadence_metrics", "cadence_dashboard"),
]


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_every_asset_describes_itself(graph):
    keys = graph.get_all_asset_keys()
    assert len(keys) > 20
    problems = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        if not (node.description or "").strip():
            problems.append(f"{name}: no description")
        if not node.group_name or node.group_name == "default":
            problems.append(f"{name}: no group")
        if not node.kinds:
            problems.append(f"{name}: no kinds")
        if not node.owners:
            problems.append(f"{name}: no owner")
        if not graph.get_check_keys_for_assets({key}):
            problems.append(f"{name}: no asset check")
    assert not problems, "\n".join(problems)


def test_the_invariants_of_f17_are_checks(graph):
    def checks(asset: str) -> set[str]:
        return {c.name for c in graph.get_check_keys_for_assets({dg.AssetKey(asset)})}

    assert {"unique_event_key", "no_description_stored", "connections_healthy"} <= checks(
        "raw_calendar_events"
    )
    assert {"links_one_manager_and_one_rep", "unique_one_on_one_id", "no_description_column"} <= checks(
        "one_on_one_meetings"
    )
    for mirror in ("connections", "managers", "team_members", "meetings", "annotations", "prep_reminders"):
        assert "matches_operational_store" in checks(f"app_{mirror}")


def test_freshness_policies_on_the_cadence_assets(graph):
    for name in ["raw_calendar_events", "one_on_one_meetings", *CADENCE_MARTS]:
        assert graph.get(dg.AssetKey(name)).freshness_policy is not None, name


def test_lineage_runs_from_raw_events_to_cadence(graph):
    for upstream, downstream in LINEAGE:
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys, (upstream, downstream)


def test_sensors_schedules_and_jobs():
    for sensor in defs.sensors:
        assert sensor.description, sensor.name
        assert sensor.minimum_interval_seconds, sensor.name
    for schedule in defs.schedules:
        assert schedule.description, schedule.name
    names = {"sync_calendars_job", "renew_watches_job", "deliver_prep_reminders_job"}
    for name in names:
        job = defs.resolve_job_def(name)
        assert job.description, name
    # Every job a sensor or schedule launches exists.
    for target in [*defs.sensors, *defs.schedules]:
        assert target.job_name in names, target.name


# --- the checks' logic, on small inputs ----------------------------------------------------------
@dataclass
class FakeConnection:
    connection_id: str
    provider: str
    status: str
    last_synced_at: str | None
    created_at: str
    last_error: str | None = None


def test_connections_healthy_flags_broken_and_stale_connections():
    from smvue_pipeline.assets.checks import connections_healthy_check

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    recent = (now - timedelta(minutes=20)).isoformat()
    old = (now - timedelta(hours=5)).isoformat()
    healthy = [
        FakeConnection("a", "google", "connected", recent, old),
        FakeConnection("b", "microsoft", "connected", None, recent),  # new: its import is queued
        FakeConnection("c", "google", "disconnected", old, old),
    ]
    assert connections_healthy_check(healthy, now).passed
    stale = [*healthy, FakeConnection("d", "google", "connected", old, old)]
    result = connections_healthy_check(stale, now)
    assert not result.passed and result.metadata["not_synced_recently"].value == 1
    broken = [*healthy, FakeConnection("e", "microsoft", "needs_reconnect", recent, old, "invalid_grant")]
    result = connections_healthy_check(broken, now)
    assert not result.passed and "invalid_grant" in result.metadata["details"].value
    assert result.severity == dg.AssetCheckSeverity.WARN


def test_one_event_per_meeting_counts_live_copies_per_connection():
    from smvue_core.writeback.backflow import TaggedEvent
    from smvue_pipeline.assets.meeting_backflow import one_event_per_meeting_check

    def event(connection: str, event_id: str, status: str = "confirmed") -> TaggedEvent:
        return TaggedEvent(connection, event_id, "m1", status, None, None, None)

    once = {"m1": [event("c1", "e1"), event("c1", "e0", "cancelled"), event("c2", "e9")]}
    assert one_event_per_meeting_check(once).passed
    twice = {"m1": [event("c1", "e1"), event("c1", "e2")]}
    result = one_event_per_meeting_check(twice)
    assert not result.passed and result.metadata["meetings_with_duplicates"].value == 1


def test_mirror_check_compares_with_the_store():
    from smvue_pipeline.assets.app_tables import mirror_check, mirror_metadata

    con = duckdb.connect()
    con.execute("CREATE SCHEMA app")
    con.execute(
        "CREATE TABLE app.connections AS SELECT * FROM (VALUES ('c1', 'connected'), ('c2', 'error')) "
        "t(connection_id, status)"
    )
    assert mirror_check(con, "connections", 2).passed
    assert not mirror_check(con, "connections", 3).passed
    con.execute("INSERT INTO app.connections VALUES ('c1', 'connected')")
    result = mirror_check(con, "connections", 3)
    assert not result.passed and result.metadata["duplicate_keys"].value == 1
    metadata = mirror_metadata(con, "connections", 3)
    assert metadata["dagster/row_count"].value == 3
    assert metadata["status_connected"].value == 2 and metadata["status_error"].value == 1
    assert "| c1 |" in metadata["preview"].value


# Loads the code location, recording every process it starts, and what changed in the environment.
LOAD_AND_REPORT = """
import json, os, subprocess

started, popen_init = [], subprocess.Popen.__init__

def recording(self, args, *rest, **kwargs):
    started.append([str(arg) for arg in args] if isinstance(args, (list, tuple)) else [str(args)])
    popen_init(self, args, *rest, **kwargs)

subprocess.Popen.__init__ = recording
before = dict(os.environ)
import smvue_pipeline.definitions
changed = sorted(set(os.environ.items()) ^ set(before.items()))
print(json.dumps({"started": started, "changed": changed}))
"""


def test_loading_the_code_location_runs_no_dbt_and_sets_no_variable():
    """STYLE: modules Dagster loads do no I/O at import time — dbt is not run (the manifest is
    prepared beforehand), not even under `dagster dev`, and the environment is not written."""
    import json
    import os
    import sys
    from pathlib import Path

    from tests.processes import run

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "DAGSTER_IS_DEV_CLI": "1"}  # what `dagster dev` sets for its code servers
    result = run([sys.executable, "-c", LOAD_AND_REPORT], timeout=120, cwd=repo, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # (Dagster's vendored croniter runs `file` on the interpreter when imported: not ours.)
    assert [argv for argv in report["started"] if any("dbt" in Path(arg).name for arg in argv)] == []
    assert report["changed"] == []

"""Issue 13, item 4: calendar data at rest outside the warehouse.

After a real sync_calendars_job run (raw events, app tables, 1:1s, dbt cadence, reminders,
dashboard) on a Dagster instance under SMVUE_HOME, started from the usual umask 022: nothing under
SMVUE_HOME is group/world accessible, and with SMVUE_WAREHOUSE_KEY set no title, name or email
reached the Dagster event log's metadata (it is plain SQLite next to the encrypted warehouse).
"""

from __future__ import annotations

import os
import uuid

import dagster as dg
from dagster._serdes import serialize_value

from smvue.instance import ensure_dagster_home
from smvue_core.settings import Settings
from smvue_pipeline.assets.previews import preview_table
from tests.file_modes import group_or_world_accessible
from tests.sync import scenario

WAREHOUSE_KEY = "at-rest-test-key-not-a-secret"
REP_NAME = "Ana Rep"
METADATA_EVENTS = (
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_OBSERVATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
)


def metadata_events(instance: dg.DagsterInstance, run_id: str) -> dict[str, list[str]]:
    """The serialized metadata-bearing events of a run (materializations, observations, check
    evaluations), read back from the instance's event log, by asset."""
    found: dict[str, list[str]] = {}
    for record in instance.get_records_for_run(run_id, limit=100_000).records:
        event = record.event_log_entry.dagster_event
        if event is None or event.event_type not in METADATA_EVENTS:
            continue
        asset = event.asset_key.to_user_string() if event.asset_key else "-"
        found.setdefault(asset, []).append(serialize_value(event.event_specific_data))
    return found


def test_sync_run_leaves_smvue_home_owner_only_and_no_calendar_text_in_event_metadata(harness, monkeypatch):
    previous_umask = os.umask(0o022)  # a shell's usual default: SMVUe must tighten it itself
    try:
        monkeypatch.setenv("SMVUE_WAREHOUSE_KEY", WAREHOUSE_KEY)
        settings = Settings.from_env()
        assert settings.warehouse_key and settings.home == harness.home
        mailboxes = [harness.connect("google"), harness.connect("microsoft")]
        built = [scenario.build(m) for m in mailboxes]
        for mailbox in mailboxes:  # the series with REP_A becomes a 1:1, cadence and a reminder
            harness.connect_service.roster.upsert_team_member(
                f"rep_{uuid.uuid4().hex[:8]}", mailbox.manager_id, REP_NAME, scenario.REP_A, "2025-01-01"
            )

        from smvue_pipeline.definitions import build_pipeline_defs
        from tests.pipeline_runs import run_pipeline

        # What every Dagster process does first: load the code location (both, here).
        defs = build_pipeline_defs(settings)
        dagster_home = ensure_dagster_home(settings)
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
        with dg.DagsterInstance.get() as instance:
            assert instance.root_directory == str(dagster_home)
            result = run_pipeline(settings, instance, defs=defs, tags={"trigger": "at-rest-test"})
            assert result.success
            events = {}
            for run_id in result.run_ids:
                for asset, found in metadata_events(instance, run_id).items():
                    events.setdefault(asset, []).extend(found)
    finally:
        os.umask(previous_umask)

    # --- modes: everything under SMVUE_HOME is owner-only ---------------------------------------
    files = {
        os.path.relpath(os.path.join(f, n), harness.home) for f, _, ns in os.walk(harness.home) for n in ns
    }
    assert {"dashboard.html", "operational.sqlite-wal", "warehouse.duckdb", "published.duckdb"} <= files
    assert any(f.startswith("dagster/storage/") for f in files)
    assert group_or_world_accessible(harness.home) == []

    # --- the event log's metadata: ids and counts, never titles, names or emails ---------------
    for asset in (
        "raw_calendar_events",
        "app_connections",
        "app_managers",
        "app_team_members",
        "one_on_one_meetings",
        "cadence_metrics",
        "cadence_dashboard",
    ):
        assert events.get(asset), f"no metadata recorded for {asset}"
    assert any(m.connection_id in text for text in events["raw_calendar_events"] for m in mailboxes)
    assert any(m.manager_id in text for text in events["app_managers"] for m in mailboxes)

    secrets = harness.admin.secrets()
    needles = {
        secrets["description_canary"],
        scenario.PRIVATE_NOTES,
        REP_NAME,
        "Mara Manager",
        scenario.REP_A,
        scenario.REP_B,
    }
    needles.add(scenario.ROOM)
    for b in built:
        needles.add(b.mailbox.email)
        needles |= {e.title for e in b.expected.values()}
        needles |= set(b.mailbox.calendars)  # calendar names
    assert {"Pipeline review", "Weekly 1:1", "Team sync", "Coaching block"} <= needles
    leaks = sorted(
        {
            (asset, needle)
            for asset, texts in events.items()
            for text in texts
            for needle in needles
            if needle in text
        }
    )
    assert leaks == []


def test_previews_without_a_key_stay_whole_and_with_one_keep_ids_and_counts():
    columns = ["connection_id", "title", "calendar_name", "status", "attendees", "start_utc"]
    rows = [("conn_1", "Weekly 1:1", "olga@example.com", "confirmed", 2, "2026-03-11 10:00")]
    plain = preview_table(columns, rows, encrypted=False)
    assert "Weekly 1:1" in plain and "olga@example.com" in plain and "2026-03-11" in plain
    encrypted = preview_table(columns, rows, encrypted=True)
    assert encrypted.splitlines() == [
        "| connection_id | status | attendees |",
        "|---|---|---|",
        "| conn_1 | confirmed | 2 |",
    ]

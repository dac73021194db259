"""Issue 3, test 7: after runs on a real Dagster instance under SMVUE_HOME, with Python logging
captured to a file there, no description and no token appears in any file SMVue wrote."""

from __future__ import annotations

import logging
import os

import dagster as dg

from smvue.instance import ensure_dagster_home
from smvue_pipeline.assets.app_tables import app_tables
from smvue_pipeline.assets.raw_events import raw_calendar_events
from smvue_pipeline.resources.bindings import build_resources
from tests.sync import scenario


def every_file(root) -> list:
    return [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]


def run_job(harness, instance) -> dg.ExecuteInProcessResult:
    """The sync's own assets (issue 3) as a job on the real instance; the rest of
    sync_calendars_job (1:1s, dbt, reminders, dashboard) belongs to other suites."""
    defs = dg.Definitions(
        assets=[raw_calendar_events, app_tables],
        jobs=[dg.define_asset_job("sync_privacy_job", executor_def=dg.in_process_executor)],
        resources=build_resources(harness.settings),
    )
    job = defs.resolve_job_def("sync_privacy_job")
    return job.execute_in_process(instance=instance, tags={"trigger": "privacy-test"})


def test_no_description_or_token_in_any_file_under_smvue_home(harness, monkeypatch):
    dagster_home = ensure_dagster_home(harness.settings)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    log_path = harness.settings.logs_dir / "smvue.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # the worst case: every library's debug output
    try:
        mailboxes = [harness.connect("google"), harness.connect("microsoft")]
        built = [scenario.build(m) for m in mailboxes]
        with dg.DagsterInstance.get() as instance:
            assert instance.root_directory == str(dagster_home)
            first = run_job(harness, instance)
            for b in built:
                scenario.change(b)
            # Every access token expires: the second run refreshes (and stores) new ones.
            harness.expire_access_tokens(*mailboxes)
            second = run_job(harness, instance)
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(previous_level)

    for result in (first, second):
        assert result.success
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        privacy = checks["no_description_stored"]
        assert privacy.passed
        assert privacy.metadata["canary_checked"].value is True
        assert privacy.metadata["forbidden_columns"].value == "none"
    assert all(harness.connection(m.connection_id).status == "connected" for m in mailboxes)
    assert log_path.stat().st_size > 0 and "urllib3" in log_path.read_text()

    secrets = harness.admin.secrets()
    needles = {secrets["description_canary"].encode(): "description canary"}
    needles[scenario.PRIVATE_NOTES.encode()] = "the scenario's own description canary"
    needles.update({token.encode(): "issued token or code" for token in secrets["tokens"]})
    assert len(needles) > 10
    files = every_file(harness.home)
    assert any(f.endswith("-wal") for f in files), "the operational store's WAL is searched too"
    assert any(f.startswith(str(dagster_home)) for f in files)
    leaks = []
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        leaks += [(path, what) for needle, what in needles.items() if needle in data]
    assert leaks == []
    # And the warehouse holds no column named like a description or body.
    columns = harness.query(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database()"
    )
    assert not {c["column_name"].lower() for c in columns} & {"description", "body", "bodypreview", "notes"}

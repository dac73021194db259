"""Screenshots an operator and a reader would see, kept in test-artifacts/:

- dagster-lineage.png: the Dagster UI (dagster-webserver on this code location) showing the
  lineage raw_calendar_events → app mirrors → one_on_one_meetings → dbt staging → cadence_metrics;
- cadence-dashboard.png: the cadence dashboard built by a real sync run (emulator → Dagster job →
  dbt → published snapshot → HTML with its SVG charts).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests import processes
from tests.ui.conftest import INSTALL_CHROMIUM, ROOT, SCREENSHOT, distinct_colours, png_pixels, screenshot
from tests.waiting import free_port, scaled, wait_until

LOCATION = "smvue_pipeline.definitions"
LINEAGE_PATH = "/assets/cadence_metrics?view=lineage&lineageScope=upstream&lineageDepth=5"
LOADED_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
NODES_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"

WEBSERVER_UP = 60  # dagster-webserver loading the code location
WEBSERVER_STOP = 2 * 15
SYNC_RUN = 180  # the dashboard test's real sync job: imports, 1:1s, dbt, dashboard

pytestmark = pytest.mark.e2e  # a browser and a webserver: the slow layer


def check_png(path: Path, min_bytes: int, min_colours: int) -> None:
    width, height, _ = png_pixels(path)
    assert (width, height) == (1600, 1000)
    assert path.stat().st_size > min_bytes, f"{path} is only {path.stat().st_size} bytes"
    colours = distinct_colours(path)
    assert colours >= min_colours, f"{path} looks blank: {colours} colours"


@pytest.fixture
def webserver(tmp_path):
    """dagster-webserver on a free port with a temporary DAGSTER_HOME (nothing materialized)."""
    home = tmp_path / "dagster"
    home.mkdir()
    # No telemetry, and no "join the community" dialog over the graph.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMVUE_")}
    env.update({"DAGSTER_HOME": str(home), "SMVUE_HOME": str(tmp_path / "smvue"), "DO_NOT_TRACK": "1"})
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    with (tmp_path / "webserver.log").open("wb") as log:
        process = processes.spawn(
            [str(webserver_bin), "-m", LOCATION, "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    http = requests.Session()
    http.trust_env = False

    def loaded() -> bool:
        assert process.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
        try:
            answer = http.post(f"{url}/graphql", json={"query": LOADED_QUERY}, timeout=scaled(2))
            entries = answer.json()["data"]["workspaceOrError"]["locationEntries"]
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return False
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    try:
        wait_until(loaded, WEBSERVER_UP, "dagster-webserver loading the code location", poll=0.2)
        yield url, http
    finally:
        processes.stop(process, grace=WEBSERVER_STOP / 2)


@pytest.mark.timeout(INSTALL_CHROMIUM + WEBSERVER_UP + 30 + SCREENSHOT + WEBSERVER_STOP + 30)
def test_dagster_ui_asset_lineage(chromium, artifacts, webserver, tmp_path):
    url, http = webserver
    # What the page draws: the served graph links raw events to the 1:1s to the cadence marts.
    nodes = http.post(f"{url}/graphql", json={"query": NODES_QUERY}, timeout=scaled(30)).json()["data"][
        "assetNodes"
    ]
    parents = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }
    assert "raw_calendar_events" in parents["one_on_one_meetings"]
    assert "one_on_one_meetings" in parents["stg_analytics__one_on_one_meetings"]
    assert "int_one_on_ones_held" in parents["cadence_metrics"]

    out = screenshot(chromium, url + LINEAGE_PATH, artifacts / "dagster-lineage.png", tmp_path / "profile")
    check_png(out, min_bytes=60_000, min_colours=100)


@pytest.mark.timeout(INSTALL_CHROMIUM + SYNC_RUN + SCREENSHOT + 30)
def test_cadence_dashboard(chromium, artifacts, tmp_path, monkeypatch):
    import dagster as dg

    from calendar_emulator.server import EmulatorServer
    from smvue.demo.environment import connect_manager
    from smvue.demo.organisation import ORGANISATION, month_of_meetings
    from smvue.demo.seeding import seed_manager
    from smvue_core.connect import ConnectService
    from smvue_core.opstore import OpStore
    from smvue_core.opstore.roster import RosterRepository
    from smvue_core.security.cipher import TokenCipher
    from smvue_core.settings import Settings
    from smvue_pipeline.definitions import build_defs
    from smvue_pipeline.resources.bindings import build_resources
    from tests.admin import AdminClient

    # Its own emulator: the demo's organisation has fixed addresses the shared one may hold already.
    with EmulatorServer() as emulator:
        for name in [k for k in os.environ if k.startswith("SMVUE_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("SMVUE_HOME", str(tmp_path / "smvue"))
        monkeypatch.setenv("SMVUE_GOOGLE_API_BASE", f"{emulator.url}/google/calendar/v3/")
        monkeypatch.setenv("SMVUE_GOOGLE_AUTH_BASE", f"{emulator.url}/google/oauth2/")
        monkeypatch.setenv("SMVUE_GRAPH_API_BASE", f"{emulator.url}/microsoft/v1.0/")
        monkeypatch.setenv("SMVUE_MS_AUTHORITY", f"{emulator.url}/microsoft/common")
        settings = Settings.from_env()
        admin = AdminClient(emulator.url)
        store = OpStore(settings.opstore_path)
        roster = RosterRepository(store)
        resources = build_resources(settings)
        providers = {
            "google": resources["google_calendar"].client(),
            "microsoft": resources["outlook_calendar"].client(),
        }
        connect = ConnectService(store, TokenCipher(settings.secret_key()), providers, settings.public_url)
        today = datetime.now(UTC).date()
        for manager in ORGANISATION:
            seed_manager(admin, emulator.url, manager, month_of_meetings(manager, today))
            roster.upsert_manager(manager.manager_id, manager.name, manager.email)
            for rep in manager.reps:
                roster.upsert_team_member(
                    rep.rep_id, manager.manager_id, rep.name, rep.email, rep.start_date(today)
                )
            connect_manager(connect, manager)

        job = build_defs(settings).resolve_job_def("sync_calendars_job")
        with dg.instance_for_test() as instance:
            result = job.execute_in_process(
                instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            )
        assert result.success

    dashboard = settings.home / "dashboard.html"
    html = dashboard.read_text()
    assert html.count("<svg") >= 2 and "Maya Chen" in html and "Omar Haddad" in html
    out = screenshot(
        chromium, dashboard.as_uri(), artifacts / "cadence-dashboard.png", tmp_path / "profile", 5_000
    )
    check_png(out, min_bytes=40_000, min_colours=30)

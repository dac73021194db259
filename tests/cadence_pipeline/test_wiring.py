"""Definitions load; sync_calendars_job runs raw → 1:1s, cadence_job dbt → reminders → dashboard;
the delivery job needs no warehouse; the dashboard command answers bad input in one line."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from smvue_core.dashboard.render import build_dashboard, markdown_to_html
from smvue_core.warehouse import database


@pytest.fixture(scope="module")
def defs(dbt_manifest):
    from smvue_pipeline.definitions import build_pipeline_defs

    definitions = build_pipeline_defs()
    dg.Definitions.validate_loadable(definitions)
    return definitions


def test_the_hot_path_stops_at_the_one_on_ones_and_cadence_follows(defs):
    def selected(job_name: str) -> set[str]:
        job = defs.resolve_job_def(job_name)
        return {key.to_user_string() for key in job.asset_layer.selected_asset_keys}

    hot = selected("sync_calendars_job")
    assert {
        "raw_calendar_events",
        "meeting_backflow",
        "one_on_one_meetings",
        "meeting_classifications",
    } <= hot
    assert not hot & {"cadence_metrics", "prep_reminders", "cadence_dashboard", "app_prep_reminders"}
    keys = selected("cadence_job")
    assert selected("cadence_reconcile_job") == keys
    assert "one_on_one_meetings" not in keys
    assert {
        "app_prep_reminders",
        "cadence_metrics",
        "cadence_weekly",
        "upcoming_one_on_ones",
        "coaching_briefs",
        "prep_reminders",
        "cadence_dashboard",
    } <= keys
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("prep_reminders")).parent_keys
    assert {dg.AssetKey("one_on_one_meetings"), dg.AssetKey("coaching_briefs")} <= upstream
    assert (
        dg.AssetKey("one_on_one_meetings")
        in graph.get(dg.AssetKey("stg_analytics__one_on_one_meetings")).parent_keys
    )
    assert dg.AssetKey("prep_reminders") in graph.get(dg.AssetKey("cadence_dashboard")).parent_keys


def test_delivery_runs_apart_from_the_warehouse(defs):
    job = defs.resolve_job_def("deliver_prep_reminders_job")
    assert job.required_resource_keys - {"io_manager"} == {"opstore", "reminder_webhook"}
    sensor = defs.resolve_sensor_def("prep_reminder_sensor")
    assert sensor.minimum_interval_seconds == 30 and sensor.job_name == "deliver_prep_reminders_job"


def test_brief_markdown_is_escaped():
    html = markdown_to_html("### 1:1 with <b>Eve</b>\n\n- **Tenure:** 3 days\n- <script>x</script>")
    assert html == (
        "<h4>1:1 with &lt;b&gt;Eve&lt;/b&gt;</h4><ul><li><strong>Tenure:</strong> 3 days</li>"
        "<li>&lt;script&gt;x&lt;/script&gt;</li></ul>"
    )


def test_dashboard_before_dbt_ran_says_what_is_missing(tmp_path):
    with database.writer(tmp_path / "w.duckdb", tmp_path / "published.duckdb") as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS app")
        con.execute(
            "CREATE TABLE app.managers AS SELECT 'm1' AS manager_id, 'Maya <Chen>' AS name, 'm@x' AS email"
        )
    from datetime import UTC, datetime

    out = build_dashboard(
        tmp_path / "published.duckdb", None, tmp_path / "out" / "dashboard.html", datetime.now(UTC)
    )
    html = out.read_text()
    assert "Maya &lt;Chen&gt;" in html and "Not built yet: " in html and "analytics.cadence_metrics" in html


def test_dashboard_command_without_a_snapshot_is_one_line(tmp_path, monkeypatch, capsys):
    from smvue.cli import main

    monkeypatch.setenv("SMVUE_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("SMVUE_PUBLISHED", raising=False)
    monkeypatch.delenv("SMVUE_WAREHOUSE_KEY", raising=False)
    assert main(["dashboard"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("smvue dashboard: no published snapshot at ") and "\n" not in err

    with database.writer(tmp_path / "w.duckdb", tmp_path / "empty" / "published.duckdb") as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
    assert main(["dashboard", "--out", str(tmp_path / "d.html")]) == 0
    assert (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")


def test_dashboard_links_only_https_video_links():
    from datetime import UTC, datetime

    from smvue_core.dashboard.data import DashboardData, ManagerView, UpNext
    from smvue_core.dashboard.render import render

    links = [
        "https://meet.example.com/abc?x=1&y=2",
        "javascript:alert(document.domain)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://meet.example.com/plain",
    ]
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    manager = ManagerView("m1", "Maya")
    manager.up_next = [
        UpNext(f"o{i}", "Rep", now, f"1:1 {i}", link, None, "not_started") for i, link in enumerate(links)
    ]
    html = render(DashboardData([manager], now, [], 6, 6))
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == ["https://meet.example.com/abc?x=1&amp;y=2"]
    assert "javascript:alert(document.domain)" in html  # shown, as escaped text
    assert "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_each_cadence_build_runs_the_key_tests_and_the_reconcile_all_of_them(defs):
    """Every cadence build runs the dbt tests guarding the published tables' keys; the full suite
    (relationships, accepted values, the staging tests) runs after the hourly reconcile."""

    def checks(job_name: str) -> set[str]:
        return {k.name for k in defs.resolve_job_def(job_name).asset_layer.asset_graph.asset_check_keys}

    every_build, hourly = checks("cadence_job"), checks("cadence_reconcile_job")
    assert {
        "unique_cadence_metrics_rep_id",
        "unique_combination_of_columns_cadence_metrics_manager_id__rep_id",
        "unique_upcoming_one_on_ones_one_on_one_id",
        "unique_coaching_briefs_one_on_one_id",
        "unique_combination_of_columns_cadence_weekly_manager_id__rep_id__week_start",
    } <= every_build
    assert every_build < hourly
    assert "relationships_cadence_metrics_rep_id__rep_id__ref_stg_app__team_members_" in hourly - every_build
    assert not {name for name in every_build if name.startswith(("relationships_", "accepted_values_"))}

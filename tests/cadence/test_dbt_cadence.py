"""dbt_cadence end to end: the hand-made cases in fixtures.py, built once per warehouse mode
(plain and encrypted) and once through Dagster, checked row by row at AS_OF.

The boundary cases of the cadence math are dbt unit tests (models/**/*.yml), run by every build
here; these tests check what the marts say about whole scenarios."""

import os
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from smvue_core.warehouse.database import open_database
from smvue_pipeline.assets.cadence import cadence_dbt_assets, dbt_resource
from tests.cadence.conftest import WAREHOUSE_KEY, read_rows
from tests.cadence.fixtures import AS_OF, DAY, TEAM_MEMBERS, build_warehouse

MART_QUERIES = {
    "cadence_metrics": "SELECT * FROM analytics.cadence_metrics ORDER BY rep_id",
    "cadence_weekly": "SELECT * FROM analytics.cadence_weekly ORDER BY rep_id, week_start",
    "upcoming_one_on_ones": "SELECT * FROM analytics.upcoming_one_on_ones ORDER BY one_on_one_id",
    "coaching_briefs": "SELECT * FROM analytics.coaching_briefs ORDER BY one_on_one_id",
}


@pytest.fixture(scope="module")
def metrics(marts) -> dict[str, dict]:
    return {row["rep_id"]: row for row in marts(MART_QUERIES["cadence_metrics"])}


def test_every_rep_in_the_roster_has_one_metrics_row(metrics):
    assert sorted(metrics) == sorted(rep for rep, _, _, _ in TEAM_MEMBERS)


@pytest.mark.parametrize(
    ("rep_id", "expected"),
    [
        # exactly the weekly interval (7 days) since the last held 1:1
        ("rep_on_track", {"cadence_status": "on_track", "days_since_last_held": 7, "held_last_30d": 3}),
        # biweekly, 15 days: past the interval, not yet past 21
        ("rep_due", {"cadence_status": "due", "days_since_last_held": 15, "held_last_90d": 2}),
        # 22 days > 21; the cancelled and the declined 1:1 since then are not held
        ("rep_overdue", {"cadence_status": "overdue", "days_since_last_held": 22, "held_last_30d": 1}),
        ("rep_never_met", {"cadence_status": "never_met", "days_since_last_held": None, "held_last_90d": 0}),
        # 30 days since the last (overdue against 10) but a 1:1 in 2 days, within the interval
        ("rep_rescued", {"cadence_status": "on_track", "days_since_last_held": 30, "held_last_30d": 1}),
    ],
)
def test_cadence_status_per_rep(metrics, rep_id, expected):
    row = metrics[rep_id]
    assert {name: row[name] for name in expected} == expected


def test_suggestion_follows_tenure_and_says_why(metrics):
    assert (metrics["rep_on_track"]["tenure_days"], metrics["rep_on_track"]["suggested_cadence"]) == (
        168,
        "weekly",
    )
    assert metrics["rep_due"]["suggested_interval_days"] == 14
    assert metrics["rep_due"]["overdue_after_days"] == 21
    unknown = metrics["rep_never_met"]
    assert unknown["tenure_days"] is None and unknown["suggested_cadence"] == "biweekly"
    assert "tenure unknown" in unknown["suggestion_reason"]
    assert "0–90 days" in metrics["rep_rescued"]["suggestion_reason"]


def test_copies_and_reschedules_count_once_and_archived_not_at_all(metrics):
    # Held: one meeting on two calendars (10 days ago) and one moved occurrence (its cancelled
    # original and its held new time, 4 days ago); an archived held 1:1 2 days ago is left out.
    dedup = metrics["rep_dedup"]
    assert (dedup["held_last_30d"], dedup["held_last_90d"]) == (2, 2)
    assert dedup["last_held_at"] == AS_OF - 4 * DAY
    assert dedup["mean_interval_days"] == 6.0


def test_intervals_and_next_scheduled(metrics):
    assert metrics["rep_on_track"]["mean_interval_days"] == 7.0
    assert metrics["rep_on_track"]["median_interval_days"] == 7.0
    # held 72, 51, 44, 37, 30 days ago: intervals 21, 7, 7, 7
    assert metrics["rep_rescued"]["mean_interval_days"] == 10.5
    assert metrics["rep_rescued"]["median_interval_days"] == 7.0
    assert metrics["rep_rescued"]["next_scheduled_at"] == AS_OF + 2 * DAY
    # "next" is strictly after as_of: the 1:1 starting at as_of is Up Next, not next
    assert metrics["rep_up_next"]["next_scheduled_at"] == AS_OF + 7 * DAY - timedelta(seconds=1)


def test_up_next_window_and_prep_status(marts):
    rows = marts(MART_QUERIES["upcoming_one_on_ones"])
    # in: at exactly as_of, one second before as_of + 7 days, the rescued rep's 1:1;
    # out: at as_of + 7 days, archived, cancelled
    assert {row["one_on_one_id"]: row["prep_status"] for row in rows} == {
        "rs_next": "not_scheduled",  # its only reminder was withdrawn
        "up_at_as_of": "sent",
        "up_last_second": "failed",
    }
    first = next(row for row in rows if row["one_on_one_id"] == "up_at_as_of")
    assert first["rep_name"] == "Uma Up-Next"
    assert first["video_link"] == "https://meet.example.com/up_at_as_of"
    assert first["meeting_type"] == "Weekly"


def test_weekly_series_has_13_monday_weeks_per_pair(marts):
    rows = marts(MART_QUERIES["cadence_weekly"])
    assert len(rows) == 13 * len(TEAM_MEMBERS)
    weeks = sorted({row["week_start"] for row in rows})
    assert weeks[0] == date(2025, 3, 24) and weeks[-1] == date(2025, 6, 16)
    assert all(week.weekday() == 0 for week in weeks)
    by_week = {(row["rep_id"], row["week_start"]): row for row in rows}
    this_week, last_week = date(2025, 6, 16), date(2025, 6, 9)
    overdue = by_week[("rep_overdue", this_week)]
    assert (overdue["held_count"], overdue["declined_count"]) == (0, 1)
    assert by_week[("rep_overdue", last_week)]["cancelled_count"] == 1
    up_next = by_week[("rep_up_next", this_week)]
    # scheduled: the one at as_of (the archived one is left out); cancelled: Saturday's
    assert (up_next["scheduled_count"], up_next["cancelled_count"]) == (1, 1)
    # the moved occurrence: one held, its cancelled original not counted
    dedup = by_week[("rep_dedup", last_week)]
    assert (dedup["held_count"], dedup["cancelled_count"]) == (1, 0)
    assert sum(row["held_count"] for row in rows if row["rep_id"] == "rep_never_met") == 0


def test_coaching_brief_says_what_is_overdue(marts):
    briefs = {row["one_on_one_id"]: row for row in marts(MART_QUERIES["coaching_briefs"])}
    assert sorted(briefs) == ["rs_next", "up_at_as_of", "up_last_second"]

    rescued = briefs["rs_next"]
    assert rescued["cadence_status"] == "on_track"
    assert rescued["overdue_note"] == (
        "Last held 1:1 was 30 days ago: 20 days past the 10-day limit of the weekly cadence."
    )
    assert rescued["longest_gap_days"] == 30
    recent = rescued["recent_meetings"]
    assert [(m["status"], m["meeting_type"]) for m in recent] == [
        ("held", "Weekly"),
        ("held", "Weekly"),
        ("held", "Pipeline Review"),
        ("held", "Weekly"),
        ("cancelled", "Weekly"),
    ]
    assert recent[0]["start_at"] == AS_OF - 30 * DAY
    markdown = rescued["brief_markdown"]
    assert markdown.startswith("### 1:1 with Ravi Rescued — Fri 20 Jun 2025, 12:00 UTC")
    for text in ("**Tenure:** 78 days", "**Overdue:** Last held 1:1 was 30 days ago", "Pipeline Review"):
        assert text in markdown

    assert briefs["up_at_as_of"]["overdue_note"] is None
    assert "**Overdue:**" not in briefs["up_at_as_of"]["brief_markdown"]
    assert "**Prep reminder:** sent" in briefs["up_at_as_of"]["brief_markdown"]


def test_encrypted_warehouse_gives_the_same_marts(plain_warehouse, encrypted_warehouse):
    for query in MART_QUERIES.values():
        assert read_rows(encrypted_warehouse, query, WAREHOUSE_KEY) == read_rows(plain_warehouse, query)
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(encrypted_warehouse), read_only=True)
    # dbt's session database beside the warehouse holds nothing
    session = encrypted_warehouse.with_name(f"dbt-session-{encrypted_warehouse.name}")
    con = duckdb.connect(str(session), read_only=True)
    try:
        assert con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchone() == (0,)
    finally:
        con.close()


def test_dagster_materializes_the_cadence_assets_and_publishes(tmp_path, monkeypatch):
    warehouse, published = tmp_path / "warehouse.duckdb", tmp_path / "published.duckdb"
    build_warehouse(warehouse)
    monkeypatch.setenv("SMVUE_HOME", str(tmp_path))
    monkeypatch.setenv("SMVUE_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("SMVUE_PUBLISHED", str(published))
    monkeypatch.delenv("SMVUE_WAREHOUSE_KEY", raising=False)

    result = dg.materialize(
        [cadence_dbt_assets],
        resources={"dbt": dbt_resource()},
        run_config={"ops": {"cadence_dbt_assets": {"config": {"as_of": AS_OF.isoformat()}}}},
    )

    assert result.success
    row_counts = {
        event.materialization.asset_key.to_user_string(): event.materialization.metadata.get(
            "dagster/row_count"
        )
        for event in result.get_asset_materialization_events()
    }
    assert row_counts["cadence_metrics"] == dg.IntMetadataValue(len(TEAM_MEMBERS))
    assert row_counts["upcoming_one_on_ones"] == dg.IntMetadataValue(3)
    snapshot = read_rows(
        published, "SELECT rep_id, cadence_status FROM analytics.cadence_metrics ORDER BY rep_id"
    )
    assert {row["rep_id"]: row["cadence_status"] for row in snapshot}["rep_overdue"] == "overdue"


@pytest.mark.parametrize("key", [None, WAREHOUSE_KEY], ids=["plain", "encrypted"])
def test_a_run_tells_dbt_the_warehouse_by_vars_and_leaves_it_free(tmp_path, monkeypatch, key):
    """Only SMVUE_HOME set: the warehouse path dbt needs (and its extension directory) reach dbt
    and dagster-dbt's row counts as --vars, the environment is untouched, and once the run is done
    this process can open the warehouse for writing (as prep_reminders does next)."""
    for name in ("SMVUE_WAREHOUSE", "SMVUE_PUBLISHED", "SMVUE_DUCKDB_EXTENSION_DIR", "SMVUE_WAREHOUSE_KEY"):
        monkeypatch.delenv(name, raising=False)
    if key:
        monkeypatch.setenv("SMVUE_WAREHOUSE_KEY", key)
    monkeypatch.setenv("SMVUE_HOME", str(tmp_path))
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse, key)
    environment = dict(os.environ)

    result = dg.materialize(
        [cadence_dbt_assets],
        resources={"dbt": dbt_resource()},
        run_config={"ops": {"cadence_dbt_assets": {"config": {"as_of": AS_OF.isoformat()}}}},
    )

    assert result.success
    assert dict(os.environ) == environment
    counts = {
        event.materialization.asset_key.to_user_string(): event.materialization.metadata.get(
            "dagster/row_count"
        )
        for event in result.get_asset_materialization_events()
    }
    assert counts["cadence_metrics"] == dg.IntMetadataValue(len(TEAM_MEMBERS))
    con = open_database(warehouse, key)  # read-write: fails while a read-only handle is open here
    try:
        assert con.execute("SELECT count(*) FROM analytics.cadence_metrics").fetchone() == (
            len(TEAM_MEMBERS),
        )
    finally:
        con.close()
    published = read_rows(
        tmp_path / "published.duckdb", "SELECT count(*) AS n FROM analytics.cadence_metrics", key
    )
    assert published == [{"n": len(TEAM_MEMBERS)}]


def test_cadence_assets_are_wired_to_the_python_assets():
    specs = {spec.key.to_user_string(): spec for spec in cadence_dbt_assets.specs}
    upstream = {dep.asset_key.to_user_string() for dep in specs["stg_analytics__one_on_one_meetings"].deps}
    assert upstream == {"one_on_one_meetings"}
    assert {dep.asset_key.to_user_string() for dep in specs["stg_app__team_members"].deps} == {
        "app_team_members"
    }
    marts = specs["cadence_metrics"]
    assert marts.group_name == "cadence" and {"dbt", "duckdb"} <= marts.kinds
    assert marts.freshness_policy is not None
    assert "never_met" in marts.description
    assert cadence_dbt_assets.op.pool == "duckdb_warehouse"

"""`cadence_dashboard`: the HTML cadence dashboard, rebuilt at the end of every sync run (F18)."""

from datetime import UTC, datetime

import dagster as dg

from smvue_core.dashboard.data import DashboardData, load_published
from smvue_core.dashboard.render import build_dashboard
from smvue_pipeline.assets.reminders import CADENCE_MART_KEYS, PREP_REMINDERS
from smvue_pipeline.resources.dashboard import DashboardResource

CADENCE_DASHBOARD = dg.AssetKey("cadence_dashboard")
COMPLETE_CHECK = "dashboard_complete"
STATUSES = ("on_track", "due", "overdue", "never_met")


def dashboard_check(data: DashboardData, html: str) -> dg.AssetCheckResult:
    """Every table the page reads was there, and it drew its charts (inline SVG)."""
    charts = html.count("<svg")
    return dg.AssetCheckResult(
        check_name=COMPLETE_CHECK,
        passed=not data.missing_tables and (charts > 0 or not data.managers),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "missing_tables": dg.MetadataValue.text(", ".join(data.missing_tables) or "none"),
            "charts": dg.MetadataValue.int(charts),
        },
    )


def kpis(data: DashboardData) -> dict:
    """Pairs per cadence status (the UI plots them over time), managers and upcoming 1:1s."""
    reps = [rep for manager in data.managers for rep in manager.reps]
    counts = {status: sum(rep.status == status for rep in reps) for status in STATUSES}
    return {
        "managers": dg.MetadataValue.int(len(data.managers)),
        "pairs": dg.MetadataValue.int(len(reps)),
        **{f"pairs_{status}": dg.MetadataValue.int(n) for status, n in counts.items()},
        "up_next_7_days": dg.MetadataValue.int(sum(len(m.up_next) for m in data.managers)),
    }


@dg.asset(
    key=CADENCE_DASHBOARD,
    group_name="dashboards",
    kinds={"html"},
    owners=["team:smvue-data"],
    deps=[*CADENCE_MART_KEYS, dg.AssetKey("cadence_metrics"), dg.AssetKey("cadence_weekly"), PREP_REMINDERS],
    check_specs=[dg.AssetCheckSpec(COMPLETE_CHECK, asset=CADENCE_DASHBOARD)],
    tags={"domain": "dashboards"},
)
def cadence_dashboard(
    context: dg.AssetExecutionContext, dashboard: DashboardResource
) -> dg.MaterializeResult:
    """Self-contained HTML (inline SVG charts, no scripts): per manager, each rep's cadence status,
    days since the last held 1:1 against the suggested interval, weekly 1:1 counts, Up Next and
    the coaching briefs. Read from the published snapshot, so it needs no warehouse lock."""
    now = datetime.now(UTC)
    try:
        path = build_dashboard(dashboard.published_path, dashboard.encryption_key, dashboard.path, now)
        data = load_published(dashboard.published_path, dashboard.encryption_key, now)
    except FileNotFoundError as exc:
        raise dg.Failure(str(exc)) from None
    html = path.read_text(encoding="utf-8")
    context.log.info(f"dashboard written to {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "bytes": dg.MetadataValue.int(path.stat().st_size),
            **kpis(data),
        },
        check_results=[dashboard_check(data, html)],
    )

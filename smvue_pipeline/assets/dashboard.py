"""`cadence_dashboard`: the HTML cadence dashboard, rebuilt at the end of every sync run (F18)."""

from datetime import UTC, datetime

import dagster as dg

from smvue_pipeline.assets.reminders import CADENCE_MART_KEYS, PREP_REMINDERS
from smvue_pipeline.dashboard.render import build_dashboard
from smvue_pipeline.dashboard.resource import DashboardResource

CADENCE_DASHBOARD = dg.AssetKey("cadence_dashboard")


@dg.asset(
    key=CADENCE_DASHBOARD,
    group_name="dashboards",
    kinds={"html"},
    owners=["team:smvue-data"],
    deps=[*CADENCE_MART_KEYS, dg.AssetKey("cadence_metrics"), dg.AssetKey("cadence_weekly"), PREP_REMINDERS],
    tags={"domain": "dashboards"},
)
def cadence_dashboard(
    context: dg.AssetExecutionContext, dashboard: DashboardResource
) -> dg.MaterializeResult:
    """Self-contained HTML (inline SVG charts, no scripts): per manager, each rep's cadence status,
    days since the last held 1:1 against the suggested interval, weekly 1:1 counts, Up Next and
    the coaching briefs. Read from the published snapshot, so it needs no warehouse lock."""
    try:
        path = build_dashboard(
            dashboard.published_path, dashboard.encryption_key, dashboard.path, datetime.now(UTC)
        )
    except FileNotFoundError as exc:
        raise dg.Failure(str(exc)) from None
    context.log.info(f"dashboard written to {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "bytes": dg.MetadataValue.int(path.stat().st_size),
        }
    )

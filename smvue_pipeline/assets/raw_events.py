"""`raw_calendar_events`: every connected calendar's events, synced full or incrementally.

Runs are batched by configuration (a list of connections / calendars), not partitioned: a burst of
notifications over a hundred calendars becomes one run per sensor tick instead of a hundred runs,
each paying Dagster's seconds of launch cost and queueing for the single warehouse writer. Per-
connection outcomes are in the materialization metadata and in `app.connections`.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from smvue_core.sync.engine import ConnectionResult
from smvue_core.sync.request import CalendarRef, SyncRequest
from smvue_core.sync.service import mark_syncing, one_line, run_sync, select_jobs
from smvue_pipeline.assets.checks import connections_healthy_check, privacy_check, unique_event_key_check
from smvue_pipeline.assets.previews import error_summary, preview_table
from smvue_pipeline.resources.calendars import CalendarResource
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

RAW_EVENTS = dg.AssetKey("raw_calendar_events")
WAREHOUSE_POOL = "duckdb_warehouse"
# The reconcile schedule materializes this hourly even when no notification arrives.
RAW_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2))


class CalendarConfig(dg.Config):
    connection_id: str
    calendar_id: str


# The core request's defaults are the config's: one place says what an empty request means.
_DEFAULT = SyncRequest()


class SyncConfig(dg.Config):
    """Which calendars to sync (smvue_core/sync/request.py's SyncRequest, as Dagster run config).
    Empty lists mean every syncable connection and its calendars."""

    connection_ids: list[str] = Field(default_factory=list)
    calendars: list[CalendarConfig] = Field(default_factory=list)
    full: bool = Field(_DEFAULT.full, description="force a full resync instead of incremental")
    full_connection_ids: list[str] = Field(
        default_factory=list, description="force a full resync of these connections only"
    )
    queue_up_to: int = Field(
        _DEFAULT.queue_up_to, description="settle queued changes up to this id once committed"
    )
    past_days: int = _DEFAULT.past_days
    future_days: int = _DEFAULT.future_days
    fetch_workers: int = Field(
        _DEFAULT.fetch_workers,
        ge=1,
        le=32,
        description=(
            "connections fetched in parallel. Mapping pages is CPU-bound Python, so against a local "
            "emulator more threads add memory, not speed; against real providers (100 ms+ per "
            "request) raise it to 8 or more"
        ),
    )

    @classmethod
    def from_request(cls, request: SyncRequest) -> "SyncConfig":
        return cls(
            connection_ids=list(request.connection_ids),
            calendars=[
                CalendarConfig(connection_id=c.connection_id, calendar_id=c.calendar_id)
                for c in request.calendars
            ],
            full=request.full,
            full_connection_ids=list(request.full_connection_ids),
            queue_up_to=request.queue_up_to,
            past_days=request.past_days,
            future_days=request.future_days,
            fetch_workers=request.fetch_workers,
        )

    def to_request(self) -> SyncRequest:
        return SyncRequest(
            connection_ids=tuple(self.connection_ids),
            calendars=tuple(CalendarRef(c.connection_id, c.calendar_id) for c in self.calendars),
            full=self.full,
            full_connection_ids=tuple(self.full_connection_ids),
            queue_up_to=self.queue_up_to,
            past_days=self.past_days,
            future_days=self.future_days,
            fetch_workers=self.fetch_workers,
        )


# The newest rows, for the metadata preview; with the warehouse encrypted only their ids and
# counts are shown (assets/previews.py), so the ids are selected too.
PREVIEW_SQL = """SELECT provider, calendar_name, status, title, strftime(start_at, '%Y-%m-%d %H:%M') AS start_utc,
                        len(attendees) AS attendees, synced_at{ids}
                 FROM raw.calendar_events ORDER BY synced_at DESC, start_at DESC LIMIT 5"""


def results_table(results: list[ConnectionResult], encrypted: bool = False) -> str:
    lines = [
        "| connection | provider | outcome | inserted | updated | cancelled | pages | requests | retries |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        outcome = (
            "ok" if r.ok else error_summary(r.error, one_line(r.error), encrypted=encrypted).replace("|", "/")
        )
        modes = ",".join(sorted({c.mode for c in r.calendars})) or "-"
        lines.append(
            f"| {r.connection_id} | {r.provider} | {outcome} ({modes}) | {r.total('inserted')} | {r.total('updated')} "
            f"| {r.total('cancelled')} | {r.stats.pages} | {r.stats.requests} | {r.stats.retries} |"
        )
    return "\n".join(lines)


@dg.asset(
    key=RAW_EVENTS,
    group_name="calendar_sync",
    kinds={"duckdb", "python"},
    owners=["team:smvue-data"],
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec("unique_event_key", asset=RAW_EVENTS, blocking=True),
        dg.AssetCheckSpec("no_description_stored", asset=RAW_EVENTS, blocking=True),
        dg.AssetCheckSpec("connections_healthy", asset=RAW_EVENTS),
    ],
    freshness_policy=RAW_FRESHNESS,
    tags={"domain": "calendar"},
)
def raw_calendar_events(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    warehouse: WarehouseResource,
    opstore: OperationalStoreResource,
    google_calendar: CalendarResource,
    outlook_calendar: CalendarResource,
) -> dg.MaterializeResult:
    """Provider events (one row per instance per connection) in `raw.calendar_events`.

    Full sync over the window (90 days back, 30 ahead by default) on first import, when the
    window rolls forward and after a 410; incremental (Google syncToken, Graph delta link)
    otherwise. Cancelled and deleted events become `status = 'cancelled'`. No description or body
    is ever stored.
    """
    request = config.to_request()
    providers = {"google": google_calendar.client(), "microsoft": outlook_calendar.client()}
    connections = opstore.connections
    jobs = select_jobs(request, connections, providers)
    mark_syncing(jobs, connections)
    with warehouse.writer() as con:
        results = run_sync(request, jobs, con, connections, opstore.queue, now=lambda: datetime.now(UTC))
        row_count = con.execute("SELECT count(*) FROM raw.calendar_events").fetchone()[0]
        checks = [unique_event_key_check(con), privacy_check(con)]
        by_provider = dict(
            con.execute(
                "SELECT provider, count(*) FROM raw.calendar_events WHERE status <> 'cancelled' GROUP BY ALL"
            ).fetchall()
        )
        preview = con.execute(
            PREVIEW_SQL.format(ids=", connection_id, event_id" if warehouse.encrypted else "")
        )
        preview_md = preview_table(
            [d[0] for d in preview.description], preview.fetchall(), encrypted=warehouse.encrypted
        )
    checks.append(
        connections_healthy_check(opstore.connections.list(), datetime.now(UTC), warehouse.encrypted)
    )
    failed = [r for r in results if not r.ok]
    for r in failed:
        context.log.warning(f"connection {r.connection_id} failed: {one_line(r.error)}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(row_count),
            "connections_synced": dg.MetadataValue.int(len(results) - len(failed)),
            "connections_failed": dg.MetadataValue.int(len(failed)),
            "rows_inserted": dg.MetadataValue.int(sum(r.total("inserted") for r in results)),
            "rows_updated": dg.MetadataValue.int(sum(r.total("updated") for r in results)),
            "rows_cancelled": dg.MetadataValue.int(sum(r.total("cancelled") for r in results)),
            "calendars_gone": dg.MetadataValue.int(sum(c.gone for r in results for c in r.calendars)),
            "rows_purged": dg.MetadataValue.int(sum(r.purged for r in results)),
            "pages": dg.MetadataValue.int(sum(r.stats.pages for r in results)),
            "requests": dg.MetadataValue.int(sum(r.stats.requests for r in results)),
            **{f"live_events_{p}": dg.MetadataValue.int(n) for p, n in sorted(by_provider.items())},
            "per_connection": dg.MetadataValue.md(results_table(results, warehouse.encrypted)),
            "latest_rows": dg.MetadataValue.md(preview_md),
        },
        check_results=checks,
    )


def sync_run_config(request: SyncRequest) -> dg.RunConfig:
    """Run config for sync_calendars_job carrying `request` to this asset (sensor and schedule)."""
    return dg.RunConfig(ops={raw_calendar_events.op.name: SyncConfig.from_request(request)})

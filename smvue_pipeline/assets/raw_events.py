"""`raw_calendar_events`: every connected calendar's events, synced full or incrementally.

Runs are batched by configuration (a list of connections / calendars), not partitioned: a burst of
notifications over a hundred calendars becomes one run per sensor tick instead of a hundred runs,
each paying Dagster's seconds of launch cost and queueing for the single warehouse writer. Per-
connection outcomes are in the materialization metadata and in `app.connections`.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from smvue_core.opstore.connections import SYNCABLE
from smvue_core.providers.base import CalendarProvider, ReauthRequired
from smvue_core.sync.engine import ConnectionJob, ConnectionResult, SyncEngine
from smvue_pipeline.assets.checks import connections_healthy_check, privacy_check, unique_event_key_check
from smvue_pipeline.assets.previews import error_summary, preview_table
from smvue_pipeline.resources.calendars import CalendarResource
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

RAW_EVENTS = dg.AssetKey("raw_calendar_events")
WAREHOUSE_POOL = "duckdb_warehouse"
# The reconcile schedule materializes this hourly even when no notification arrives.
RAW_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2))


class CalendarRef(dg.Config):
    connection_id: str
    calendar_id: str


class SyncRequest(dg.Config):
    """Which calendars to sync. Empty lists mean every syncable connection and its calendars."""

    connection_ids: list[str] = Field(default_factory=list)
    calendars: list[CalendarRef] = Field(default_factory=list)
    full: bool = Field(False, description="force a full resync instead of incremental")
    full_connection_ids: list[str] = Field(
        default_factory=list, description="force a full resync of these connections only"
    )
    queue_up_to: int = Field(0, description="settle queued changes up to this id once committed")
    past_days: int = 90
    future_days: int = 30
    fetch_workers: int = Field(
        2,
        ge=1,
        le=32,
        description=(
            "connections fetched in parallel. Mapping pages is CPU-bound Python, so against a local "
            "emulator more threads add memory, not speed; against real providers (100 ms+ per "
            "request) raise it to 8 or more"
        ),
    )


def select_jobs(
    request: SyncRequest, opstore: OperationalStoreResource, providers: dict[str, CalendarProvider]
):
    """The connections and calendars this run covers, each with a way to open its session."""
    repo = opstore.connections
    wanted_calendars: dict[str, set[str]] = defaultdict(set)
    for ref in request.calendars:
        wanted_calendars[ref.connection_id].add(ref.calendar_id)
    wanted = set(request.connection_ids) | set(wanted_calendars)
    jobs = []
    for connection in repo.list(SYNCABLE):
        if wanted and connection.connection_id not in wanted:
            continue
        if not connection.has_credentials:
            continue
        calendars = repo.calendars(connection.connection_id)
        selected = frozenset(c.calendar_id for c in calendars)
        only = wanted_calendars.get(connection.connection_id)
        if only and connection.connection_id not in request.connection_ids:
            calendars = [c for c in calendars if c.calendar_id in only]
        if not calendars:
            continue
        provider = providers[connection.provider]
        jobs.append(
            ConnectionJob(
                connection_id=connection.connection_id,
                provider=connection.provider,
                open_session=_session_opener(provider, repo, connection.connection_id),
                calendars=calendars,
                keep_only=selected,
                force_full=request.full or connection.connection_id in request.full_connection_ids,
            )
        )
    return jobs


def _session_opener(provider: CalendarProvider, repo, connection_id: str):
    def open_session():
        credentials = repo.credentials(connection_id)
        if credentials is None:
            raise ReauthRequired("no stored credentials")
        return provider.session(credentials, lambda fresh: repo.save_credentials(connection_id, fresh))

    return open_session


def record_outcomes(
    results: list[ConnectionResult], opstore: OperationalStoreResource, queue_up_to: int
) -> None:
    """Connection status after the warehouse committed; queued changes settled only then."""
    repo = opstore.connections
    for result in results:
        for calendar in result.calendars:
            if calendar.gone:
                repo.forget_calendar(result.connection_id, calendar.calendar_id)
        if result.ok:
            repo.set_status(result.connection_id, "connected", synced=True)
            if queue_up_to:
                opstore.queue.settle(
                    result.connection_id, [c.calendar_id for c in result.calendars], queue_up_to
                )
        elif isinstance(result.error, ReauthRequired):
            repo.set_status(
                result.connection_id, "needs_reconnect", error=f"reconnect needed: {result.error}"
            )
        else:
            repo.set_status(result.connection_id, "error", error=_one_line(result.error))


def _one_line(error: BaseException | None) -> str:
    text = f"{type(error).__name__}: {error}" if error else "unknown error"
    return text.splitlines()[0][:500]


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
            "ok"
            if r.ok
            else error_summary(r.error, _one_line(r.error), encrypted=encrypted).replace("|", "/")
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
    config: SyncRequest,
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
    providers = {"google": google_calendar.client(), "microsoft": outlook_calendar.client()}
    jobs = select_jobs(config, opstore, providers)
    for job in jobs:
        opstore.connections.set_status(job.connection_id, "syncing")
    with warehouse.writer() as con:
        engine = SyncEngine(
            con,
            now=lambda: datetime.now(UTC),
            past_days=config.past_days,
            future_days=config.future_days,
            max_workers=config.fetch_workers,
        )
        results = engine.run(jobs)
        record_outcomes(results, opstore, config.queue_up_to)
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
        context.log.warning(f"connection {r.connection_id} failed: {_one_line(r.error)}")
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

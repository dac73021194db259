"""`meeting_backflow`: moves and cancellations made in the calendar flow back to SMVue meetings (F14).

The comparison and the updates are smvue_core/writeback/backflow.py; this asset runs them after the
sync and reports what changed, with the one-event-per-meeting check.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from smvue_core.opstore.meetings import MeetingRepository
from smvue_core.warehouse import database
from smvue_core.writeback.backflow import (
    Change,
    TaggedEvent,
    apply_backflow,
    duplicated_meetings,
    tagged_events,
    utc_seconds,
)
from smvue_pipeline.assets.previews import preview_table
from smvue_pipeline.assets.raw_events import RAW_EVENTS, WAREHOUSE_POOL
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

MEETING_BACKFLOW = dg.AssetKey("meeting_backflow")
APP_MEETINGS = dg.AssetKey("app_meetings")


ONE_EVENT_CHECK = "one_calendar_event_per_meeting"


def one_event_per_meeting_check(events: dict[str, list[TaggedEvent]]) -> dg.AssetCheckResult:
    """F14's promise: however write-back retried or crashed, a meeting has at most one live event
    carrying its tag on any one connection's calendars."""
    duplicated = duplicated_meetings(events)
    return dg.AssetCheckResult(
        check_name=ONE_EVENT_CHECK,
        passed=not duplicated,
        metadata={
            "meetings_with_events": dg.MetadataValue.int(len(events)),
            "meetings_with_duplicates": dg.MetadataValue.int(len(duplicated)),
            "examples": dg.MetadataValue.md("\n".join(f"- `{m}`" for m in duplicated[:10]) or "none"),
        },
    )


def _preview(applied: list[Change], encrypted: bool = False) -> str:
    if not applied:
        return "No meeting was moved or cancelled in the calendar."
    return preview_table(
        ["meeting", "change", "event", "calendar start", "calendar end"],
        [
            (
                c.meeting.meeting_id,
                c.kind,
                c.event.event_id,
                utc_seconds(c.event.start_at),
                utc_seconds(c.event.end_at),
            )
            for c in applied[:50]
        ],
        encrypted=encrypted,
    )


@dg.asset(
    key=MEETING_BACKFLOW,
    deps=[RAW_EVENTS],
    group_name="write_back",
    kinds={"duckdb", "sqlite"},
    owners=["team:smvue-data"],
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(ONE_EVENT_CHECK, asset=MEETING_BACKFLOW)],
    tags={"domain": "calendar"},
)
def meeting_backflow(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, opstore: OperationalStoreResource
) -> dg.MaterializeResult:
    """SMVue meetings updated from their calendar events: moved in the calendar → new start and end;
    cancelled or deleted there → status `cancelled`. Only synced meetings with no change of SMVue's
    own still waiting to be written; no write-back follows (the calendar already says so)."""
    repo = MeetingRepository(opstore.store)
    meetings = repo.synced_with_events()
    # Read in this run's writer connection: the run holds the warehouse pool.
    with warehouse.writer() as con:
        events = tagged_events(con)
    applied = apply_backflow(repo, meetings, events, datetime.now(UTC))
    for change in applied:
        context.log.info(f"meeting {change.meeting.meeting_id}: {change.kind} in the calendar")
    return dg.MaterializeResult(
        metadata={
            "meetings_compared": dg.MetadataValue.int(len(meetings)),
            "tagged_events": dg.MetadataValue.int(sum(len(v) for v in events.values())),
            "moved": dg.MetadataValue.int(sum(c.kind == "moved" for c in applied)),
            "cancelled": dg.MetadataValue.int(sum(c.kind == "cancelled" for c in applied)),
            "changes": dg.MetadataValue.md(_preview(applied, warehouse.encrypted)),
        },
        check_results=[one_event_per_meeting_check(events)],
    )


@dg.asset_check(
    asset=APP_MEETINGS,
    name="no_failed_writebacks",
    description="Every SMVue meeting reached the calendar (or is on its way): none in write-back state `failed`.",
)
def no_failed_writebacks(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    rows, failed = [], []
    # The published snapshot is app.meetings as the mirror just wrote it, readable without the lock.
    if Path(warehouse.published_path).exists():
        con = database.open_database(warehouse.published_path, warehouse.encryption_key, read_only=True)
        try:
            rows = con.execute("SELECT writeback_state, count(*) FROM app.meetings GROUP BY ALL").fetchall()
            failed = con.execute(
                """SELECT meeting_id, writeback_error FROM app.meetings WHERE writeback_state = 'failed'
                   ORDER BY updated_at DESC LIMIT 10"""
            ).fetchall()
        except duckdb.CatalogException:
            pass  # no meeting mirrored yet
        finally:
            con.close()
    counts = {state: count for state, count in rows}
    # A write-back error quotes the provider's answer (calendar ids are emails): not with a key.
    examples = "\n".join(f"- `{m}`" + ("" if warehouse.encrypted else f": {e}") for m, e in failed) or "none"
    return dg.AssetCheckResult(
        passed=counts.get("failed", 0) == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "pending": dg.MetadataValue.int(counts.get("pending", 0)),
            "synced": dg.MetadataValue.int(counts.get("synced", 0)),
            "failed": dg.MetadataValue.int(counts.get("failed", 0)),
            "latest_failures": dg.MetadataValue.md(examples),
        },
    )

"""`meeting_backflow`: moves and cancellations made in the calendar flow back to SMVue meetings (F14).

The round trip: write-back puts a meeting's event on the calendar tagged with the meeting id; sync
brings it back into raw.calendar_events with `smvue_meeting_id` set (it links to the meeting, it is
never a second 1:1); when the user moved or cancelled it in the calendar, this asset updates the
meeting in the operational store — the calendar wins for changes made there.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from smvue_core.opstore.meetings import Meeting, MeetingRepository
from smvue_core.warehouse import database
from smvue_pipeline.assets.previews import preview_table
from smvue_pipeline.assets.raw_events import RAW_EVENTS, WAREHOUSE_POOL
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

MEETING_BACKFLOW = dg.AssetKey("meeting_backflow")
APP_MEETINGS = dg.AssetKey("app_meetings")


@dataclass(frozen=True)
class TaggedEvent:
    connection_id: str
    event_id: str
    meeting_id: str
    status: str
    start_at: datetime | None
    end_at: datetime | None
    provider_updated_at: datetime | None


@dataclass(frozen=True)
class Change:
    meeting: Meeting
    event: TaggedEvent
    kind: str  # moved | cancelled


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(microsecond=0) if value else None


def tagged_events(con) -> dict[str, list[TaggedEvent]]:
    rows = con.execute(
        """SELECT connection_id, event_id, smvue_meeting_id, status, start_at, end_at, provider_updated_at
           FROM raw.calendar_events WHERE smvue_meeting_id IS NOT NULL"""
    ).fetchall()
    by_meeting: dict[str, list[TaggedEvent]] = {}
    for row in rows:
        event = TaggedEvent(*row)
        by_meeting.setdefault(event.meeting_id, []).append(event)
    return by_meeting


def plan_changes(meetings: list[Meeting], events: dict[str, list[TaggedEvent]]) -> list[Change]:
    """What the calendar changed, meeting by meeting. Only the event write-back recorded for the
    meeting (`provider_event_id`, on the meeting's own connection) counts, and only while it still
    carries the meeting's tag. Another event with the tag (on Outlook a tag is just a
    `transactionId`, which anyone can give an event) is never followed."""
    changes = []
    for meeting in meetings:
        if meeting.status != "scheduled":
            continue
        recorded = [
            e
            for e in events.get(meeting.meeting_id, [])
            if e.connection_id == meeting.connection_id and e.event_id == meeting.provider_event_id
        ]
        if not recorded:
            continue  # not synced back yet: the next run compares it
        event = recorded[0]
        if event.status == "cancelled":
            # A deletion carries no new stamp; SMVue never revives an event, so it is the user's.
            changes.append(Change(meeting, event, "cancelled"))
            continue
        moved = (_utc(event.start_at), _utc(event.end_at)) != (_utc(meeting.start_at), _utc(meeting.end_at))
        # A row fetched before SMVue's own last write is stale, not a move made in the calendar.
        newer = (
            meeting.calendar_updated_at is None
            or event.provider_updated_at is None
            or event.provider_updated_at > meeting.calendar_updated_at
        )
        if moved and newer and event.start_at and event.end_at:
            changes.append(Change(meeting, event, "moved"))
    return changes


ONE_EVENT_CHECK = "one_calendar_event_per_meeting"


def one_event_per_meeting_check(events: dict[str, list[TaggedEvent]]) -> dg.AssetCheckResult:
    """F14's promise: however write-back retried or crashed, a meeting has at most one live event
    carrying its tag on any one connection's calendars."""
    duplicated = sorted(
        meeting_id
        for meeting_id, tagged in events.items()
        if any(
            sum(e.connection_id == c and e.status != "cancelled" for e in tagged) > 1
            for c in {e.connection_id for e in tagged}
        )
    )
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
            (c.meeting.meeting_id, c.kind, c.event.event_id, _utc(c.event.start_at), _utc(c.event.end_at))
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
    now = datetime.now(UTC)
    applied = []
    for change in plan_changes(meetings, events):
        done = repo.apply_calendar_change(
            change.meeting.meeting_id,
            change.meeting.version,
            start_at=_utc(change.event.start_at) if change.kind == "moved" else None,
            end_at=_utc(change.event.end_at) if change.kind == "moved" else None,
            cancelled=change.kind == "cancelled",
            calendar_updated_at=change.event.provider_updated_at,
            now=now,
        )
        if done:
            applied.append(change)
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

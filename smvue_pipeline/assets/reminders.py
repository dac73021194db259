"""`prep_reminders`: plan one prep reminder per upcoming 1:1 occurrence (F12), after the cadence marts.

Planning writes the operational store (where delivery claims from, outside the warehouse) and
then copies the reminders into `analytics.prep_reminders` for readers. Lead time: 24 h by default
(asset config `default_lead_minutes`), per-manager overrides in the opstore table
`reminder_settings` (ReminderRepository.set_lead_time).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pyarrow as pa
from pydantic import Field

from smvue_core.opstore.reminders import Reminder, ReminderRepository
from smvue_core.reminders.planner import plan_and_store
from smvue_pipeline.assets.one_on_ones import ONE_ON_ONES, parse_as_of
from smvue_pipeline.assets.previews import preview_table
from smvue_pipeline.assets.raw_events import WAREHOUSE_POOL
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

PREP_REMINDERS = dg.AssetKey("prep_reminders")
# The dbt marts this runs after (keys from assets/cadence.py's translator): the reminder payload
# carries the coaching brief, and Up Next shows the prep status on the next run.
CADENCE_MART_KEYS = [dg.AssetKey("upcoming_one_on_ones"), dg.AssetKey("coaching_briefs")]

TS = pa.timestamp("us", tz="UTC")
SNAPSHOT_SCHEMA = pa.schema(
    [
        ("reminder_id", pa.string()),
        ("one_on_one_id", pa.string()),
        ("manager_id", pa.string()),
        ("rep_id", pa.string()),
        ("meeting_start_at", TS),
        ("remind_at", TS),
        ("sent_at", TS),
        ("delivery_state", pa.string()),
        ("attempts", pa.int32()),
        ("next_attempt_at", TS),
        ("last_error", pa.string()),
        ("state_reason", pa.string()),
    ]
)


class PrepReminderConfig(dg.Config):
    default_lead_minutes: int = Field(
        24 * 60, description="minutes before the 1:1 (per-manager overrides win)"
    )
    as_of: str | None = Field(None, description="ISO timestamp used as 'now'; default: the current time")


WITHDRAWN_CHECK = "no_reminder_for_cancelled_or_archived"


def withdrawn_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """F12: a cancelled, declined, archived or vanished 1:1 has no reminder waiting to be sent."""
    if not con.execute(
        """SELECT count(*) FROM information_schema.tables
           WHERE table_schema = 'analytics' AND table_name = 'one_on_one_meetings'"""
    ).fetchone()[0]:
        return dg.AssetCheckResult(check_name=WITHDRAWN_CHECK, passed=True, description="no 1:1s yet")
    rows = con.execute(
        """SELECT r.reminder_id, coalesce(o.status, 'gone') AS meeting, coalesce(o.is_archived, false)
           FROM analytics.prep_reminders r
           LEFT JOIN analytics.one_on_one_meetings o USING (one_on_one_id)
           WHERE r.delivery_state IN ('scheduled', 'sending')
             AND (o.one_on_one_id IS NULL OR o.status IN ('cancelled', 'declined') OR o.is_archived)
           ORDER BY 1"""
    ).fetchall()
    examples = "\n".join(f"- `{r}`: 1:1 {m}{' (archived)' if a else ''}" for r, m, a in rows[:10])
    return dg.AssetCheckResult(
        check_name=WITHDRAWN_CHECK,
        passed=not rows,
        metadata={
            "reminders_pending_for_dead_1on1s": dg.MetadataValue.int(len(rows)),
            "examples": dg.MetadataValue.md(examples or "none"),
        },
    )


def delivery_state(reminder: Reminder, now: datetime) -> str:
    return "sending" if reminder.state == "scheduled" and reminder.is_leased(now) else reminder.state


def write_snapshot(con: duckdb.DuckDBPyConnection, reminders: list[Reminder], now: datetime) -> None:
    """Replace analytics.prep_reminders with the opstore's reminders, in one transaction."""
    columns = {
        "reminder_id": [r.reminder_id for r in reminders],
        "one_on_one_id": [r.one_on_one_id for r in reminders],
        "manager_id": [r.manager_id for r in reminders],
        "rep_id": [r.rep_id for r in reminders],
        "meeting_start_at": [r.meeting_start_at for r in reminders],
        "remind_at": [r.remind_at for r in reminders],
        "sent_at": [r.sent_at for r in reminders],
        "delivery_state": [delivery_state(r, now) for r in reminders],
        "attempts": [r.attempts for r in reminders],
        "next_attempt_at": [r.next_attempt_at for r in reminders],
        "last_error": [r.last_error for r in reminders],
        "state_reason": [r.state_reason for r in reminders],
    }
    con.register("reminder_rows", pa.table(columns, schema=SNAPSHOT_SCHEMA))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        con.execute("CREATE OR REPLACE TABLE analytics.prep_reminders AS SELECT * FROM reminder_rows")
        con.execute("COMMIT")
    finally:
        con.unregister("reminder_rows")


@dg.asset(
    key=PREP_REMINDERS,
    group_name="reminders",
    kinds={"duckdb", "sqlite"},
    owners=["team:smvue-data"],
    deps=[ONE_ON_ONES, *CADENCE_MART_KEYS],
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(WITHDRAWN_CHECK, asset=PREP_REMINDERS)],
    tags={"domain": "reminders"},
)
def prep_reminders(
    context: dg.AssetExecutionContext,
    config: PrepReminderConfig,
    warehouse: WarehouseResource,
    opstore: OperationalStoreResource,
) -> dg.MaterializeResult:
    """`analytics.prep_reminders`: one prep reminder per upcoming 1:1 occurrence at start − lead time
    (24 h unless the manager set another), moved when the 1:1 moves, withdrawn when it is cancelled,
    declined or archived, never sent twice. Delivery state comes from prep_reminder_sensor's runs."""
    now = parse_as_of(config.as_of)
    if not 0 <= config.default_lead_minutes <= 20160:
        raise dg.Failure(
            f"default_lead_minutes must be between 0 and 20160, got {config.default_lead_minutes}"
        )
    repo = ReminderRepository(opstore.store)
    with warehouse.writer() as con:
        outcome = plan_and_store(con, repo, now, timedelta(minutes=config.default_lead_minutes))
        reminders = repo.all()
        write_snapshot(con, reminders, now)
        check = withdrawn_check(con)
    states: dict[str, int] = {}
    for r in reminders:
        states[delivery_state(r, now)] = states.get(delivery_state(r, now), 0) + 1
    upcoming = sorted((r for r in reminders if r.state == "scheduled"), key=lambda r: r.remind_at)[:5]
    preview = preview_table(
        ["reminder_id", "manager_id", "rep_id", "remind_at", "meeting_start_at", "attempts"],
        [
            (r.reminder_id, r.manager_id, r.rep_id, _utc(r.remind_at), _utc(r.meeting_start_at), r.attempts)
            for r in upcoming
        ],
        encrypted=warehouse.encrypted,
    )
    context.log.info(
        f"prep reminders: {outcome.created} created, {outcome.moved} moved, {outcome.withdrawn} withdrawn"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(reminders)),
            "created": dg.MetadataValue.int(outcome.created),
            "moved": dg.MetadataValue.int(outcome.moved),
            "withdrawn": dg.MetadataValue.int(outcome.withdrawn),
            **{f"state_{name}": dg.MetadataValue.int(count) for name, count in sorted(states.items())},
            "next_reminders": dg.MetadataValue.md(preview),
        },
        check_results=[check],
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")

"""`prep_reminders`: plan one prep reminder per upcoming 1:1 occurrence (F12), after the cadence marts.

Planning writes the operational store (where delivery claims from, outside the warehouse) and
then copies the reminders into `analytics.prep_reminders` for readers. Lead time: 24 h by default
(asset config `default_lead_minutes`), per-manager overrides in the opstore table
`reminder_settings` (ReminderRepository.set_lead_time).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from smvue_core.opstore.reminders import ReminderRepository
from smvue_core.reminders.snapshot import refresh
from smvue_pipeline.assets.one_on_ones import ONE_ON_ONES, parse_as_of
from smvue_pipeline.assets.previews import preview_table
from smvue_pipeline.assets.raw_events import WAREHOUSE_POOL
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

PREP_REMINDERS = dg.AssetKey("prep_reminders")
# The dbt marts this runs after (keys from assets/cadence.py's translator): the reminder payload
# carries the coaching brief, and Up Next shows the prep status on the next run.
CADENCE_MART_KEYS = [dg.AssetKey("upcoming_one_on_ones"), dg.AssetKey("coaching_briefs")]


class PrepReminderConfig(dg.Config):
    default_lead_minutes: int = Field(
        24 * 60, description="minutes before the 1:1 (per-manager overrides win)"
    )
    as_of: str | None = Field(None, description="ISO timestamp used as 'now'; default: the current time")


WITHDRAWN_CHECK = "no_reminder_for_cancelled_or_archived"


def withdrawn_check(pending_for_dead: list[tuple[str, str, bool]] | None) -> dg.AssetCheckResult:
    """F12: a cancelled, declined, archived or vanished 1:1 has no reminder waiting to be sent."""
    if pending_for_dead is None:
        return dg.AssetCheckResult(check_name=WITHDRAWN_CHECK, passed=True, description="no 1:1s yet")
    rows = pending_for_dead
    examples = "\n".join(f"- `{r}`: 1:1 {m}{' (archived)' if a else ''}" for r, m, a in rows[:10])
    return dg.AssetCheckResult(
        check_name=WITHDRAWN_CHECK,
        passed=not rows,
        metadata={
            "reminders_pending_for_dead_1on1s": dg.MetadataValue.int(len(rows)),
            "examples": dg.MetadataValue.md(examples or "none"),
        },
    )


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
    with warehouse.writer() as con:
        done = refresh(
            con, ReminderRepository(opstore.store), now, timedelta(minutes=config.default_lead_minutes)
        )
    outcome, reminders = done.outcome, done.reminders
    preview = preview_table(
        ["reminder_id", "manager_id", "rep_id", "remind_at", "meeting_start_at", "attempts"],
        [
            (r.reminder_id, r.manager_id, r.rep_id, _utc(r.remind_at), _utc(r.meeting_start_at), r.attempts)
            for r in done.next_scheduled()
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
            **{f"state_{name}": dg.MetadataValue.int(count) for name, count in sorted(done.states.items())},
            "next_reminders": dg.MetadataValue.md(preview),
        },
        check_results=[withdrawn_check(done.pending_for_dead)],
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")

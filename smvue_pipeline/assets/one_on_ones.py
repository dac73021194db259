"""`one_on_one_meetings` and `meeting_classifications`: F8 1:1 detection over every synced event.

A pure recompute (smvue_core/warehouse/one_on_one_meetings.sql) in the writer connection, in one
transaction: a roster edit, an archive flag or a sync all converge the same way at the next run.
"""

import time
from datetime import datetime, timedelta

import dagster as dg
import duckdb
from pydantic import Field

from smvue_core.clock import now_utc, parse_utc
from smvue_core.warehouse.one_on_ones import OneOnOneRules, ensure_app_tables, recompute, summarize
from smvue_pipeline.assets.app_tables import APP_KEYS
from smvue_pipeline.assets.checks import duplicate_keys, privacy_check
from smvue_pipeline.assets.previews import preview_table
from smvue_pipeline.assets.raw_events import RAW_EVENTS, WAREHOUSE_POOL
from smvue_pipeline.resources.warehouse import WarehouseResource
from smvue_pipeline.timings import seconds

ONE_ON_ONES = dg.AssetKey("one_on_one_meetings")
CLASSIFICATIONS = dg.AssetKey("meeting_classifications")
# Held vs scheduled moves with the clock, not only with new events: rebuilt at least daily (the
# hourly reconcile run does it), as the cadence marts downstream are.
ONE_ON_ONE_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=12)
)
ONE_ON_ONE_DEPS = [
    RAW_EVENTS,
    APP_KEYS["connections"],
    APP_KEYS["managers"],
    APP_KEYS["team_members"],
    APP_KEYS["meetings"],
    APP_KEYS["annotations"],
]


class OneOnOneConfig(dg.Config):
    """F8's bounds, and the "now" that separates held from scheduled (for reproducible runs)."""

    min_minutes: int = Field(10, description="shortest 1:1, minutes (inclusive)")
    max_minutes: int = Field(120, description="longest 1:1, minutes (inclusive)")
    typical_min_minutes: int = Field(30, description="typical 1:1s are at least this long")
    typical_max_minutes: int = Field(60, description="typical 1:1s are at most this long")
    as_of: str | None = Field(
        None, description="ISO timestamp used as 'now'; default: the run's current time"
    )

    def rules(self) -> OneOnOneRules:
        return OneOnOneRules(
            as_of=parse_as_of(self.as_of),
            min_minutes=self.min_minutes,
            max_minutes=self.max_minutes,
            typical_min_minutes=self.typical_min_minutes,
            typical_max_minutes=self.typical_max_minutes,
        )


def parse_as_of(value: str | None) -> datetime:
    if not value:
        return now_utc()
    try:
        return parse_utc(value)
    except ValueError:
        raise dg.Failure(f"as_of: not an ISO timestamp: {value!r}") from None


def unique_id_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    duplicates = duplicate_keys(con, "analytics.one_on_one_meetings", "one_on_one_id")
    return dg.AssetCheckResult(
        asset_key=ONE_ON_ONES,
        check_name="unique_one_on_one_id",
        passed=duplicates == 0,
        metadata={"duplicate_ids": dg.MetadataValue.int(duplicates)},
    )


def roster_link_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """Every 1:1 names one manager in the roster and one rep on that manager's team."""
    broken = con.execute(
        """SELECT count(*) FROM analytics.one_on_one_meetings o
           WHERE o.manager_id IS NULL OR o.rep_id IS NULL
              OR NOT EXISTS (SELECT 1 FROM app.managers m WHERE m.manager_id = o.manager_id)
              OR NOT EXISTS (SELECT 1 FROM app.team_members t
                             WHERE t.rep_id = o.rep_id AND t.manager_id = o.manager_id)"""
    ).fetchone()[0]
    return dg.AssetCheckResult(
        asset_key=ONE_ON_ONES,
        check_name="links_one_manager_and_one_rep",
        passed=broken == 0,
        metadata={"unlinked_rows": dg.MetadataValue.int(broken)},
    )


def classified_once_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    """Every synced event has exactly one classification row (none lost, none fanned out by a join)."""
    raw_rows, classified, distinct = con.execute(
        """SELECT (SELECT count(*) FROM raw.calendar_events),
                  count(*),
                  count(DISTINCT (connection_id, calendar_id, event_id))
           FROM analytics.meeting_classifications"""
    ).fetchone()
    return dg.AssetCheckResult(
        asset_key=CLASSIFICATIONS,
        check_name="every_event_classified_once",
        passed=raw_rows == classified == distinct,
        metadata={
            "raw_events": dg.MetadataValue.int(raw_rows),
            "classification_rows": dg.MetadataValue.int(classified),
            "events_classified": dg.MetadataValue.int(distinct),
        },
    )


def no_description_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    result = privacy_check(con)
    return dg.AssetCheckResult(
        asset_key=ONE_ON_ONES,
        check_name="no_description_column",
        passed=result.passed,
        metadata=result.metadata,
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ONE_ON_ONES,
            group_name="one_on_ones",
            kinds={"duckdb", "sql"},
            owners=["team:smvue-data"],
            deps=ONE_ON_ONE_DEPS,
            freshness_policy=ONE_ON_ONE_FRESHNESS,
            description=(
                "`analytics.one_on_one_meetings`: one row per 1:1 occurrence, from the calendars (F8) and "
                "scheduled in SMVue (F14), with status (scheduled, held, cancelled, declined), archive "
                "flag, meeting type and the reason it is a 1:1."
            ),
        ),
        dg.AssetSpec(
            CLASSIFICATIONS,
            group_name="one_on_ones",
            kinds={"duckdb", "sql"},
            owners=["team:smvue-data"],
            deps=ONE_ON_ONE_DEPS,
            freshness_policy=ONE_ON_ONE_FRESHNESS,
            description=(
                "`analytics.meeting_classifications`: every synced event with is_one_on_one and the reason, "
                'e.g. "not a 1:1: 3 people after removing rooms".'
            ),
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("unique_one_on_one_id", asset=ONE_ON_ONES, blocking=True),
        dg.AssetCheckSpec("links_one_manager_and_one_rep", asset=ONE_ON_ONES, blocking=True),
        dg.AssetCheckSpec("no_description_column", asset=ONE_ON_ONES, blocking=True),
        dg.AssetCheckSpec("every_event_classified_once", asset=CLASSIFICATIONS),
    ],
    pool=WAREHOUSE_POOL,
)
def one_on_one_meetings(
    context: dg.AssetExecutionContext, config: OneOnOneConfig, warehouse: WarehouseResource
):
    """Classify every synced event (F8) and rebuild the 1:1 table, in one transaction.

    A calendar event is a 1:1 when it is not all-day; its attendees, rooms removed and emails
    de-duplicated case- and space-insensitively, are exactly the connected manager and one rep of
    that manager's team; and it lasts min_minutes..max_minutes (30-60 is flagged typical). SMVue
    meetings are 1:1s by construction; their synced events become their row, never a second one.
    """
    try:
        rules = config.rules()
    except ValueError as exc:
        raise dg.Failure(str(exc)) from None
    began = time.perf_counter()
    with warehouse.writer() as con:
        ensure_app_tables(con)
        recompute(con, rules)
        summary = summarize(con, rules.as_of)
        checks = [unique_id_check(con), roster_link_check(con), no_description_check(con)]
        classification_checks = [classified_once_check(con)]
        committing = time.perf_counter()
    done = time.perf_counter()
    context.log.info(
        f"{summary.one_on_ones} 1:1s from {summary.events_classified} events (as of {rules.as_of.isoformat()})"
    )
    reasons = "\n".join(f"| {name} | {count} |" for name, count in summary.by_reason_class.items())
    yield dg.MaterializeResult(
        asset_key=ONE_ON_ONES,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(summary.one_on_ones),
            "held_last_30_days": dg.MetadataValue.int(summary.held_last_30d),
            "scheduled_next_7_days": dg.MetadataValue.int(summary.scheduled_next_7d),
            **{f"status_{name}": dg.MetadataValue.int(count) for name, count in summary.by_status.items()},
            "as_of": dg.MetadataValue.text(rules.as_of.isoformat()),
            "one_on_ones_s": seconds(committing - began),
            "commit_publish_s": seconds(done - committing),
            "preview": dg.MetadataValue.md(
                preview_table(summary.preview_columns, summary.preview_rows, encrypted=warehouse.encrypted)
            ),
        },
        check_results=checks,
    )
    yield dg.MaterializeResult(
        asset_key=CLASSIFICATIONS,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(summary.events_classified),
            **{
                f"reason_{name}": dg.MetadataValue.int(count)
                for name, count in summary.by_reason_class.items()
            },
            "by_reason": dg.MetadataValue.md("| reason class | events |\n|---|---|\n" + reasons),
        },
        check_results=classification_checks,
    )

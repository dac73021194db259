"""`cadence_sensor`: the cadence lane follows the hot path, coalesced.

After hot-path runs (sync_calendars_job) succeed, one cadence run rebuilds the dbt marts, Up Next,
the coaching briefs, reminders and the dashboard. However many hot-path runs finish, at most one
cadence run is in flight and one waits:

- a cadence run that is still waiting (queued, not started) has read nothing yet, so it covers
  every hot-path success so far: no new request, only the cursor moves;
- otherwise (none, or one already running) one new run is requested, keyed by the newest
  hot-path success it follows (`run_key`: a re-evaluated tick cannot launch it twice);
- the run queue lets one cadence run execute at a time (the `smvue/lane` tag's limit of 1 in
  dagster.yaml, smvue/instance.py), so the requested run waits behind the running one.

Nothing is dropped: the cursor only moves past a success that a waiting or newly requested run
covers. After a reconcile sync the request is `cadence_reconcile_job` (the full dbt test suite);
when a waiting run already covers that success, the full suite is owed to the next request.
A cadence run never delays the hot path: hot-path runs carry a higher `dagster/priority` for the
run queue and for the warehouse pool's one slot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from smvue_pipeline.cadence_jobs import CADENCE_LANE, cadence_job, cadence_reconcile_job
from smvue_pipeline.jobs import LANE_TAG, sync_calendars_job
from smvue_pipeline.timings import TRIGGERED_AT_TAG

# Created but not started: such a run reads the warehouse only later, so it covers what is done now.
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
RECONCILE_TRIGGER = "reconcile"
# Hot-path successes read per tick; newest first, so the cursor's high-water mark is always seen.
MAX_SUCCESSES_PER_TICK = 200


@dataclass(frozen=True)
class HotPathSuccess:
    run_id: str
    ended_at: float
    reconcile: bool


@dataclass
class CadenceCursor:
    """The newest hot-path success already covered, and whether a full test suite is owed."""

    covered_until: float = 0.0
    full_suite_owed: bool = False

    @classmethod
    def parse(cls, raw: str | None) -> CadenceCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(float(data.get("covered_until", 0.0)), bool(data.get("full_suite_owed", False)))

    def dump(self) -> str:
        return json.dumps(
            {"covered_until": self.covered_until, "full_suite_owed": self.full_suite_owed}, sort_keys=True
        )


@dataclass(frozen=True)
class CadenceDecision:
    cursor: CadenceCursor
    job_name: str | None = None  # None: nothing to launch
    run_key: str | None = None
    triggered_at: float | None = None
    skip_reason: str | None = None


def decide(
    cursor: CadenceCursor, successes: Sequence[HotPathSuccess], waiting: Sequence[str]
) -> CadenceDecision:
    """Pure: what this tick does, given the hot-path successes since the cursor and the cadence
    runs still waiting to start."""
    new = sorted((s for s in successes if s.ended_at > cursor.covered_until), key=lambda s: s.ended_at)
    if not new:
        return CadenceDecision(cursor, skip_reason="no hot-path run finished since the last cadence request")
    newest = new[-1]
    full = cursor.full_suite_owed or any(s.reconcile for s in new)
    if waiting:
        return CadenceDecision(
            CadenceCursor(newest.ended_at, full),
            skip_reason=(
                f"{len(new)} hot-path runs coalesced into cadence run {waiting[0]}, which has not started"
                + ("; the full dbt test suite is owed to the next request" if full else "")
            ),
        )
    return CadenceDecision(
        CadenceCursor(newest.ended_at, False),
        job_name=cadence_reconcile_job.name if full else cadence_job.name,
        run_key=f"cadence-after-{newest.run_id}",
        triggered_at=new[0].ended_at,
    )


def hot_path_successes(instance: dg.DagsterInstance, after: float) -> list[HotPathSuccess]:
    from datetime import UTC, datetime

    records = instance.get_run_records(
        dg.RunsFilter(
            job_name=sync_calendars_job.name,
            statuses=[dg.DagsterRunStatus.SUCCESS],
            updated_after=datetime.fromtimestamp(after, UTC) if after else None,
        ),
        limit=MAX_SUCCESSES_PER_TICK,
    )
    return [
        HotPathSuccess(
            r.dagster_run.run_id,
            r.end_time,
            r.dagster_run.tags.get("smvue/trigger") == RECONCILE_TRIGGER,
        )
        for r in records
        if r.end_time is not None
    ]


def waiting_cadence_runs(instance: dg.DagsterInstance) -> list[str]:
    records = instance.get_run_records(
        dg.RunsFilter(tags={LANE_TAG: CADENCE_LANE}, statuses=WAITING), limit=5
    )
    return [r.dagster_run.run_id for r in records]


def build_cadence_sensor(
    name: str = "cadence_sensor", minimum_interval_seconds: int = 4
) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        jobs=[cadence_job, cadence_reconcile_job],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "After hot-path runs succeed, launches one cadence run (dbt marts, reminders, dashboard): at "
            "most one in flight and one waiting, however many changes arrive; the full dbt test suite "
            "after a reconcile."
        ),
    )
    def cadence_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = CadenceCursor.parse(context.cursor)
        successes = hot_path_successes(context.instance, cursor.covered_until)
        waiting = waiting_cadence_runs(context.instance) if successes else []
        decision = decide(cursor, successes, waiting)
        if decision.job_name is None:
            return dg.SensorResult(skip_reason=decision.skip_reason, cursor=decision.cursor.dump())
        request = dg.RunRequest(
            run_key=decision.run_key,
            job_name=decision.job_name,
            tags={"smvue/trigger": "hot_path", TRIGGERED_AT_TAG: f"{decision.triggered_at:.3f}"},
        )
        return dg.SensorResult(run_requests=[request], cursor=decision.cursor.dump())

    return cadence_sensor


cadence_sensor = build_cadence_sensor()

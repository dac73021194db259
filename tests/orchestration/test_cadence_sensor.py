"""cadence_sensor, one tick at a time: N hot-path successes → at most one cadence run in flight and
one waiting; nothing dropped; the full dbt test suite after a reconcile.

Runs are records in a test instance moved through their statuses by Dagster events (no run
executes, no clock is read): the sensor sees exactly what the daemon's instance would show.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType

from smvue_pipeline.cadence_jobs import CADENCE_LANE, cadence_job, cadence_reconcile_job
from smvue_pipeline.jobs import LANE_TAG
from smvue_pipeline.sensors.cadence import CadenceCursor, HotPathSuccess, build_cadence_sensor, decide


# Stand-ins with the real jobs' names and tags: the sensor reads run records, never the ops.
@dg.op
def noop() -> None:
    pass


@dg.job(name="sync_calendars_job", tags={LANE_TAG: "hot_path"})
def hot_path_job():
    noop()


@dg.job(name="cadence_job", tags={LANE_TAG: CADENCE_LANE})
def cadence_stand_in():
    noop()


def move(instance: dg.DagsterInstance, run: dg.DagsterRun, event_type: DagsterEventType) -> None:
    instance.report_dagster_event(DagsterEvent(event_type.value, job_name=run.job_name), run.run_id)


def hot_path_success(instance: dg.DagsterInstance, trigger: str = "change_queue") -> dg.DagsterRun:
    run = instance.create_run_for_job(hot_path_job, tags={**hot_path_job.tags, "smvue/trigger": trigger})
    move(instance, run, DagsterEventType.RUN_START)
    move(instance, run, DagsterEventType.RUN_SUCCESS)
    return run


class Daemon:
    """What the sensor daemon does with a tick: keep the cursor, create the requested runs
    (not started: waiting, as the run queue holds them; a test instance has no queue), skip a
    run key already used."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.sensor = build_cadence_sensor()
        self.cursor: str | None = None
        self.keys: set[str] = set()
        self.launched: list[tuple[dg.DagsterRun, str]] = []

    def tick(self) -> list[str]:
        """One evaluation; the job names of the runs it created."""
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = self.sensor(context)
        self.cursor = result.cursor
        created = []
        for request in result.run_requests:
            if request.run_key in self.keys:
                continue
            self.keys.add(request.run_key)
            run = self.instance.create_run_for_job(
                cadence_stand_in,
                tags={**cadence_stand_in.tags, **request.tags, "dagster/run_key": request.run_key},
                status=dg.DagsterRunStatus.NOT_STARTED,
            )
            self.launched.append((run, request.job_name))
            created.append(request.job_name)
        self.skipped = result.skip_reason.skip_message if result.skip_reason else None
        return created

    def in_lane(self, *statuses: dg.DagsterRunStatus) -> int:
        return self.instance.get_runs_count(
            dg.RunsFilter(tags={LANE_TAG: CADENCE_LANE}, statuses=list(statuses))
        )


WAITING = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)
IN_FLIGHT = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)


def test_no_hot_path_success_no_cadence_run():
    with dg.instance_for_test() as instance:
        daemon = Daemon(instance)
        assert daemon.tick() == []
        assert "no hot-path run finished" in daemon.skipped


def test_many_successes_coalesce_into_one_in_flight_and_one_waiting():
    with dg.instance_for_test() as instance:
        daemon = Daemon(instance)
        for _ in range(5):
            hot_path_success(instance)
        assert daemon.tick() == ["cadence_job"]  # five successes, one run
        first, _ = daemon.launched[0]

        # More successes while it waits: it has not read the warehouse yet, so it covers them.
        for _ in range(5):
            hot_path_success(instance)
            assert daemon.tick() == []
            assert "coalesced into cadence run" in daemon.skipped
        assert daemon.in_lane(*WAITING) == 1

        # It starts (the run queue lets one cadence run execute): the next success needs a new run,
        # which waits behind it; any number of further successes join that waiting one.
        move(instance, first, DagsterEventType.RUN_START)
        for _ in range(20):
            hot_path_success(instance)
            daemon.tick()
            assert daemon.in_lane(*WAITING) <= 1 and daemon.in_lane(*IN_FLIGHT) <= 1
        assert len(daemon.launched) == 2
        assert (daemon.in_lane(*IN_FLIGHT), daemon.in_lane(*WAITING)) == (1, 1)

        # The first finishes and the waiting one starts; nothing new: no request.
        move(instance, first, DagsterEventType.RUN_SUCCESS)
        second, _ = daemon.launched[1]
        move(instance, second, DagsterEventType.RUN_START)
        assert daemon.tick() == []


def test_no_success_is_dropped_even_after_a_failed_cadence_run():
    with dg.instance_for_test() as instance:
        daemon = Daemon(instance)
        hot_path_success(instance)
        assert daemon.tick() == ["cadence_job"]
        run, _ = daemon.launched[0]
        move(instance, run, DagsterEventType.RUN_START)
        last = hot_path_success(instance)  # finishes after the cadence run read the warehouse
        move(instance, run, DagsterEventType.RUN_FAILURE)
        assert daemon.tick() == ["cadence_job"]
        assert daemon.launched[1][0].tags["dagster/run_key"] == f"cadence-after-{last.run_id}"
        # The same tick evaluated again (a daemon restart before the cursor was saved) asks for
        # the same run key: the daemon launches it once.
        daemon.cursor = None
        assert daemon.tick() == []


def test_a_reconcile_asks_for_the_full_test_suite_even_when_coalesced():
    with dg.instance_for_test() as instance:
        daemon = Daemon(instance)
        hot_path_success(instance, trigger="reconcile")
        assert daemon.tick() == [cadence_reconcile_job.name]

        hot_path_success(instance)
        assert daemon.tick() == []  # covered by the waiting full run
        move(instance, daemon.launched[-1][0], DagsterEventType.RUN_START)
        hot_path_success(instance)
        assert daemon.tick() == [cadence_job.name]
        waiting, _ = daemon.launched[-1]
        hot_path_success(instance, trigger="reconcile")  # covered by the waiting (non-full) run
        assert daemon.tick() == []
        assert "full dbt test suite is owed" in daemon.skipped
        move(instance, waiting, DagsterEventType.RUN_START)
        hot_path_success(instance)
        assert daemon.tick() == [cadence_reconcile_job.name]  # the owed full suite


def test_the_decision_alone():
    successes = [HotPathSuccess(f"r{i}", float(i), reconcile=False) for i in range(1, 4)]
    decision = decide(CadenceCursor(), successes, waiting=[])
    assert (decision.job_name, decision.run_key, decision.triggered_at) == (
        "cadence_job",
        "cadence-after-r3",
        1.0,
    )
    assert decision.cursor == CadenceCursor(3.0, False)
    assert decide(decision.cursor, successes, waiting=[]).job_name is None
    coalesced = decide(CadenceCursor(1.0), successes, waiting=["w"])
    assert coalesced.job_name is None and coalesced.cursor.covered_until == 3.0
    assert CadenceCursor.parse(decision.cursor.dump()) == decision.cursor

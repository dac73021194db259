"""Calendar change → published row, through the gateway and the Dagster daemon (SPEC Performance:
webhook → analytics.one_on_one_meetings p95 ≤ 8 s quiet, ≤ 15 s with one core busy;
→ analytics.cadence_metrics p95 ≤ 15 s quiet, ≤ 30 s busy).

Runs the whole stack as `smvue up` does — the calendar emulator (in this process), the gateway and
`dagster-daemon` (subprocesses) — on a temporary SMVUE_HOME with a realistic organisation: managers
on Google and Outlook with reps and a month of meetings, connected through the gateway's OAuth
routes (which open the watches). Then, K times, one manager adds a 1:1 with a new rep through the
provider's API, and the clock runs from that call returning until the row is visible in the
published snapshot (read-only, as downstream readers see it): raw.calendar_events,
analytics.one_on_one_meetings and analytics.cadence_metrics (the pair's next_scheduled_at). Each
change starts from a quiet pipeline. Prints JSON, with where the time went (from Dagster's runs).

Also times each manager's OAuth callback → their 1:1s in the snapshot, and splits every run's time
(sensor wait, launch, code load, sync, 1:1s, publish; dbt build for cadence) from its metadata.
`--busy` keeps one core spinning in a background process for the whole measurement.

    .venv/bin/python bench/webhook_latency.py [--changes 12] [--managers 4] [--reps 5] [--busy] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from calendar_emulator.actors import EmulatorAdminClient  # noqa: E402
from calendar_emulator.server import EmulatorServer  # noqa: E402
from smvue.demo.live import LiveStack, add_one_on_one, published_value, wait_for  # noqa: E402
from smvue.demo.organisation import Manager, Rep, month_of_meetings  # noqa: E402
from smvue.demo.run import point_at_emulator  # noqa: E402
from smvue.demo.seeding import seed_manager  # noqa: E402

# SPEC Performance: quiet, and with one core kept busy by a background process (--busy).
TARGETS = {
    "quiet": {"one_on_one_meetings_p95_s": 8.0, "cadence_metrics_p95_s": 15.0, "connect_p95_s": 10.0},
    "busy": {"one_on_one_meetings_p95_s": 15.0, "cadence_metrics_p95_s": 30.0, "connect_p95_s": 20.0},
}
# Where a run's time went, from its assets' metadata (smvue_pipeline/timings.py and the assets).
HOT_PATH_STAGES = {
    "raw_calendar_events": ("sensor_wait_s", "run_launch_s", "code_load_s", "sync_s", "commit_publish_s"),
    "one_on_one_meetings": ("one_on_ones_s", "commit_publish_s"),
}
CADENCE_STAGES = ("sensor_wait_s", "run_launch_s", "code_load_s", "dbt_build_s", "publish_s")
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 180.0
ZONES = ("America/New_York", "Europe/London", "Europe/Berlin", "America/Chicago")


@dataclass
class Change:
    manager: Manager
    rep: Rep
    event_id: str = ""
    wall_start: float = 0.0
    raw_s: float | None = None
    one_on_one_s: float | None = None
    cadence_s: float | None = None


def organisation(managers: int, reps: int, changes: int) -> tuple[list[Manager], list[tuple[Manager, Rep]]]:
    """Managers alternating Google / Outlook, `reps` reps each with a month of meetings, plus one
    new rep (no meetings yet) per change: the 1:1 the bench adds is that pair's first."""
    run = uuid.uuid4().hex[:6]
    people, fresh = [], []
    for m in range(managers):
        provider = "google" if m % 2 == 0 else "microsoft"
        team = [
            Rep(f"rep-{run}-{m}-{r}", f"Rep{r} Team{m}", f"rep{r}.t{m}.{run}@bench-sales.test", 30 + 90 * r)
            for r in range(reps)
        ]
        newcomers = [
            Rep(f"rep-{run}-{m}-new{k}", f"New{k} Team{m}", f"new{k}.t{m}.{run}@bench-sales.test", 3)
            for k in range(m, changes, managers)
        ]
        manager = Manager(
            f"mgr-{run}-{m}",
            f"Manager{m} Bench",
            f"manager{m}.{run}@bench-sales.test",
            provider,
            ZONES[m % len(ZONES)],
            tuple(team + newcomers),
        )
        people.append(manager)
        fresh.extend((manager, rep) for rep in newcomers)
    order = sorted(fresh, key=lambda pair: int(pair[1].rep_id.rsplit("new", 1)[1]))
    return people, order


def seed_with_team(admin: EmulatorAdminClient, url: str, manager: Manager, today) -> int:
    """A month of meetings with the regular team only (the newcomers have none yet)."""
    regulars = tuple(r for r in manager.reps if "-new" not in r.rep_id)
    plans = month_of_meetings(replace(manager, reps=regulars), today)
    return seed_manager(admin, url, manager, plans)["meetings"]


class Gateway:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.api = requests.Session()
        self.api.trust_env = False
        self.api.headers["Authorization"] = f"Bearer {token}"
        self.browser = requests.Session()
        self.browser.trust_env = False

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        answer = self.api.request(method, self.url + path, timeout=60, **kwargs)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer

    def add_team(self, manager: Manager, today) -> None:
        self.call(
            "PUT", f"/v1/managers/{manager.manager_id}", json={"name": manager.name, "email": manager.email}
        )
        for rep in manager.reps:
            body = {
                "manager_id": manager.manager_id,
                "name": rep.name,
                "email": rep.email,
                "start_date": rep.start_date(today),
            }
            self.call("PUT", f"/v1/team-members/{rep.rep_id}", json=body)

    def connect(self, manager: Manager) -> str:
        """OAuth as the web app drives it: start → the provider's consent (approves at once) → callback."""
        start = self.call(
            "GET",
            f"/oauth/{manager.provider}/start",
            params={"manager_id": manager.manager_id},
            allow_redirects=False,
        )
        consent = self.browser.get(start.headers["location"], allow_redirects=False, timeout=60)
        # The start's cookie binds the flow to the browser that started it.
        callback = self.browser.get(
            consent.headers["location"], cookies=start.cookies, allow_redirects=False, timeout=120
        )
        if callback.status_code != 200:
            raise RuntimeError(f"connecting {manager.email}: {callback.status_code} {callback.text[:300]}")
        return callback.json()["connection_id"]


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))], 2)

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p95": pick(0.95),
        "max": round(ordered[-1], 2),
    }


def change_runs(settings, since_wall: float) -> list:
    """Runs the change-queue sensor launched after `since_wall` (seconds since the epoch)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(tags={"smvue/trigger": "change_queue"}), limit=50)
    return sorted(
        (r for r in records if r.create_timestamp.timestamp() >= since_wall - 1),
        key=lambda r: r.create_timestamp,
    )


def measure(live: LiveStack, admin, emulator_url: str, change: Change, start_at: datetime) -> None:
    settings = live.settings
    change.event_id = add_one_on_one(emulator_url, admin, change.manager, change.rep, start_at)
    change.wall_start = time.time()
    began = time.monotonic()
    pending = {"raw", "one_on_one", "cadence"}
    queries = {
        "raw": ("SELECT count(*) FROM raw.calendar_events WHERE event_id = ?", [change.event_id]),
        "one_on_one": (
            "SELECT count(*) FROM analytics.one_on_one_meetings WHERE event_id = ? AND rep_id = ?",
            [change.event_id, change.rep.rep_id],
        ),
        "cadence": (
            "SELECT count(*) FROM analytics.cadence_metrics WHERE manager_id = ? AND rep_id = ? "
            "AND next_scheduled_at IS NOT NULL",
            [change.manager.manager_id, change.rep.rep_id],
        ),
    }

    def progress() -> bool:
        live.check()
        for name in list(pending):
            sql, params = queries[name]
            if published_value(settings, sql, params):
                setattr(change, f"{name}_s", time.monotonic() - began)
                pending.discard(name)
        return not pending

    wait_for(progress, TIMEOUT_SECONDS, POLL_SECONDS)


def run_metadata(instance, run_id: str) -> dict[str, dict[str, float]]:
    """asset -> its float metadata in this run (materializations and observations)."""
    import dagster as dg

    found: dict[str, dict[str, float]] = {}
    for record in instance.get_records_for_run(run_id, limit=10_000).records:
        event = record.event_log_entry.dagster_event
        if event is None or event.event_type not in (
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_OBSERVATION,
        ):
            continue
        data = event.event_specific_data
        item = getattr(data, "materialization", None) or getattr(data, "asset_observation", None)
        values = {k: v.value for k, v in item.metadata.items() if isinstance(v.value, float)}
        found.setdefault(event.asset_key.to_user_string(), {}).update(values)
    return found


def stage_timings(settings, since_wall: float) -> dict:
    """Median seconds per stage over the hot-path and cadence runs since `since_wall`."""
    import dagster as dg

    hot: dict[str, list[float]] = {}
    cadence: dict[str, list[float]] = {}
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        for job, stages in (("sync_calendars_job", None), ("cadence_job", CADENCE_STAGES)):
            records = instance.get_run_records(dg.RunsFilter(job_name=job), limit=500)
            for record in records:
                if record.create_timestamp.timestamp() < since_wall:
                    continue
                metadata = run_metadata(instance, record.dagster_run.run_id)
                if stages is None:
                    for asset, names in HOT_PATH_STAGES.items():
                        for name in names:
                            if name in metadata.get(asset, {}):
                                hot.setdefault(f"{asset}.{name}", []).append(metadata[asset][name])
                else:
                    for name in stages:
                        if name in metadata.get("cadence_metrics", {}):
                            cadence.setdefault(name, []).append(metadata["cadence_metrics"][name])
        cadence_runs = instance.get_runs_count(dg.RunsFilter(job_name="cadence_job"))
        hot_runs = instance.get_runs_count(dg.RunsFilter(job_name="sync_calendars_job"))
    return {
        "hot_path_p50_s": {k: round(statistics.median(v), 3) for k, v in sorted(hot.items())},
        "cadence_p50_s": {k: round(statistics.median(v), 3) for k, v in sorted(cadence.items())},
        "runs": {"sync_calendars_job": hot_runs, "cadence_job": cadence_runs},
    }


def breakdown(changes: list[Change], settings) -> dict:
    """Median seconds per stage, from the Dagster run each change's notification launched."""
    sensor, launch, run_to_row = [], [], []
    for change in changes:
        runs = change_runs(settings, change.wall_start)
        if not runs or runs[0].start_time is None or change.one_on_one_s is None:
            continue
        run = runs[0]
        created = run.create_timestamp.timestamp()
        sensor.append(created - change.wall_start)
        launch.append(run.start_time - created)
        run_to_row.append(change.wall_start + change.one_on_one_s - run.start_time)
    return {
        "change_to_run_created_s": percentiles(sensor),
        "run_created_to_started_s": percentiles(launch),
        "run_started_to_one_on_one_row_s": percentiles(run_to_row),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=12, help="sequential calendar changes (K)")
    parser.add_argument("--managers", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5, help="reps per manager with meeting history")
    parser.add_argument("--keep", type=Path, help="use (and keep) this SMVUE_HOME instead of a temporary one")
    parser.add_argument(
        "--busy", action="store_true", help="keep one core busy with a background process throughout"
    )
    args = parser.parse_args(argv)
    burner = None
    if args.busy:
        # One core spinning for the whole measurement, from before the stack starts.
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # noqa: S603
    try:
        return measure_all(args)
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()


def connect_and_time(gateway: Gateway, live: LiveStack, manager: Manager) -> tuple[str, float | None]:
    """Connect through OAuth; seconds from the callback's answer until the manager's 1:1s are in
    the published snapshot (None after the timeout)."""
    connection_id = gateway.connect(manager)
    began = time.monotonic()
    sql = "SELECT count(*) FROM analytics.one_on_one_meetings WHERE manager_id = ?"
    seen = wait_for(
        lambda: live.check() or published_value(live.settings, sql, [manager.manager_id]),
        TIMEOUT_SECONDS,
        POLL_SECONDS,
    )
    return connection_id, (time.monotonic() - began) if seen else None


def measure_all(args: argparse.Namespace) -> int:

    home = args.keep or Path(tempfile.mkdtemp(prefix="smvue-latency-"))
    os.environ["SMVUE_HOME"] = str(home)
    for name in ("SMVUE_WAREHOUSE", "SMVUE_PUBLISHED", "DAGSTER_HOME", "SMVUE_PUBLIC_URL"):
        os.environ.pop(name, None)
    today = datetime.now(UTC).date()
    managers, fresh = organisation(args.managers, args.reps, args.changes)
    variant = "busy" if args.busy else "quiet"
    report: dict = {
        "benchmark": "webhook_latency",
        "variant": variant,
        "targets": TARGETS[variant],
        "notes": [],
    }
    try:
        with EmulatorServer() as emulator:
            point_at_emulator(emulator.url)
            admin = EmulatorAdminClient(emulator.url)
            seeded = sum(seed_with_team(admin, emulator.url, m, today) for m in managers)
            with LiveStack(port=0) as live:
                gateway = Gateway(live.url, live.settings.api_token())
                for manager in managers:
                    gateway.add_team(manager, today)
                started_wall = time.time()
                connected = [connect_and_time(gateway, live, m) for m in managers]
                connections = [c for c, _ in connected]
                report["connect_to_one_on_ones_s"] = percentiles([s for _, s in connected if s is not None])
                if not wait_for(lambda: live.check() or live.idle(), TIMEOUT_SECONDS, 0.5):
                    raise RuntimeError("the initial import did not finish")
                has_analytics = (
                    published_value(live.settings, "SELECT count(*) FROM analytics.one_on_one_meetings")
                    is not None
                )
                if not has_analytics:
                    report["notes"].append("no analytics tables in the snapshot: raw.calendar_events only")
                report["organisation"] = {
                    "managers": len(managers),
                    "connections": len(connections),
                    "reps": sum(len(m.reps) for m in managers),
                    "seeded_meetings": seeded,
                    "raw_rows": published_value(live.settings, "SELECT count(*) FROM raw.calendar_events"),
                }
                changes = []
                base = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
                for index, (manager, rep) in enumerate(fresh):
                    change = Change(manager, rep)
                    measure(live, admin, emulator.url, change, base + timedelta(minutes=15 * index))
                    changes.append(change)
                    if not wait_for(lambda: live.check() or live.idle(), TIMEOUT_SECONDS, 0.2):
                        raise RuntimeError("the pipeline did not settle after a change")
                report["changes"] = [
                    {
                        "provider": c.manager.provider,
                        "raw_s": _round(c.raw_s),
                        "one_on_one_s": _round(c.one_on_one_s),
                        "cadence_s": _round(c.cadence_s),
                    }
                    for c in changes
                ]
                latency = {
                    "raw_calendar_events_s": percentiles([c.raw_s for c in changes if c.raw_s is not None]),
                    "one_on_one_meetings_s": percentiles(
                        [c.one_on_one_s for c in changes if c.one_on_one_s is not None]
                    ),
                    "cadence_metrics_s": percentiles(
                        [c.cadence_s for c in changes if c.cadence_s is not None]
                    ),
                }
                report["latency"] = latency
                report["timed_out"] = sum(c.cadence_s is None or c.one_on_one_s is None for c in changes)
                targets = TARGETS[variant]
                report["met"] = {
                    "one_on_one_meetings_p95": latency["one_on_one_meetings_s"].get("p95", 1e9)
                    <= targets["one_on_one_meetings_p95_s"],
                    "cadence_metrics_p95": latency["cadence_metrics_s"].get("p95", 1e9)
                    <= targets["cadence_metrics_p95_s"],
                }
                report["where_the_time_goes"] = breakdown(changes, live.settings)
                report["stages"] = stage_timings(live.settings, started_wall)
                report["load_average"] = [round(x, 2) for x in os.getloadavg()]
                report["cpus"] = os.cpu_count()
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(report, indent=2))
    return 0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    sys.exit(main())

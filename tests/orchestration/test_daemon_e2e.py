"""End to end through the real Dagster daemon, started by `smvue up` (gateway + daemon).

A manager connects through the gateway's /oauth routes; the initial import, and then a change the
user makes in their calendar, reach the published snapshot with no manual trigger: provider
notification → gateway → change queue → change_queue_sensor → sync_calendars_job run (the hot-path
location), and cadence_sensor's cadence_job run (the cadence location) follows it. Once with the
embedded SQLite store and Dagster instance, once with both on PostgreSQL (SMVUE_DATABASE_URL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from calendar_emulator.actors import GoogleActor
from smvue_core.warehouse.database import open_database
from tests import processes
from tests.admin import AdminClient
from tests.waiting import free_port, scaled, wait_until

from .conftest import emulator_env

SMVUE = [sys.executable, "-m", "smvue.cli"]


def wait_while_up(condition: Callable[[], object], timeout: float, what: str, up, log: Path):
    """wait_until, giving up as soon as `smvue up` has exited, with its log's tail either way."""

    def still_up() -> None:
        if up.poll() is not None:
            raise AssertionError(f"smvue up exited ({up.returncode}) while waiting for {what}:\n{_tail(log)}")

    return wait_until(condition, timeout, what, poll=0.25, guard=still_up, detail=lambda: _tail(log))


def _tail(log: Path | None, lines: int = 60) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class Published:
    """Read-only queries on the published snapshot (as a downstream reader would)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def titles(self, connection_id: str) -> dict[str, str]:
        if not self.path.exists():
            return {}
        con = open_database(self.path, read_only=True)
        try:
            rows = con.execute(
                "SELECT event_id, title FROM raw.calendar_events WHERE connection_id = ? AND status <> 'cancelled'",
                [connection_id],
            ).fetchall()
        except Exception:  # noqa: BLE001 - the schema appears with the first run
            return {}
        finally:
            con.close()
        return dict(rows)


class DagsterRuns:
    """The daemon's run records, read from its instance as the UI would."""

    def __init__(self, dagster_home: Path, database_url: str | None = None) -> None:
        self.dagster_home = dagster_home
        self.database_url = database_url

    def of(self, job_name: str) -> list:
        import dagster as dg

        from smvue.instance import DAGSTER_URL_VARIABLE, dagster_database_url

        # On PostgreSQL the instance's dagster.yaml names the variable `smvue up` sets for its children.
        with pytest.MonkeyPatch.context() as patch:
            if self.database_url:
                patch.setenv(DAGSTER_URL_VARIABLE, dagster_database_url(self.database_url))
            with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
                return instance.get_run_records(dg.RunsFilter(job_name=job_name))

    def cadence_followed_the_last_hot_path_run(self) -> bool:
        import dagster as dg

        hot = self.of("sync_calendars_job")
        done = [r for r in self.of("cadence_job") if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS]
        if not hot or not done or any(r.end_time is None for r in hot):
            return False
        return max(r.start_time or 0 for r in done) >= max(r.end_time for r in hot)


# Budgets on a quiet machine (stretched by SMVUE_TEST_SLOWDOWN); the test's own is their sum.
GATEWAY_UP = 60  # dbt parse, Dagster storage, the gateway answering
CONNECT = 90  # consent + callback (the callback lists calendars and opens watches)
INITIAL_IMPORT = 120  # callback → a run launched by the sensor → the published snapshot
CHANGE_VISIBLE = 120  # calendar change → notification → sensor → run → published snapshot
CADENCE_FOLLOWS = 120  # hot-path success → cadence_sensor → cadence_job run done
STOPPED = 60 + 15  # SIGTERM → exit 0, then the last children gone
TEST_BUDGET = GATEWAY_UP + CONNECT + INITIAL_IMPORT + CHANGE_VISIBLE + CADENCE_FOLLOWS + STOPPED + 30


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """None: the embedded SQLite store; else a fresh PostgreSQL database for store and instance."""
    if request.param == "sqlite":
        yield None
        return
    with request.getfixturevalue("postgres_server").database() as url:
        yield url


def _postgres_counts(url: str) -> tuple[int, int]:
    """(connections in the store, runs in Dagster's schema) on the PostgreSQL server."""
    import psycopg

    with psycopg.connect(url) as conn:
        connections = conn.execute("SELECT count(*) FROM public.connections").fetchone()[0]
        runs = conn.execute("SELECT count(*) FROM dagster.runs").fetchone()[0]
    return connections, runs


@pytest.mark.e2e
@pytest.mark.timeout(TEST_BUDGET)
def test_a_calendar_change_reaches_raw_through_the_daemon_with_no_manual_trigger(
    emulator, tmp_path, database_url
):
    home = tmp_path / "smvue-home"
    port = free_port()
    gateway = f"http://127.0.0.1:{port}"
    env = {**os.environ, **emulator_env(emulator.url, home), "SMVUE_PUBLIC_URL": gateway}
    for name in ("DAGSTER_HOME", "SMVUE_WAREHOUSE", "SMVUE_PUBLISHED", "SMVUE_WAREHOUSE_KEY"):
        env.pop(name, None)
    env.pop("SMVUE_DATABASE_URL", None)
    if database_url:
        env["SMVUE_DATABASE_URL"] = database_url
    log = tmp_path / "smvue-up.log"
    with open(log, "wb") as out:
        up = processes.spawn(
            [*SMVUE, "up", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    http = requests.Session()
    http.trust_env = False
    api = requests.Session()
    api.trust_env = False
    api.headers["Authorization"] = f"Bearer {env['SMVUE_API_TOKEN']}"
    try:

        def healthy() -> bool:
            try:
                return http.get(f"{gateway}/healthz", timeout=scaled(1)).status_code == 200
            except requests.ConnectionError:
                return False

        wait_while_up(healthy, GATEWAY_UP, "the gateway answering /healthz", up, log)

        # A manager with one meeting, connected through the gateway like the web app does it.
        admin = AdminClient(emulator.url)
        email = f"g-{uuid.uuid4().hex[:10]}@e2e.example"
        admin.create_user(email, "google", "Erin End")
        actor = GoogleActor(emulator.url, admin.token(email, "google"))
        start = time.strftime("%Y-%m-%dT10:00:00Z", time.gmtime(time.time() + 2 * 86400))
        end = start.replace("T10:00", "T10:30")
        event = actor.insert(
            {"summary": "Weekly 1:1", "start": {"dateTime": start}, "end": {"dateTime": end}}
        )
        manager_id = f"mgr-{uuid.uuid4().hex[:8]}"
        put = api.put(f"{gateway}/v1/managers/{manager_id}", json={"name": "Erin End", "email": email})
        assert put.status_code in (200, 201), put.text
        started = api.get(
            f"{gateway}/oauth/google/start", params={"manager_id": manager_id}, allow_redirects=False
        )
        assert started.status_code == 302, started.text
        consent = http.get(started.headers["location"], allow_redirects=False, timeout=scaled(CONNECT / 3))
        assert consent.status_code == 302, consent.text
        callback = http.get(
            consent.headers["location"],
            cookies=started.cookies,
            allow_redirects=False,
            timeout=scaled(CONNECT),
        )
        assert callback.status_code == 200, callback.text
        connection_id = callback.json()["connection_id"]

        published = Published(home / "published.duckdb")
        wait_while_up(
            lambda: published.titles(connection_id).get(event["id"]) == "Weekly 1:1",
            INITIAL_IMPORT,
            "the initial import in the published snapshot",
            up,
            log,
        )

        # The user renames the meeting in their calendar; nobody triggers anything.
        actor.patch(event["id"], {"summary": "Weekly 1:1 (agenda)"})
        changed_at = time.monotonic()
        wait_while_up(
            lambda: published.titles(connection_id).get(event["id"]) == "Weekly 1:1 (agenda)",
            CHANGE_VISIBLE,
            "the change in raw.calendar_events",
            up,
            log,
        )
        print(f"change visible in the published snapshot after {time.monotonic() - changed_at:.1f} s")
        if database_url:  # the store and the instance were PostgreSQL's, not files in the home
            connections, runs = _postgres_counts(database_url)
            assert connections == 1 and runs >= 2, (connections, runs)
            assert not (home / "operational.sqlite").exists()
            # (compute logs stay files; the SQLite run, event and schedule databases are not made)
            assert not list((home / "dagster").rglob("*.db"))

        # The cadence lane follows every hot-path success, coalesced: a cadence_job run succeeds
        # after the last hot-path run, and there are never more cadence runs than hot-path ones.
        runs = DagsterRuns(home / "dagster", database_url)
        wait_while_up(
            runs.cadence_followed_the_last_hot_path_run,
            CADENCE_FOLLOWS,
            "a cadence_job run after the last sync_calendars_job run",
            up,
            log,
        )
        assert 1 <= len(runs.of("cadence_job")) <= len(runs.of("sync_calendars_job"))
        assert all(r.dagster_run.tags["smvue/lane"] == "cadence" for r in runs.of("cadence_job"))

        # SIGTERM stops everything cleanly: exit 0 and no process left behind.
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=scaled(60)) == 0, _tail(log)
        wait_until(lambda: not processes.marked(f"SMVUE_HOME={home}"), 15, "every child gone", poll=0.25)
    finally:
        processes.stop(up)
        processes.kill_marked(f"SMVUE_HOME={home}")

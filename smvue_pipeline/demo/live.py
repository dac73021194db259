"""The demo's near-real-time step, and the live stack it runs on (also used by bench/).

After the initial import, the gateway and the Dagster daemon start as `smvue up` starts them; a
manager changes their calendar in the emulator, and the change reaches `raw.calendar_events`
through the provider's notification, the gateway, the change queue and the sensor's run — nobody
triggers anything.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from calendar_emulator.actors import EmulatorAdminClient, GoogleActor, GraphActor
from smvue_pipeline.cli import CliError
from smvue_pipeline.demo.organisation import Manager, MeetingPlan
from smvue_pipeline.demo.seeding import google_body, graph_body
from smvue_pipeline.opstore import OpStore
from smvue_pipeline.opstore.queue import ChangeQueue
from smvue_pipeline.runner import Stack, StackError, StackOptions, build_stack
from smvue_pipeline.settings import Settings
from smvue_pipeline.warehouse.database import open_database

IN_FLIGHT = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")


def free_port(preferred: int) -> int:
    """`preferred` when it is free, else one the system picks."""
    for candidate in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise CliError("no free local port for the gateway")


def wait_for(condition: Callable[[], object], timeout: float, poll: float = 0.1) -> object:
    """The condition's first truthy value, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(poll)


class LiveStack:
    """The gateway and the Dagster daemon for this SMVUE_HOME, as `smvue up` runs them, with
    their output in $SMVUE_HOME/logs. Ctrl-C safe: leaving the block stops every child."""

    def __init__(self, port: int = 8780, ui: bool = False) -> None:
        self.port = free_port(port)
        self.url = f"http://127.0.0.1:{self.port}"
        # Providers deliver to this address; watches are opened with it.
        os.environ["SMVUE_PUBLIC_URL"] = self.url
        self.settings = Settings.from_env()
        self.options = StackOptions(gateway_port=self.port, ui=ui, log_dir=self.settings.logs_dir)
        self.stack: Stack | None = None

    def __enter__(self) -> LiveStack:
        try:
            self.stack = build_stack(self.settings, self.options)
            self.stack.start(self.options.ready_timeout)
        except StackError as exc:
            raise CliError(str(exc)) from None
        return self

    def __exit__(self, *exc) -> None:
        if self.stack is not None:
            self.stack.stop()

    def check(self) -> None:
        """Raise if a child died (its log is named)."""
        if self.stack is not None:
            try:
                self.stack._check_alive()
            except StackError as exc:
                raise CliError(str(exc)) from None

    def open_watches(self) -> int:
        """A channel / subscription per selected calendar of connections made without the gateway
        (the demo connects in-process); the gateway must be up for Graph's validation handshake."""
        from smvue_pipeline.resources.bindings import build_resources
        from smvue_pipeline.security.cipher import TokenCipher
        from smvue_pipeline.watches import WatchManager

        resources = build_resources(self.settings)
        providers = {"google": resources["google_calendar"], "microsoft": resources["outlook_calendar"]}
        manager = WatchManager(
            OpStore(self.settings.opstore_path),
            TokenCipher(self.settings.secret_key()),
            providers,
            self.settings,
        )
        outcomes = manager.ensure_all()
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise CliError(f"opening watches failed: {failed[0].error}")
        return len(outcomes)

    def idle(self) -> bool:
        """Nothing queued and no Dagster run in flight."""
        if ChangeQueue(OpStore(self.settings.opstore_path)).depth():
            return False
        return runs_in_flight(self.settings) == 0


def runs_in_flight(settings: Settings) -> int:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        statuses = [dg.DagsterRunStatus[s] for s in IN_FLIGHT]
        return instance.get_runs_count(dg.RunsFilter(statuses=statuses))


def published_value(settings: Settings, sql: str, params: Sequence = ()) -> object:
    """One value from the published snapshot (read-only, as downstream readers open it); None
    while the snapshot or the table does not exist yet."""
    path = settings.published_path
    if not path.exists():
        return None
    try:
        con = open_database(path, settings.warehouse_key, read_only=True)
    except Exception:  # noqa: BLE001 - a snapshot being replaced: the next poll opens the new one
        return None
    try:
        row = con.execute(sql, list(params)).fetchone()
    except Exception:  # noqa: BLE001 - the table appears with the first run that writes it
        return None
    finally:
        con.close()
    return row[0] if row else None


def add_one_on_one(base_url: str, admin: EmulatorAdminClient, manager: Manager, rep, start: datetime) -> str:
    """The manager puts a 30-minute 1:1 with `rep` on their calendar, through the provider's API."""
    plan = MeetingPlan(
        f"1:1 {manager.name.split()[0]} / {rep.name.split()[0]}",
        start,
        30,
        [(manager.email, manager.name), (rep.email, rep.name)],
    )
    token = admin.token(manager.email, manager.provider)
    if manager.provider == "google":
        return GoogleActor(base_url, token).insert(google_body(plan, manager))["id"]
    return GraphActor(base_url, token).create(graph_body(plan, manager))["id"]


def raw_title(settings: Settings, event_id: str) -> object:
    return published_value(settings, "SELECT title FROM raw.calendar_events WHERE event_id = ?", [event_id])


def run_live_step(admin: EmulatorAdminClient, emulator_url: str, managers: Sequence[Manager]) -> None:
    """Start the gateway and the daemon, change a calendar as its owner, time the change to raw."""
    with LiveStack() as live:
        print(f"    gateway on {live.url}; dagster-daemon with DAGSTER_HOME={live.settings.dagster_home}")
        print(f"    logs in {live.settings.logs_dir}")
        opened = live.open_watches()
        print(f"    {opened} watch channels / subscriptions opened for the connected calendars")
        # The daemon's first tick syncs what the import left queued; start from a quiet pipeline.
        if not wait_for(lambda: live.check() or live.idle(), timeout=180, poll=0.5):
            raise CliError("the daemon did not drain the change queue within 180 s")

        manager = managers[0]
        rep = manager.reps[-1]
        start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=16, minute=0, second=0, microsecond=0)
        event_id = add_one_on_one(emulator_url, admin, manager, rep, start)
        changed = time.monotonic()
        print(f"    {manager.name} adds a 1:1 with {rep.name} in {manager.provider} calendar (no trigger)")
        seen = wait_for(lambda: live.check() or raw_title(live.settings, event_id), timeout=120, poll=0.1)
        if not seen:
            raise CliError("the change did not reach raw.calendar_events within 120 s")
        elapsed = time.monotonic() - changed
        print(f"    in raw.calendar_events after {elapsed:.1f} s: {seen!r}")
        print("    stopping the gateway and the daemon")

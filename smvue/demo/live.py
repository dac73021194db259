"""The demo's near-real-time step, and the live stack it runs on (also used by bench/).

The gateway and the Dagster daemon run as `smvue up` runs them (LiveStack); managers change their
calendars in the emulator, and each change reaches `raw.calendar_events`, the 1:1s and the cadence
marts through the provider's notification, the gateway, the change queue and the sensor's run —
nobody triggers anything.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from calendar_emulator.actors import EmulatorAdminClient, GoogleActor, GraphActor
from smvue.demo.organisation import ROOM, Manager, MeetingPlan
from smvue.demo.seeding import google_body, graph_body
from smvue.errors import CliError
from smvue.up import Stack, StackError, StackOptions, build_stack
from smvue_core.opstore import OpStore
from smvue_core.opstore.queue import ChangeQueue
from smvue_core.settings import Settings
from smvue_core.warehouse.database import open_database

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

    def __init__(self, port: int = 8780, ui: bool = False, ui_port: int = 3000) -> None:
        self.port = free_port(port)
        self.url = f"http://127.0.0.1:{self.port}"
        # Providers deliver to this address; watches are opened with it.
        os.environ["SMVUE_PUBLIC_URL"] = self.url
        self.settings = Settings.from_env()
        self.options = StackOptions(
            gateway_port=self.port,
            ui=ui,
            ui_port=free_port(ui_port) if ui else ui_port,
            log_dir=self.settings.logs_dir,
        )
        self.ui_url = f"http://127.0.0.1:{self.options.ui_port}" if ui else None
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
        from smvue_core.security.cipher import TokenCipher
        from smvue_core.watches import WatchManager
        from smvue_pipeline.resources.bindings import build_resources

        resources = build_resources(self.settings)
        providers = {
            "google": resources["google_calendar"].client(),
            "microsoft": resources["outlook_calendar"].client(),
        }
        manager = WatchManager(
            OpStore(self.settings.opstore_target),
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
        if ChangeQueue(OpStore(self.settings.opstore_target)).depth():
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


@dataclass
class Change:
    """A user's edit in their own calendar, and how to recognise it in the published tables."""

    who: str
    what: str
    title: str
    start: datetime
    changed_at: float
    seen: dict[str, float] = field(default_factory=dict)


# Where a change shows up, in pipeline order, found in the published snapshot by title and start
# (the provider's event id is not what a user sees, and Graph has two kinds of it).
STAGES = (
    ("raw.calendar_events", "SELECT count(*) FROM raw.calendar_events WHERE title = ? AND start_at = ?"),
    (
        "analytics.one_on_one_meetings",
        """SELECT count(*) FROM analytics.one_on_one_meetings o
           JOIN raw.calendar_events r USING (connection_id, event_id)
           WHERE r.title = ? AND o.start_at = ?""",
    ),
    (
        "analytics.cadence_metrics",
        """SELECT count(*) FROM analytics.cadence_metrics c
           JOIN analytics.one_on_one_meetings o USING (manager_id, rep_id)
           JOIN raw.calendar_events r USING (connection_id, event_id)
           WHERE r.title = ? AND o.start_at = ? AND c.next_scheduled_at <= o.start_at""",
    ),
)


def _next_day_at(hour: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


def add_meeting_change(admin: EmulatorAdminClient, emulator_url: str, manager: Manager) -> Change:
    """The manager books a new 1:1 with their last rep for tomorrow, in their own calendar."""
    rep = manager.reps[-1]
    start = _next_day_at(16)
    add_one_on_one(emulator_url, admin, manager, rep, start)
    what = f"adds a 1:1 with {rep.name} tomorrow {start:%H:%M} UTC"
    title = f"1:1 {manager.name.split()[0]} / {rep.name.split()[0]}"
    return Change(manager.name, what, title, start, time.monotonic())


def move_meeting_change(admin: EmulatorAdminClient, emulator_url: str, manager: Manager) -> Change:
    """The manager moves their next 1:1 in the room (the organisation's room booking) to tomorrow."""
    rows = [
        r
        for r in admin.dump(manager.email, manager.provider)
        if not r["deleted"] and ROOM[1] in (r["event"].get("summary") or r["event"].get("subject") or "")
    ]
    if not rows:
        raise CliError(f"no room booking found on {manager.email}'s calendar to move")
    event_id = rows[0]["id"]
    title = rows[0]["event"].get("summary") or rows[0]["event"].get("subject")
    start = _next_day_at(11)
    end = start + timedelta(minutes=30)
    token = admin.token(manager.email, manager.provider)
    if manager.provider == "google":
        GoogleActor(emulator_url, token).patch(
            event_id,
            {
                "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
                "end": {"dateTime": end.isoformat(), "timeZone": "UTC"},
            },
            rows[0]["calendar_id"],
        )
    else:
        GraphActor(emulator_url, token).patch(
            event_id,
            {
                "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
                "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            },
        )
    what = f"moves {title!r} to tomorrow {start:%H:%M} UTC"
    return Change(manager.name, what, title, start, time.monotonic())


def run_webhook_step(
    live: LiveStack,
    admin: EmulatorAdminClient,
    emulator_url: str,
    managers: Sequence[Manager],
    timeout: float = 300,
) -> None:
    """Two managers change their calendars as users do; nobody triggers anything. Each change comes
    back as the provider's notification → the gateway (verified, queued) → change_queue_sensor →
    a sync run, and is timed at each table it reaches. The timeout only detects a stuck pipeline:
    a busy or slow machine takes several times the quiet figure (README), and must still pass."""
    changes = [add_meeting_change(admin, emulator_url, managers[0])]
    if len(managers) > 1:
        changes.append(move_meeting_change(admin, emulator_url, managers[1]))
    for change in changes:
        print(f"    {change.who} {change.what}, in their own calendar")

    def progressed() -> bool:
        live.check()
        for change in changes:
            for table, sql in STAGES:
                if table not in change.seen and published_value(
                    live.settings, sql, [change.title, change.start]
                ):
                    change.seen[table] = time.monotonic() - change.changed_at
        return all(len(c.seen) == len(STAGES) for c in changes)

    done = wait_for(progressed, timeout=timeout, poll=0.2)
    for change in changes:
        timings = " → ".join(
            f"{table} {change.seen[table]:.1f} s" for table, _ in STAGES if table in change.seen
        )
        print(f"    {change.who}: webhook → {timings or 'nothing yet'}")
    if not done:
        missing = next(table for table, _ in STAGES if any(table not in c.seen for c in changes))
        raise CliError(
            f"a calendar change did not reach {missing} within {timeout:.0f} s (logs: {live.settings.logs_dir})"
        )

"""The initial import's progress bar: what the daemon's runs have done, read the way the app reads it
(connection status from the gateway's API) and the way downstream readers do (the published
snapshot), until every selected calendar is synced, the cadence marts exist and nothing is queued."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from smvue.demo.api import GatewayClient
from smvue.demo.live import LiveStack, published_value
from smvue.errors import CliError

BAR_WIDTH = 30


@dataclass
class ImportState:
    """One poll: per connection its status and synced calendars, and what the snapshot holds."""

    connections: list[dict]
    calendars_synced: dict[str, int]
    events: dict[str, int]
    one_on_ones: int | None
    cadence_rows: int | None
    idle: bool

    @property
    def total_steps(self) -> int:
        # Per calendar: synced; then the 1:1s, the cadence marts, and the pipeline at rest.
        return sum(len(_selected(c)) for c in self.connections) + 3

    @property
    def done_steps(self) -> int:
        synced = sum(
            min(self.calendars_synced.get(c["connection_id"], 0), len(_selected(c))) for c in self.connections
        )
        return synced + (self.one_on_ones is not None) + (self.cadence_rows is not None) + self.complete

    @property
    def failed(self) -> list[str]:
        return [
            f"{c['account_email']}: {c['status']} ({c['last_error'] or 'no detail'})"
            for c in self.connections
            if c["status"] in ("error", "needs_reconnect")
        ]

    @property
    def complete(self) -> bool:
        calendars_done = all(
            self.calendars_synced.get(c["connection_id"], 0) >= len(_selected(c)) for c in self.connections
        )
        return calendars_done and self.cadence_rows is not None and self.idle

    def detail(self) -> str:
        parts = []
        for c in self.connections:
            cid = c["connection_id"]
            synced = self.calendars_synced.get(cid, 0)
            if synced:
                parts.append(
                    f"{c['account_email'].split('@')[0]} {synced} cal, {self.events.get(cid, 0)} events"
                )
            else:
                parts.append(f"{c['account_email'].split('@')[0]} {c['status']}")
        if self.cadence_rows is not None:
            parts.append(f"cadence {self.cadence_rows} pairs")
        elif self.one_on_ones is not None:
            parts.append(f"{self.one_on_ones} 1:1s")
        return " · ".join(parts)


def _selected(connection: dict) -> list[dict]:
    return [c for c in connection["calendars"] if c["is_selected"]]


def poll(api: GatewayClient, live: LiveStack) -> ImportState:
    live.check()
    settings = live.settings
    connections = api.connections()
    synced, events = {}, {}
    for c in connections:
        cid = c["connection_id"]
        synced[cid] = int(
            published_value(settings, "SELECT count(*) FROM raw.sync_state WHERE connection_id = ?", [cid])
            or 0
        )
        events[cid] = int(
            published_value(
                settings,
                "SELECT count(*) FROM raw.calendar_events WHERE connection_id = ? AND status <> 'cancelled'",
                [cid],
            )
            or 0
        )
    return ImportState(
        connections=connections,
        calendars_synced=synced,
        events=events,
        one_on_ones=published_value(settings, "SELECT count(*) FROM analytics.one_on_one_meetings"),
        cadence_rows=published_value(settings, "SELECT count(*) FROM analytics.cadence_metrics"),
        idle=live.idle(),
    )


class ProgressBar:
    """`[#####-----]  3/7  12 s  detail`, redrawn in place on a terminal, one line per change otherwise
    (a log or a pipe gets no carriage returns)."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty()
        self.started = time.monotonic()
        self.last = ""

    def show(self, done: int, total: int, detail: str) -> None:
        total = max(total, 1)
        filled = int(BAR_WIDTH * min(done, total) / total)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"    {self.label} [{bar}] {done}/{total}  {detail}"
        if self.interactive:
            elapsed = f"{time.monotonic() - self.started:4.0f} s"
            self.stream.write("\r\x1b[2K" + f"{line}  {elapsed}"[:200])
            self.stream.flush()
        elif line != self.last:
            print(line, file=self.stream, flush=True)
        self.last = line

    def finish(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def wait_for_import(
    api: GatewayClient,
    live: LiveStack,
    timeout: float = 480.0,  # detects a stuck import; a busy machine takes several times the quiet figure
    poll_every: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> ImportState:
    """Poll until the import is complete; raise with what is missing after `timeout` seconds."""
    bar = ProgressBar("initial import")
    deadline = clock() + timeout
    try:
        while True:
            state = poll(api, live)
            bar.show(state.done_steps, state.total_steps, state.detail())
            if state.failed:
                raise CliError("the initial import failed for " + "; ".join(state.failed))
            if state.complete:
                return state
            if clock() > deadline:
                raise CliError(
                    f"the initial import did not finish within {timeout:.0f} s "
                    f"({state.detail()}; logs: {live.settings.logs_dir})"
                )
            time.sleep(poll_every)
    finally:
        bar.finish()

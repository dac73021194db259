"""Chaos on the sync path: kill -9 at random points of a sync, and provider faults at 10%.

Both run against an emulator process with mailboxes of two calendars each, half Google and half
Outlook, synced with small pages (many requests, many kill points). Two SMVUE_HOMEs connect the
same mailboxes through OAuth: the chaos home, and a clean home whose warehouse is deleted and
imported afresh (no faults, no kill) whenever a reference is needed.
"""

from __future__ import annotations

import queue
import random
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.chaos.checks import compare, duplicates, live_rows, scan, secrets_of
from bench.common import EmulatorProcess, Mailbox, kill_group, make_events, organisation, seed_organisation
from bench.incremental import KINDS, mutate
from bench.smvue_sync import SmvueHome, load_result

USERS = 6
CALENDARS = 2 * USERS
EVENTS = 240  # per calendar
PAGE = 40
API = ("/google/calendar/", "/microsoft/v1.0/")  # what the fault rules hit (not OAuth)


class World:
    """The emulator, its mailboxes, and the chaos and clean homes."""

    def __init__(self, emulator: EmulatorProcess, workdir: Path, seed: int) -> None:
        self.emulator = emulator
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC)
        self.mailboxes = organisation(USERS, uuid.uuid4().hex[:6])
        seed_organisation(emulator.admin, self.mailboxes, EVENTS, self.now)
        for index, mailbox in enumerate(self.mailboxes):  # a second calendar each
            second = emulator.admin.call(
                "POST",
                "calendars",
                json={"email": mailbox.email, "provider": mailbox.provider, "name": "Team"},
            )["calendar_id"]
            events = make_events(mailbox.provider, mailbox.email, EVENTS, 1000 + index, self.now)
            emulator.admin.seed(mailbox.email, mailbox.provider, events, second)
        self.alive = {m.email: set(range(EVENTS)) for m in self.mailboxes}
        self.chaos = self._home(workdir / "chaos-home")
        self.clean = self._home(workdir / "clean-home")
        self.changes = 0

    def _home(self, path: Path) -> SmvueHome:
        home = SmvueHome(path, self.emulator.url)
        try:
            home.connect(self.mailboxes)
            repo = home.service.connections
            for connection in repo.list():
                every = repo.calendars(connection.connection_id, selected_only=False)
                repo.select_calendars(connection.connection_id, {c.calendar_id for c in every})
        finally:
            home.close()
        return home

    def change(self, count: int) -> None:
        """`count` changes as the users (moves, creates, cancels, deletes) on their primaries."""
        for _ in range(count):
            mailbox: Mailbox = self.rng.choice(self.mailboxes)
            pool = sorted(self.alive[mailbox.email])
            index = self.rng.choice(pool)
            kind = self.rng.choice(KINDS)
            mutate(self.emulator, mailbox, 1, self.rng.randint(0, 10**6), self.now, [index], (kind,))
            if kind in ("cancel", "delete"):
                self.alive[mailbox.email].discard(index)
            self.changes += 1

    def clean_rows(self) -> dict:
        """A fresh full import into the clean home's (emptied) warehouse: the reference."""
        for path in self.clean.home.glob("*.duckdb*"):
            path.unlink()
        result = load_result(self.clean.sync(page_size=PAGE))
        if not result["success"]:
            raise RuntimeError("the clean import failed")
        return live_rows(self.clean)

    def wipe_chaos_warehouse(self) -> None:
        for path in self.chaos.home.glob("*.duckdb*"):
            path.unlink()

    def secrets(self) -> list[str]:
        return secrets_of(self.emulator.admin)


def kill_sync(args, workdir: Path) -> dict:
    """kill -9 of the sync child at a random moment (after it announced it started syncing), then
    a normal sync; the live rows must equal a clean import's and hold no duplicate."""
    trials = args.trials
    rng = random.Random(20)
    outcomes = []
    with EmulatorProcess(workdir / "emulator.log") as emulator:
        world = World(emulator, workdir, seed=20)
        # How long a whole import takes here: the kill lands anywhere in it (or just after).
        timing = load_result(world.chaos.sync(page_size=PAGE))
        span = max(0.2, timing["materialize_s"] * 1.2)
        for trial in range(trials):
            mode = "initial import" if trial % 2 == 0 else "incremental"
            if mode == "initial import":
                world.wipe_chaos_warehouse()
            else:
                world.change(8)
            child = world.chaos.start_sync(page_size=PAGE)
            lines: queue.Queue = queue.Queue()
            threading.Thread(target=_pump, args=(child, lines), daemon=True).start()
            _wait_line(lines, child, "syncing", 120)
            began = time.perf_counter()
            applied = 0
            if trial % 4 < 2:  # a random moment of the run
                how = "random moment"
                time.sleep(rng.uniform(0, span))
            else:  # a random point of the work: after k calendars committed, inside the next one
                how = "after k calendars"
                k = rng.randrange(CALENDARS)
                while applied < k and child.poll() is None:
                    applied += _next_line(lines).startswith("applied")
                time.sleep(rng.uniform(0, 0.05))
            delay = time.perf_counter() - began
            finished_before_kill = child.poll() is not None
            kill_group(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            while not lines.empty():
                applied += lines.get().startswith("applied")
            recovery = load_result(world.chaos.sync(page_size=PAGE))
            chaos = live_rows(world.chaos)
            clean = world.clean_rows()
            verdict = compare(chaos, clean) | {
                "duplicates": duplicates(world.chaos),
                "recovery_ok": recovery["success"],
            }
            outcomes.append(
                {
                    "trial": trial,
                    "mode": mode,
                    "kill": how,
                    "kill_after_s": round(delay, 3),
                    "calendars_committed_before_kill": applied,
                    "finished_before_kill": finished_before_kill,
                }
                | verdict
            )
        leaks = scan([world.chaos.home, world.clean.home], world.secrets())
    ok = all(o["equal"] and o["duplicates"] == 0 and o["recovery_ok"] for o in outcomes)
    return {
        "passed": ok and leaks["hits"] == 0,
        "figures": {
            "trials": len(outcomes),
            "equal_to_clean": sum(o["equal"] for o in outcomes),
            "duplicates": sum(o["duplicates"] for o in outcomes),
            "killed_mid_sync": sum(not o["finished_before_kill"] for o in outcomes),
            "kill_points_calendars_committed": sorted(
                {o["calendars_committed_before_kill"] for o in outcomes}
            ),
            "changes_made": world.changes,
            "canary_hits": leaks["hits"],
        },
        "trials": outcomes,
        "scan": leaks,
    }


def provider_faults(args, workdir: Path) -> dict:
    """429 / 503 with Retry-After, timeouts, 410s and truncated bodies on 10% of calendar API
    requests, through an import and rounds of changes; a connection that fails is synced again on
    the next round, as the sensor would. Converged = live rows equal a clean import's."""
    rules = [
        {"kind": "rate_limit", "rate": 0.025, "status": 429, "retry_after": 1},
        {"kind": "server_error", "rate": 0.025, "status": 503, "retry_after": 1},
        {"kind": "timeout", "rate": 0.025, "seconds": 4},
        {"kind": "truncate", "rate": 0.025},
        {"kind": "sync_token_expired", "rate": 0.1},  # only requests carrying a sync/delta token
    ]
    options = {"page_size": PAGE, "request_timeout": 2, "retry_cap": 2}
    rounds = []
    with EmulatorProcess(workdir / "emulator.log") as emulator:
        world = World(emulator, workdir, seed=10)
        requests_made, fired = 0, Counter()
        for number in range(args.fault_rounds):
            if number:
                # The users' own edits go through unfaulted (the faults are SMVue's to survive).
                emulator.admin.clear_faults()
                world.change(10)
            emulator.admin.reset_stats()
            emulator.admin.faults({"seed": 10 + number, "rules": rules})
            syncs, failed = 0, []
            while syncs < 6:
                syncs += 1
                result = load_result(world.chaos.sync(**options))
                failed.append(result.get("connections_failed") or 0)
                if result["success"] and not failed[-1]:
                    break
            stats = emulator.admin.stats()
            requests_made += sum(
                n for k, n in stats["requests"].items() if k.split(" ", 1)[1].startswith(API)
            )
            fired.update(stats["faults"])
            rounds.append({"round": number, "syncs": syncs, "connections_failed_per_sync": failed})
        emulator.admin.clear_faults()
        chaos = live_rows(world.chaos)
        clean = world.clean_rows()
        verdict = compare(chaos, clean) | {"duplicates": duplicates(world.chaos)}
        leaks = scan([world.chaos.home, world.clean.home], world.secrets())
    faulted = sum(fired.values())
    return {
        "passed": verdict["equal"] and verdict["duplicates"] == 0 and leaks["hits"] == 0,
        "figures": {
            "fault_rate": round(faulted / max(1, requests_made), 3),
            "faults_fired": dict(fired),
            "calendar_api_requests": requests_made,
            "rounds": len(rounds),
            "syncs_per_round": [r["syncs"] for r in rounds],
            "equal_to_clean": verdict["equal"],
            "rows": verdict["rows"],
            "duplicates": verdict["duplicates"],
            "canary_hits": leaks["hits"],
        },
        "rounds": rounds,
        "compare": verdict,
        "scan": leaks,
    }


def _pump(child, lines: queue.Queue) -> None:
    for line in child.stdout:
        lines.put(line)


def _next_line(lines: queue.Queue) -> str:
    try:
        return lines.get(timeout=0.05)
    except queue.Empty:
        return ""


def _wait_line(lines: queue.Queue, child, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if child.poll() is not None:
                raise RuntimeError(f"the sync child exited ({child.returncode}) before '{needle}'") from None
            continue
        if line.startswith(needle):
            return
    raise RuntimeError(f"the sync child did not say '{needle}' within {timeout:.0f} s")

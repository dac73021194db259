"""Chaos on the write-back path: kill -9 of a write-back worker process at a random moment while it
drains new, rescheduled and cancelled meetings, then a fresh worker after the dead one's lease.

After every trial each meeting must be where a clean drain leaves it: `synced`, exactly one
SMVue-tagged event on the manager's calendar for a scheduled meeting (at the meeting's times), none
for a cancelled one — zero duplicates on the calendars.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.chaos.checks import scan, secrets_of
from bench.common import PYTHON, REPO, EmulatorProcess, kill_group, organisation, run_child
from bench.smvue_sync import SmvueHome
from smvue_core.providers.tags import smvue_meeting_id

LEASE_SECONDS = 1.0
WRITE_MS = 40
MEETINGS_PER_TRIAL = 8  # per manager: enough work that a random kill lands mid-drain


def tag_of(row: dict) -> str | None:
    return smvue_meeting_id(row["event"])


def times_of(row: dict) -> tuple[datetime, datetime]:
    def parse(value: dict) -> datetime:
        text = value["dateTime"].rstrip("Z")
        if "." in text:
            head, fraction = text.split(".", 1)
            text = f"{head}.{fraction[:6]}"
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)

    event = row["event"]
    return parse(event["start"]), parse(event["end"])


class WritebackWorld:
    def __init__(self, emulator: EmulatorProcess, workdir: Path) -> None:
        from smvue_core.opstore import OpStore
        from smvue_core.opstore.meetings import MeetingRepository
        from smvue_core.writeback.scheduling import MeetingService

        self.emulator = emulator
        self.managers = organisation(2, uuid.uuid4().hex[:6])
        for m in self.managers:
            m.calendar_id = emulator.admin.create_user(m.email, m.provider)["primary_calendar_id"]
        self.home = SmvueHome(workdir / "home", emulator.url)
        self.home.connect(self.managers)
        roster = self.home.service.roster
        self.reps = {}
        for m in self.managers:
            rep_id = f"rep_{uuid.uuid4().hex[:8]}"
            roster.upsert_team_member(
                rep_id, m.manager_id, "Riley Rep", f"{rep_id}@bench-reps.example", "2025-01-06"
            )
            self.reps[m.manager_id] = rep_id
        self.store = OpStore(self.home.settings.opstore_target)
        self.service = MeetingService(self.store, self.home.settings.published_path)
        self.meetings = MeetingRepository(self.store)
        self.ids: list[str] = []
        self.slot = 0

    def schedule(self, manager) -> str:
        from smvue_core.writeback.scheduling import ScheduleRequest

        self.slot += 1
        start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        start += timedelta(minutes=30 * self.slot)
        request = ScheduleRequest(
            manager.manager_id,
            self.reps[manager.manager_id],
            start,
            start + timedelta(minutes=30),
            "Weekly 1:1",
            "Weekly",
        )
        meeting_id = self.service.schedule(request, idempotency_key=str(uuid.uuid4())).meeting_id
        self.ids.append(meeting_id)
        return meeting_id

    def operations(self, rng: random.Random) -> None:
        """New meetings for both managers, and a reschedule and a cancel of earlier live ones."""
        for manager in self.managers:
            for _ in range(MEETINGS_PER_TRIAL):
                self.schedule(manager)
        live = [m for m in self.ids if self.meetings.get(m).status == "scheduled"]
        fresh = 2 * MEETINGS_PER_TRIAL
        if len(live) > fresh:
            moved = rng.choice(live[:-fresh])
            meeting = self.meetings.get(moved)
            shift = timedelta(hours=rng.randint(1, 48))
            self.service.reschedule(moved, meeting.start_at + shift, meeting.end_at + shift)
            cancelled = rng.choice([m for m in live[:-fresh] if m != moved] or [moved])
            self.service.cancel(cancelled)

    def worker(self, once: bool = False) -> list[str]:
        argv = [
            PYTHON,
            "-m",
            "smvue_core.writeback",
            "--lease-seconds",
            str(LEASE_SECONDS),
            "--interval",
            "0.05",
        ]
        return argv + (["--once"] if once else [])

    def start_worker(self) -> subprocess.Popen:
        """A long-running worker, returned once it announced it is ready (imports done)."""
        child = subprocess.Popen(
            self.worker(),
            cwd=REPO,
            env=self.home.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        child.stderr.readline()  # "writeback worker ... ready"
        threading.Thread(target=child.stderr.read, daemon=True).start()  # never a full pipe
        return child

    def pending(self) -> int:
        return self.store.query_one("SELECT count(*) AS n FROM outbox WHERE state = 'pending'")["n"]

    def wait_for_leases(self, timeout: float = 30) -> None:
        """Until no outbox row is leased any more (the dead worker's lease ran out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = datetime.now(UTC).isoformat()
            row = self.store.query_one(
                "SELECT count(*) AS n FROM outbox WHERE lease_owner IS NOT NULL AND lease_until > ?", (now,)
            )
            if row["n"] == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("a lease outlived its time")

    def check(self) -> dict:
        tagged: Counter = Counter()
        events: dict[str, dict] = {}
        for m in self.managers:
            for row in self.emulator.admin.dump(m.email, m.provider):
                if (
                    row["deleted"]
                    or (row["event"].get("status") == "cancelled")
                    or row["event"].get("isCancelled")
                ):
                    continue
                tag = tag_of(row)
                if tag:
                    tagged[tag] += 1
                    events[tag] = row
        wrong, duplicates, unsynced = [], 0, 0
        for meeting_id in self.ids:
            meeting = self.meetings.get(meeting_id)
            if meeting.writeback_state != "synced":
                unsynced += 1
                wrong.append(f"{meeting_id}: {meeting.writeback_state} {meeting.writeback_error}")
                continue
            expected = 1 if meeting.status == "scheduled" else 0
            if tagged[meeting_id] > 1:
                duplicates += tagged[meeting_id] - 1
            if tagged[meeting_id] != expected:
                wrong.append(f"{meeting_id}: {tagged[meeting_id]} events, {meeting.status}")
            elif expected and times_of(events[meeting_id]) != (meeting.start_at, meeting.end_at):
                wrong.append(
                    f"{meeting_id}: event at {times_of(events[meeting_id])[0]}, meeting {meeting.start_at}"
                )
        return {
            "meetings": len(self.ids),
            "unsynced": unsynced,
            "duplicates": duplicates,
            "wrong": wrong[:5],
            "ok": not wrong,
        }

    def close(self) -> None:
        self.store.close()
        self.home.close()


def kill_writeback(args, workdir: Path) -> dict:
    rng = random.Random(21)
    outcomes = []
    with EmulatorProcess(workdir / "emulator.log") as emulator:
        world = WritebackWorld(emulator, workdir)
        # Provider writes take 40 ms, as real ones take tens to hundreds: a drain lasts long
        # enough that a random moment of it is a random row at a random step.
        emulator.admin.faults(
            {
                "rules": [
                    {"kind": "latency", "latency_ms": WRITE_MS, "method": m}
                    for m in ("POST", "PATCH", "DELETE")
                ]
            }
        )
        try:
            # The clean drain first: its state is the reference every trial must reach.
            world.operations(rng)
            worker = world.start_worker()
            began = time.perf_counter()
            while world.pending():
                if worker.poll() is not None or time.perf_counter() - began > 120:
                    raise RuntimeError("the clean drain did not finish")
                time.sleep(0.01)
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            clean = world.check()
            if not clean["ok"]:
                raise RuntimeError(f"the clean drain is not clean: {clean}")
            for trial in range(args.trials):
                world.operations(rng)
                # A random point of the drain: after k of its n rows (k drawn uniformly), plus a
                # random few milliseconds, so the kill falls anywhere inside a row's write-back
                # (before the provider call, between it and the state update, after).
                rows = world.pending()
                k = rng.randrange(rows)
                child = world.start_worker()
                began = time.perf_counter()
                while world.pending() > rows - k and child.poll() is None:
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 2 * WRITE_MS / 1000))
                delay = time.perf_counter() - began
                pending_at_kill = world.pending()
                kill_group(child.pid, signal.SIGKILL)
                child.wait(timeout=30)
                world.wait_for_leases()
                recovery = run_child(world.worker(once=True), env=world.home.env, timeout=300)
                outcome = world.check()
                outcomes.append(
                    {
                        "trial": trial,
                        "kill_after_rows": k,
                        "rows": rows,
                        "kill_after_s": round(delay, 3),
                        "pending_at_kill": pending_at_kill,
                        "recovery_exit": recovery.returncode,
                    }
                    | outcome
                )
            leaks = scan([world.home.home], secrets_of(emulator.admin))
        finally:
            world.close()
    ok = all(o["ok"] and o["recovery_exit"] == 0 for o in outcomes)
    return {
        "passed": ok and leaks["hits"] == 0,
        "figures": {
            "trials": len(outcomes),
            "clean_trials": sum(o["ok"] for o in outcomes),
            "meetings": outcomes[-1]["meetings"] if outcomes else 0,
            "duplicates_on_calendars": sum(o["duplicates"] for o in outcomes),
            "killed_with_work_pending": sum(o["pending_at_kill"] > 0 for o in outcomes),
            "canary_hits": leaks["hits"],
        },
        "trials": outcomes,
        "scan": leaks,
    }

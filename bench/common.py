"""Pieces every benchmark shares: the emulator in a process of its own, seeding it through the admin
API, child processes measured on their own (wall, CPU, peak RSS), percentiles and verdicts.

Nothing here imports Dagster: the harness stays light, and every heavy step runs in a child.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from calendar_emulator.actors import EmulatorAdminClient

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
HOST = "127.0.0.1"
PYTHON = sys.executable
RESULT_PREFIX = "BENCH_RESULT "


# --- processes -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a running process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float | None:
    """The high-water mark of a running process's resident memory (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def smvue_command() -> list[str]:
    script = Path(PYTHON).with_name("smvue")
    return [str(script)] if script.exists() else [PYTHON, "-m", "smvue.cli"]


@dataclass
class ChildResult:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    timed_out: bool = False

    def result(self) -> dict | None:
        """The child's JSON result: a `BENCH_RESULT {...}` line, else the last JSON object printed."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith(RESULT_PREFIX):
                return json.loads(line[len(RESULT_PREFIX) :])
        return last_json(self.stdout)

    def tail(self, lines: int = 6) -> str:
        text = (self.stderr or self.stdout).strip().splitlines()
        return " | ".join(text[-lines:])[-600:]


def last_json(text: str) -> dict | None:
    """The last JSON object in `text` that starts at the beginning of a line."""
    decoder = json.JSONDecoder()
    starts = [0] if text.startswith("{") else []
    starts += [i + 1 for i in range(len(text)) if text[i] == "\n" and text[i + 1 : i + 2] == "{"]
    for start in reversed(starts):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def run_child(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 1800, cwd: Path = REPO
) -> ChildResult:
    """Run a child to completion and measure it alone: wall time, and from wait4 its own CPU time
    and peak RSS (not those of other children). Killed, with its process group, after `timeout`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.append(process.stdout.read()), daemon=True),
        threading.Thread(target=lambda: err.append(process.stderr.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        kill_group(process.pid)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        kill_group(process.pid)  # interrupted (Ctrl-C, a test's timeout): the child goes with us
        raise
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=30)
    # The child's own group may have left grandchildren (a server it started): end them too.
    kill_group(process.pid)
    return ChildResult(
        returncode=process.returncode,
        stdout="".join(out),
        stderr="".join(err),
        wall_s=time.perf_counter() - started,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        timed_out=timed_out.is_set(),
    )


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def emit(result: dict) -> None:
    """What a child prints last: one line the harness reads back."""
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the emulator, in a process of its own -------------------------------------------------------
class EmulatorProcess:
    """`smvue emulator` on a free loopback port; its CPU time is read from /proc, apart from the
    client's. Stopped (SIGTERM, then SIGKILL) when the block ends."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.admin = EmulatorAdminClient(self.url, timeout=300)  # bulk seeding takes a while

    def __enter__(self) -> EmulatorProcess:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [*smvue_command(), "emulator", "--host", HOST, "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        if log is not subprocess.DEVNULL:
            log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.admin.http.get(self.url + "/_admin/stats", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the emulator did not start on {self.url}")
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_group(self.process.pid)
                self.process.wait(timeout=10)
        kill_group(self.process.pid)

    def cpu_s(self) -> float:
        return cpu_seconds(self.process.pid) or 0.0

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.process.pid)


# --- an organisation of mailboxes with events ----------------------------------------------------
@dataclass
class Mailbox:
    email: str
    provider: str  # google | microsoft
    calendar_id: str
    manager_id: str
    event_ids: list[str] = field(default_factory=list)


def organisation(users: int, tag: str) -> list[Mailbox]:
    """`users` mailboxes, alternating Google and Outlook."""
    return [
        Mailbox(
            email=f"u{i:04d}.{tag}@bench.example",
            provider="google" if i % 2 == 0 else "microsoft",
            calendar_id="",
            manager_id=f"mgr_{tag}_{i:04d}",
        )
        for i in range(users)
    ]


def event_times(rng: random.Random, now: datetime) -> tuple[datetime, int]:
    """A start on a quarter hour between 85 days back and 28 ahead (inside the 90/30 sync window)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=rng.randint(-85, 28))
    start = day + timedelta(minutes=15 * rng.randint(28, 72))  # 07:00-18:00 UTC
    return start, rng.choice((15, 25, 30, 30, 30, 45, 60, 60, 90))


def attendee_list(rng: random.Random, owner: str) -> list[tuple[str, str, str]]:
    people = [(owner, "Owner", "accepted")]
    for _ in range(rng.choice((0, 1, 1, 1, 2, 3, 5))):
        who = rng.randint(0, 999)
        people.append((f"person{who}@bench-people.example", f"Person {who}", rng.choice(RESPONSES)))
    return people if len(people) > 1 else []


RESPONSES = ("accepted", "accepted", "tentative", "declined", "needsAction")
GRAPH_RESPONSES = {"accepted": "accepted", "tentative": "tentativelyAccepted", "declined": "declined"}


def google_event(rng: random.Random, owner: str, now: datetime, n: int) -> dict:
    start, minutes = event_times(rng, now)
    body = {
        "summary": f"Meeting {n}",
        "start": {"dateTime": _z(start), "timeZone": "UTC"},
        "end": {"dateTime": _z(start + timedelta(minutes=minutes)), "timeZone": "UTC"},
        "description": "Agenda and private notes.",
    }
    attendees = attendee_list(rng, owner)
    if attendees:
        body["attendees"] = [
            {"email": e, "displayName": name, "responseStatus": r, "organizer": e == owner}
            for e, name, r in attendees
        ]
    if rng.random() < 0.2:
        body["location"] = f"Room {rng.randint(1, 40)}"
    return body


def graph_event(rng: random.Random, owner: str, now: datetime, n: int) -> dict:
    start, minutes = event_times(rng, now)
    body = {
        "subject": f"Meeting {n}",
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {
            "dateTime": (start + timedelta(minutes=minutes)).replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
        },
        "body": {"contentType": "text", "content": "Agenda and private notes."},
    }
    attendees = attendee_list(rng, owner)
    body["attendees"] = [
        {
            "emailAddress": {"address": e, "name": name},
            "type": "required",
            "status": {"response": GRAPH_RESPONSES.get(r, "none")},
        }
        for e, name, r in attendees
        if e != owner
    ]
    if rng.random() < 0.2:
        body["location"] = {"displayName": f"Room {rng.randint(1, 40)}"}
    return body


def make_events(provider: str, owner: str, count: int, seed: int, now: datetime) -> list[dict]:
    rng = random.Random(seed)
    make = google_event if provider == "google" else graph_event
    return [make(rng, owner, now, n) for n in range(count)]


def seed_organisation(
    admin: EmulatorAdminClient, mailboxes: list[Mailbox], events_per_user: int, now: datetime
) -> float:
    """Create the mailboxes and bulk-seed their primary calendars; returns seconds taken."""
    started = time.perf_counter()
    for index, mailbox in enumerate(mailboxes):
        created = admin.create_user(mailbox.email, mailbox.provider, f"User {index}")
        mailbox.calendar_id = created["primary_calendar_id"]
        events = make_events(mailbox.provider, mailbox.email, events_per_user, index, now)
        for chunk in range(0, len(events), 2000):
            mailbox.event_ids += admin.seed(mailbox.email, mailbox.provider, events[chunk : chunk + 2000])
    return time.perf_counter() - started


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- figures ---------------------------------------------------------------------------------------
def percentiles(samples: list[float], scale: float = 1.0, digits: int = 3) -> dict:
    """Nearest-rank p50/p95/p99 (and n, max) of `samples`, multiplied by `scale`."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
        return round(ordered[index] * scale, digits)

    return {
        "n": len(ordered),
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": round(ordered[-1] * scale, digits),
    }


def verdict(value: float | None, op: str, target: float, unit: str = "") -> dict:
    """PASS / MISS of `value op target`, and by how much (positive margin = headroom)."""
    if value is None:
        return {"verdict": "N/A", "target": f"{op} {target:g}{unit}", "measured": None}
    ok = value <= target if op == "<=" else value >= target
    if op == "<=":
        margin = (target - value) / target if target else 0.0
    else:
        margin = (value - target) / target if target else 0.0
    return {
        "verdict": "PASS" if ok else "MISS",
        "target": f"{op} {target:g}{unit}",
        "measured": round(value, 3),
        "margin_pct": round(100 * margin, 1),
    }


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory": memory,
        "python": sys.version.split()[0],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def write(results: dict, path: Path) -> None:
    """The figures of a bench or chaos run as JSON (bench/results/ by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")

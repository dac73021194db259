"""Where the demo runs: its home folder (wiped on every run, never someone else's data), the
emulator's addresses in the environment, and clean stops on Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests

from smvue.errors import CliError
from smvue_core.security.files import private_dir

DEMO_MARKER = ".smvue-demo"
PID_FILE = "demo.pid"


def _running_demo(home: Path) -> int | None:
    """The pid of another `smvue demo` still using this home (say, one left with --keep)."""
    try:
        pid = int((home / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    return pid if b"demo" in command else None


def prepare_home(home: Path) -> None:
    """Start from a clean demo home; refuse to wipe a folder the demo did not create, or one a
    running demo still uses."""
    if home.exists() and any(home.iterdir()):
        if not (home / DEMO_MARKER).exists():
            raise CliError(f"{home} holds data the demo did not create; set SMVUE_HOME to an empty folder")
        other = _running_demo(home)
        if other:
            raise CliError(
                f"a demo (pid {other}) is still running in {home}; stop it first (Ctrl-C, or kill {other})"
            )
        shutil.rmtree(home)
    private_dir(home)
    (home / DEMO_MARKER).write_text("created by smvue demo; the next demo run wipes this folder\n")
    (home / PID_FILE).write_text(f"{os.getpid()}\n")


def release_home(home: Path) -> None:
    with contextlib.suppress(OSError):
        if (home / PID_FILE).read_text().strip() == str(os.getpid()):
            (home / PID_FILE).unlink()


def point_at_emulator(url: str) -> None:
    os.environ.update(
        {
            "SMVUE_GOOGLE_API_BASE": f"{url}/google/calendar/v3/",
            "SMVUE_GOOGLE_AUTH_BASE": f"{url}/google/oauth2/",
            "SMVUE_GRAPH_API_BASE": f"{url}/microsoft/v1.0/",
            "SMVUE_MS_AUTHORITY": f"{url}/microsoft/common",
        }
    )


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Ctrl-C or SIGTERM raise KeyboardInterrupt once; later ones are ignored, so the cleanup that
    follows (stopping every child process group) is never cut short and leaves no orphans."""
    fired = False

    def interrupt(signum, frame) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def connect_manager(connect, manager) -> str:
    """Connect in-process, without the gateway (bench/ uses it): authorize at the provider (the
    emulator approves the login_hint user at once), then hand the callback's parameters to the
    connect service as the gateway would, and select every calendar."""
    url = connect.start(manager.manager_id, manager.provider)
    http = requests.Session()
    http.trust_env = False
    answer = http.get(url, allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise CliError(f"authorize for {manager.email} failed: {answer.status_code} {answer.text[:200]}")
    params = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    outcome = connect.finish(manager.provider, params)
    connection_id = outcome.connection.connection_id
    every = {c.calendar_id for c in connect.connections.calendars(connection_id, selected_only=False)}
    connect.connections.select_calendars(connection_id, every)
    return connection_id

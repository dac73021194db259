"""`smvue up`: the gateway and the Dagster daemon (and the webserver with --ui), supervised.

Each child runs in its own process group, so stopping one stops everything it spawned (the
daemon's code server and the runs it launched). SIGTERM or SIGINT stop all children cleanly; a
child that dies on its own stops the rest and `smvue up` exits non-zero naming it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests

from smvue.instance import (
    DAGSTER_URL_VARIABLE,
    dagster_database_url,
    ensure_dagster_home,
    prepare_dagster_schema,
)
from smvue_core.security.files import OWNER_ONLY_UMASK, open_private_append, private_dir
from smvue_core.settings import Settings

# Two code locations (the hot path's runs load no dbt; the cadence lane's do): workspace.yaml.
WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"
STOP_GRACE_SECONDS = 20.0


class StackError(Exception):
    """The stack could not start or a child died: one line for the user."""


def _tool(name: str) -> str:
    """A console script of this environment (next to the running Python), else from PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise StackError(f"{name} not found; install the project (make demo / pip install -e .)")
    return found


@dataclass
class Child:
    """One supervised process: how to start it and, once started, its handle."""

    name: str
    argv: list[str]
    ready: Callable[[], bool] | None = None
    process: subprocess.Popen | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class StackOptions:
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8780
    ui: bool = False
    ui_port: int = 3000
    log_dir: Path | None = None  # None: children write to this terminal
    ready_timeout: float = 60.0


def prepare_dbt_manifest() -> bool:
    """`dbt parse` once, when dbt_cadence has no manifest yet: the code location the daemon loads
    builds the cadence assets from it. Returns whether it had to."""
    from smvue_pipeline.assets import cadence_project

    project_dir = cadence_project.PROJECT_DIR
    if cadence_project.MANIFEST_PATH.exists() or not (project_dir / "dbt_project.yml").exists():
        return False
    try:
        cadence_project.prepare_manifest()
    except Exception as exc:  # dbt's own message, on one line
        raise StackError(f"dbt parse failed in {project_dir}: {str(exc).strip().splitlines()[-1:]}") from None
    return True


def stack_environment(settings: Settings, options: StackOptions) -> dict[str, str]:
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(ensure_dagster_home(settings))
    env["SMVUE_HOME"] = str(settings.home)
    env.setdefault("SMVUE_WAREHOUSE", str(settings.warehouse_path.resolve()))
    env.setdefault("SMVUE_PUBLISHED", str(settings.published_path.resolve()))
    env.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    if not os.environ.get("SMVUE_PUBLIC_URL"):
        env["SMVUE_PUBLIC_URL"] = f"http://{options.gateway_host}:{options.gateway_port}"
    if settings.database_url:  # the gateway and the daemon against the given database
        env["SMVUE_DATABASE_URL"] = settings.database_url
        env[DAGSTER_URL_VARIABLE] = dagster_database_url(settings.database_url)
    return env


def _healthy(url: str) -> Callable[[], bool]:
    http = requests.Session()
    http.trust_env = False  # loopback: never through a proxy from the environment

    def check() -> bool:
        try:
            return http.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    return check


def stack_children(options: StackOptions) -> list[Child]:
    gateway_url = f"http://{options.gateway_host}:{options.gateway_port}"
    python = sys.executable
    children = [
        Child(
            "gateway",
            [
                python,
                "-m",
                "smvue.cli",
                "gateway",
                "--host",
                options.gateway_host,
                "--port",
                str(options.gateway_port),
            ],
            ready=_healthy(f"{gateway_url}/healthz"),
        ),
        Child("dagster-daemon", [_tool("dagster-daemon"), "run", "-w", str(WORKSPACE)]),
    ]
    if options.ui:
        children.append(
            Child(
                "dagster-webserver",
                [
                    _tool("dagster-webserver"),
                    "-w",
                    str(WORKSPACE),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(options.ui_port),
                ],
                ready=_healthy(f"http://127.0.0.1:{options.ui_port}/server_info"),
            )
        )
    return children


class Stack:
    """Start, watch and stop a set of children; used by `smvue up`, the demo and the bench."""

    def __init__(self, children: list[Child], env: dict[str, str], log_dir: Path | None = None) -> None:
        self.children = children
        self.env = env
        self.log_dir = log_dir
        self.stopping = threading.Event()

    def start(self, ready_timeout: float = 60.0) -> None:
        try:
            for child in self.children:
                self._spawn(child)
            deadline = time.monotonic() + ready_timeout
            for child in self.children:
                while child.ready is not None and not child.ready():
                    self._check_alive()
                    if self.stopping.is_set():
                        return
                    if time.monotonic() > deadline:
                        raise StackError(f"{child.name} did not become ready in {ready_timeout:.0f} s")
                    time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, child: Child) -> None:
        out: int | IO[bytes] | None = None
        if self.log_dir is not None:
            private_dir(self.log_dir)
            child.log = open_private_append(self.log_dir / f"{child.name}.log")  # closed in stop()
            out = child.log
        child.process = subprocess.Popen(  # noqa: S603 - argv built from our own tools
            child.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            start_new_session=True,  # its own process group: stopping it stops what it spawned
            # Whoever starts the stack (smvue up, the demo, bench/), what the children write under
            # SMVUE_HOME (the store's -wal/-shm, Dagster's storage, the runs' files) is owner-only.
            umask=OWNER_ONLY_UMASK,
        )

    def _check_alive(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                where = f" (log: {self.log_dir / (child.name + '.log')})" if self.log_dir else ""
                raise StackError(f"{child.name} exited with status {child.process.returncode}{where}")

    def wait(self, poll: float = 0.2) -> None:
        """Until stop() is requested (returns) or a child dies (raises StackError)."""
        while not self.stopping.wait(poll):
            self._check_alive()

    def request_stop(self) -> None:
        self.stopping.set()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM every child's process group, newest first; SIGKILL whatever outlives the grace."""
        self.stopping.set()
        started = [c for c in self.children if c.process is not None]
        for child in reversed(started):
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(started):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in started:
            # The leader may be gone while its code server or a run lingers: sweep the group.
            _signal_group(child.process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
            if child.log is not None:
                child.log.close()
                child.log = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def group_alive(process: subprocess.Popen) -> bool:
    """Whether any live process remains in the child's process group (zombies do not count: an
    orphan waits for whoever reaps it, which may be slow in containers)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command's ")": state, ppid, pgrp, ...
        if int(fields[2]) == process.pid and fields[0] != "Z":
            return True
    return False


def prepare_dagster_storage(dagster_home: str, env: dict[str, str] | None = None) -> None:
    """Create the instance's storage once, here: the daemon and the webserver starting together on
    a fresh home would both stamp its schema (alembic then sees two heads). On PostgreSQL its
    schema is created first, and this process reads the instance's URL as the children will."""
    import dagster as dg

    env = env or {}
    if env.get(DAGSTER_URL_VARIABLE):
        prepare_dagster_schema(env["SMVUE_DATABASE_URL"])
        os.environ[DAGSTER_URL_VARIABLE] = env[DAGSTER_URL_VARIABLE]
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        instance.get_runs_count()


def build_stack(settings: Settings, options: StackOptions) -> Stack:
    env = stack_environment(settings, options)
    prepare_dbt_manifest()
    prepare_dagster_storage(env["DAGSTER_HOME"], env)
    return Stack(stack_children(options), env, options.log_dir)


def run_up(settings: Settings, options: StackOptions, say: Callable[[str], None] = print) -> None:
    """`smvue up`: start, report where things are, run until SIGTERM/SIGINT or a child dies."""
    stack = build_stack(settings, options)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum, frame) -> None:
        stack.request_stop()

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        stack.start(options.ready_timeout)
        if not stack.stopping.is_set():
            say(f"gateway on http://{options.gateway_host}:{options.gateway_port}")
            say(f"dagster-daemon running; DAGSTER_HOME={stack.env['DAGSTER_HOME']}")
            if options.ui:
                say(f"Dagster UI on http://127.0.0.1:{options.ui_port}")
            stack.wait()
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

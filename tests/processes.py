"""Processes a test starts: each in its own process group, stopped with everything it spawned.

Every process the suite starts inherits `SESSION_MARK` (set in the environment at session start),
and every process started through `spawn` also gets a mark of its own. Marks travel through the
environment, so they reach grandchildren that start sessions of their own (`smvue up`'s gateway
and daemon, Dagster's run workers, Chromium's renderers) where a process group would not.

- `running(argv)` / `spawn(argv)` + `stop(process)`: start, then stop in a `finally` — the group
  first (SIGTERM, then SIGKILL after a grace), then any process left carrying the spawn's mark.
- `run(argv, timeout)`: `subprocess.run` whose timeout kills the whole tree, not just the child.
- `Output(process)`: its output collected on a thread, to wait on a line it prints.
- `leftovers()`: live processes carrying this session's mark; tests/conftest.py fails the run if
  any is still alive when the session ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.waiting import scaled, wait_until

# Not SMVUE_-prefixed: helpers that give a child a clean SMVUE_/DAGSTER_ environment keep it.
SESSION_VAR = "TESTS_SESSION_MARK"
SPAWN_VAR = "TESTS_SPAWN_MARK"
SESSION_MARK = os.environ.get(SESSION_VAR) or uuid.uuid4().hex


def mark_session() -> None:
    """A fresh mark for this pytest session, in the environment every child inherits (from
    pytest_configure). Fresh, not inherited: a pytest run inside a test is a session of its own,
    which must not count the outer session's processes as its leftovers."""
    global SESSION_MARK
    SESSION_MARK = uuid.uuid4().hex
    os.environ[SESSION_VAR] = SESSION_MARK


def spawn(argv: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """`subprocess.Popen` in a new session (its own process group), carrying a mark of its own."""
    child_env = dict(os.environ if env is None else env)
    child_env[SESSION_VAR] = SESSION_MARK
    child_env[SPAWN_VAR] = uuid.uuid4().hex
    process = subprocess.Popen(argv, env=child_env, start_new_session=True, **kwargs)  # noqa: S603
    process.spawn_mark = child_env[SPAWN_VAR]  # type: ignore[attr-defined]
    return process


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop the process, its group and everything carrying its mark; waits until all are gone."""
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=scaled(grace))
    _signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=scaled(grace))
    mark = getattr(process, "spawn_mark", None)
    if mark is not None:
        kill_marked(f"{SPAWN_VAR}={mark}", grace)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str] | None = None, **kwargs) -> Iterator[subprocess.Popen]:
    """`with running([...]) as process:` — stopped (with its tree) however the block ends."""
    process = spawn(argv, env=env, **kwargs)
    try:
        yield process
    finally:
        stop(process)


def run(argv: list[str], timeout: float, env: dict[str, str] | None = None, **kwargs):
    """`subprocess.run(capture_output=True, text=True)` whose timeout (scaled) stops the whole tree."""
    process = spawn(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    try:
        out, err = process.communicate(timeout=scaled(timeout))
    finally:
        # Timed out or done: what it started in the background is not left behind either way.
        stop(process)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def marked(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment holds `marker` (`NAME=value`)."""
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and _state(entry) != "Z":
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def kill_marked(marker: str, grace: float = 5.0) -> list[int]:
    """SIGKILL every live process holding `marker`; returns the pids found (waits until gone)."""
    pids = marked(marker)
    kill(pids, grace)
    return pids


def kill(pids: list[int], grace: float = 5.0) -> None:
    """SIGKILL these processes and wait until none of them is alive (one that outlives SIGKILL
    past the grace is a failure, named)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: not any(_alive(pid) for pid in pids),
        grace,
        f"processes {pids} gone after SIGKILL",
        poll=0.05,
        detail=lambda: "\n".join(describe(pid) for pid in pids if _alive(pid)),
    )


# Helpers multiprocessing starts for the test process itself; they end with it.
INTERPRETER_HELPERS = (
    "from multiprocessing.resource_tracker import",
    "from multiprocessing.forkserver import",
)


def leftovers() -> list[tuple[int, str]]:
    """This session's processes still alive, with their command lines (but the interpreter's own
    multiprocessing helpers)."""
    found = []
    for pid in marked(f"{SESSION_VAR}={SESSION_MARK}"):
        argv = describe(pid)
        if _parent(pid) == os.getpid() and any(helper in argv for helper in INTERPRETER_HELPERS):
            continue
        found.append((pid, argv))
    return found


def describe(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(a.decode(errors="replace") for a in argv if a)[:300]


def _state(entry: Path) -> str:
    return (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    try:
        return _state(Path(f"/proc/{pid}")) != "Z"
    except (OSError, IndexError):
        return False


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


class Output:
    """A child's text stream read line by line on a thread; tests wait on what it has printed."""

    def __init__(self, process: subprocess.Popen, stream=None) -> None:
        self.process = process
        self.lines: list[str] = []
        self._stream = stream if stream is not None else process.stdout
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with contextlib.suppress(ValueError, OSError):  # closed by stop() meanwhile
            for line in self._stream:
                self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def tail(self, chars: int = 4000) -> str:
        return f"output of {describe(self.process.pid)[:80]} (tail):\n{self.text[-chars:]}"

    def wait_for(self, condition: str | Callable[[list[str]], object], timeout: float, what: str = ""):
        """The condition's first truthy value (a string: a line containing it); gives up as soon as
        the process has exited without it, else after `scaled(timeout)` s — the tail either way."""
        if isinstance(condition, str):
            needle = condition
            what = what or f"a line with {needle!r}"

            def check(lines: list[str]) -> object:
                return next((line for line in lines if needle in line), None)
        else:
            check = condition

        def exited_without_it() -> None:
            if self.process.poll() is not None:
                self._reader.join(timeout=scaled(5))
                if not check(list(self.lines)):
                    raise AssertionError(f"exited ({self.process.returncode}) before {what}\n{self.tail()}")

        return wait_until(
            lambda: check(list(self.lines)),
            timeout,
            what,
            poll=0.05,
            guard=exited_without_it,
            detail=self.tail,
        )

    def finish(self, timeout: float = 10) -> None:
        """After the process exited: the last of its output read."""
        self._reader.join(timeout=scaled(timeout))

"""Waiting in tests without bare sleeps: poll a condition against a deadline; pick a free port.

Every deadline in the suite is written for a quiet machine of this project's kind and stretched by
one factor, `SMVUE_TEST_SLOWDOWN` (default 3: a machine three times slower, or one whose cores
are busy with other work, still passes). A deadline is a bound on a failure, never a measurement:
a passing test waits only as long as its condition takes, so a generous factor costs nothing.
Per-test `pytest.mark.timeout` values are stretched by the same factor (tests/conftest.py), so a
test's own waits always fire — with their diagnostics — before pytest-timeout does.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

DEFAULT_SLOWDOWN = 3.0


def _slowdown_from_env() -> float:
    raw = os.environ.get("SMVUE_TEST_SLOWDOWN", "").strip()
    if not raw:
        return DEFAULT_SLOWDOWN
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"SMVUE_TEST_SLOWDOWN must be a number (got {raw!r})") from None
    if not value >= 1:
        raise SystemExit(f"SMVUE_TEST_SLOWDOWN must be at least 1 (got {raw!r})")
    return value


SLOWDOWN = _slowdown_from_env()


def scaled(seconds: float) -> float:
    """A deadline written for a quiet machine, stretched for this one."""
    return seconds * SLOWDOWN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    condition: Callable[[], object],
    timeout: float = 10.0,
    what: str = "condition",
    poll: float = 0.02,
    guard: Callable[[], None] | None = None,
    detail: Callable[[], str] | None = None,
):
    """The condition's first truthy value; an AssertionError naming `what` after `scaled(timeout)` s.

    `guard` runs every round and raises to give up sooner (the process under test has exited);
    `detail` adds context to the failure (a log's tail)."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if guard is not None:
            guard()
        if time.monotonic() > deadline:
            context = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"{what} not met within {limit:g}s{context}")
        time.sleep(poll)

"""Waiting in tests without bare sleeps: poll a condition against a deadline; pick a free port."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


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
    """The condition's first truthy value; an AssertionError naming `what` after `timeout` s.

    `guard` runs every round and raises to give up sooner (the process under test has exited);
    `detail` adds context to the failure (a log's tail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if guard is not None:
            guard()
        if time.monotonic() > deadline:
            context = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"{what} not met within {timeout:g}s{context}")
        time.sleep(poll)

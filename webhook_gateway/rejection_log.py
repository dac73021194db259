"""Log lines about rejected notifications: escaped, and rate-limited.

Whoever sends a forged notification chooses its ids, so an id is never written raw: `printable`
shows it repr-style (control characters and newlines escaped, so one request is one log line) and
cut to a length. A flood of forgeries must not flood the log either: `RejectionLog` writes at most
`limit` lines per `interval` and then one summary line counting the ones it left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

MAX_LOGGED_ID = 80
DEFAULT_LIMIT = 20  # lines per interval
DEFAULT_INTERVAL = 10.0  # seconds


def printable(value: str | None, limit: int = MAX_LOGGED_ID) -> str:
    """`value` as a quoted, escaped literal of at most about `limit` characters ('?' for none)."""
    if value is None:
        return "?"
    cut = value[:limit]
    # ascii(): every non-printable or non-ASCII character becomes an escape (\n, \x1b, \u2028).
    shown = ascii(cut)
    return shown + "…" if len(value) > limit else shown


class RejectionLog:
    """At most `limit` warnings per `interval` seconds, then a summary of what was left out. Safe
    to call from the event loop and from worker threads; the summary is written by the next call
    after the interval, or by `flush` (the gateway's `rejection_log` worker)."""

    def __init__(
        self,
        logger: logging.Logger,
        limit: int = DEFAULT_LIMIT,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._limit = limit
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._written = 0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        with self._lock:
            summary = self._roll(self._clock())
            write = self._written < self._limit
            if write:
                self._written += 1
            else:
                self._suppressed += 1
        if summary:
            self._logger.warning(*summary)
        if write:
            self._logger.warning(message, *args)

    def flush(self) -> None:
        """Write the summary of a finished interval now, rather than at the next rejection."""
        with self._lock:
            summary = self._roll(self._clock())
        if summary:
            self._logger.warning(*summary)

    def _roll(self, now: float) -> tuple | None:
        if now - self._window_start < self._interval:
            return None
        suppressed, seconds = self._suppressed, now - self._window_start
        self._window_start, self._written, self._suppressed = now, 0, 0
        if not suppressed:
            return None
        return (
            "%d more rejected notifications in the last %.0f s were not logged one by one "
            "(at most %d lines per %.0f s; the webhook_rejected_* counters have them all)",
            suppressed,
            seconds,
            self._limit,
            self._interval,
        )

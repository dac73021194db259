"""Retry timing shared by both clients: Retry-After when the provider gives one, otherwise
exponential backoff with full jitter (providers.md 1.5, 2.4)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    # Longest Retry-After we will sit through inside a run; beyond it the run reports the failure
    # and the next sync (sensor or reconcile) picks the calendar up again.
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def timing(cls, base_seconds: float, cap_seconds: float, max_retry_after: float) -> RetryPolicy:
        """The policy a client resource's timing fields describe (real sleeps)."""
        return cls(base_seconds=base_seconds, cap_seconds=cap_seconds, max_retry_after=max_retry_after)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        return self.rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))

    def wait(self, attempt: int, retry_after: str | None) -> float:
        seconds = self.delay(attempt, retry_after)
        self.sleep(seconds)
        return seconds


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())

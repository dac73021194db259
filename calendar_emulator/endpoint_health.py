"""Graph's treatment of slow notification endpoints (providers.md, "Slow endpoints get throttled").

A response slower than 2,900 ms counts as slow. Once an endpoint has had 100 notifications, a
slow share of 10% or more flags it: deliveries to it wait 10 minutes, and failed ones are retried
every 10 minutes; at 15% or more, its notifications are dropped.

What the documentation leaves open, decided here: "notifications" are counted as delivery
attempts (POSTs, a batch being one), per notificationUrl as given (its query included); a
request that times out counts as slow; the shares are of every attempt so far (Graph does not
say over which window it measures), and a flagged endpoint recovers as soon as its share falls
below the thresholds again. The thresholds are settable (EmulatorConfig, and the admin API
`/_admin/graph/endpoint_health`) so a test can reach them without 100 real 2.9 s answers, e.g. a
threshold of 0 ms makes every answer slow.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

OK, DELAYED, DROPPED = "ok", "delayed", "dropped"


@dataclass
class SlowEndpointPolicy:
    slow_ms: float = 2900.0
    min_notifications: int = 100
    delay_share: float = 0.10
    drop_share: float = 0.15
    delay_seconds: float = 600.0


class EndpointHealth:
    """Per-endpoint counts of Graph delivery attempts and slow answers, and the verdict on them."""

    def __init__(self, policy: SlowEndpointPolicy | None = None) -> None:
        self.policy = policy or SlowEndpointPolicy()
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # url -> [attempts, slow]

    def record(self, url: str, elapsed_seconds: float | None) -> bool:
        """Count one attempt (`elapsed_seconds` None: it timed out); returns whether it was slow."""
        slow = elapsed_seconds is None or elapsed_seconds * 1000 > self.policy.slow_ms
        with self._lock:
            counts = self._counts.setdefault(url, [0, 0])
            counts[0] += 1
            counts[1] += int(slow)
        return slow

    def verdict(self, url: str) -> str:
        with self._lock:
            attempts, slow = self._counts.get(url, (0, 0))
        if attempts < self.policy.min_notifications or attempts == 0:
            return OK
        share = slow / attempts
        if share >= self.policy.drop_share:
            return DROPPED
        if share >= self.policy.delay_share:
            return DELAYED
        return OK

    def configure(self, reset: bool = False, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self.policy, key, value)
            if reset:
                self._counts.clear()

    def snapshot(self) -> dict:
        with self._lock:
            counts = {url: tuple(c) for url, c in self._counts.items()}
        return {
            "policy": asdict(self.policy),
            "endpoints": {
                url: {"notifications": attempts, "slow": slow, "state": self.verdict(url)}
                for url, (attempts, slow) in counts.items()
            },
        }

"""Request and notification counters, served by GET /_admin/stats."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.requests_by_user: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.notifications: Counter[str] = Counter()

    def count_request(self, endpoint: str, status: int, user: str | None) -> None:
        with self._lock:
            self.requests[endpoint] += 1
            self.statuses[str(status)] += 1
            if user:
                self.requests_by_user[user] += 1

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def count_notification(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            self.notifications[outcome] += n

    def reset(self) -> None:
        with self._lock:
            for counter in (
                self.requests,
                self.requests_by_user,
                self.statuses,
                self.faults,
                self.notifications,
            ):
                counter.clear()

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "requests_total": sum(self.requests.values()),
                "requests_by_user": dict(self.requests_by_user),
                "statuses": dict(self.statuses),
                "faults": dict(self.faults),
                "notifications": dict(self.notifications),
            }

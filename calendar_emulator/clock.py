"""The emulator's notion of "now": the wall clock plus an offset the admin API can move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._frozen: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            if self._frozen is not None:
                self._frozen += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, when: datetime | None, frozen: bool = False) -> datetime:
        """Jump to `when` (None: back to the wall clock); `frozen` stops time there."""
        with self._lock:
            if when is None:
                self._offset, self._frozen = timedelta(), None
            elif frozen:
                self._frozen = when.astimezone(UTC)
            else:
                self._frozen = None
                self._offset = when.astimezone(UTC) - datetime.now(UTC)
        return self.now()

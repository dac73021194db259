"""What the Google backend stores: calendars, and per calendar its events (single events, recurring
masters, exceptions of instances, and tombstones of deleted events)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime

from dateutil.rrule import rruleset

from calendar_emulator.google.eventdata import EventTime
from calendar_emulator.store import User


@dataclass(slots=True)
class StoredEvent:
    """One stored item. `body` is the full Google resource; it is replaced on change, never mutated,
    so list snapshots that hold a reference stay consistent."""

    body: dict
    seq: int  # the backend's change number of the last modification (what sync tokens compare)
    start: EventTime
    end: EventTime
    rules: rruleset | None = None  # recurring masters only
    master_id: str | None = None  # exceptions (modified or cancelled instances) only
    original_start: datetime | None = None  # exceptions only: the instance's original start

    @property
    def id(self) -> str:
        return self.body["id"]

    @property
    def cancelled(self) -> bool:
        return self.body.get("status") == "cancelled"

    @property
    def updated(self) -> str:
        return self.body["updated"]


@dataclass
class Calendar:
    id: str
    owner: User
    summary: str
    time_zone: str
    primary: bool
    resource_id: str
    etag: str
    updated: str
    list_seq: int = 0  # the change number of its arrival on the owner's calendar list
    events: dict[str, StoredEvent] = field(default_factory=dict)
    exceptions: dict[str, set[str]] = field(default_factory=dict)  # master id -> exception ids
    change_seqs: list[int] = field(default_factory=list)  # the change log, in change order
    change_ids: list[str] = field(default_factory=list)

    def record_change(self, seq: int, event_id: str) -> None:
        self.change_seqs.append(seq)
        self.change_ids.append(event_id)

    def changed_since(self, watermark: int) -> list[StoredEvent]:
        """Items whose last change is after the watermark, in the order of their last change."""
        start = bisect_right(self.change_seqs, watermark)
        seen: dict[str, StoredEvent] = {}
        for event_id in reversed(self.change_ids[start:]):
            if event_id not in seen:
                seen[event_id] = self.events[event_id]
        return list(reversed(seen.values()))

    @property
    def last_seq(self) -> int:
        return self.change_seqs[-1] if self.change_seqs else 0

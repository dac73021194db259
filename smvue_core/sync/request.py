"""What one sync run covers: the request the change-queue planner produces, the reconcile schedule
asks for (empty: everything) and the `raw_calendar_events` asset carries out.

One type for all three, so the sensor, the schedule and the asset cannot drift apart: the asset's
Dagster config is built from it and converts back to it (smvue_pipeline/assets/raw_events.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CalendarRef:
    connection_id: str
    calendar_id: str


@dataclass(frozen=True)
class SyncRequest:
    """Which calendars to sync, and how. Empty `connection_ids` and `calendars` mean every syncable
    connection and all its selected calendars."""

    # Whole connections: every selected calendar of each.
    connection_ids: tuple[str, ...] = ()
    # Single calendars, for connections not named whole.
    calendars: tuple[CalendarRef, ...] = ()
    # A full resync of everything covered, instead of incremental.
    full: bool = False
    # A full resync of these connections only.
    full_connection_ids: tuple[str, ...] = ()
    # Queued changes up to this id are settled once the warehouse committed (0: none).
    queue_up_to: int = 0
    past_days: int = 90
    future_days: int = 30
    # Connections fetched in parallel.
    fetch_workers: int = 2

    @property
    def is_everything(self) -> bool:
        return not self.connection_ids and not self.calendars

    def forces_full(self, connection_id: str) -> bool:
        return self.full or connection_id in self.full_connection_ids


EVERYTHING = SyncRequest()
"""The reconcile run's request: every syncable connection, incremental, the default window."""

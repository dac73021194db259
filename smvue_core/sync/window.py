"""The sync window: recent past for cadence history, the coming weeks for Up Next; rolls daily."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smvue_core.providers.base import SyncWindow


def sync_window(now: datetime, past_days: int, future_days: int) -> SyncWindow:
    """Day-aligned (UTC) so the window, and with it Graph's frozen delta window, moves once a day."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return SyncWindow(start=today - timedelta(days=past_days), end=today + timedelta(days=future_days + 1))

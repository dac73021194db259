"""UTC time: the current moment, its one stored text form, and reading times back.

Every time SMVue keeps is timezone-aware UTC. Stored as text (the operational store is SQLite),
it has one fixed-width form, so that comparing the strings in SQL compares the times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """Fixed-width ISO-8601 in UTC (always microseconds), so stored times compare correctly as text."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every stored time is timezone-aware UTC")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    return iso_utc(now_utc())


def parse_utc(value: str | None) -> datetime | None:
    """An ISO-8601 text as an aware UTC datetime (one without an offset is taken as UTC); None for none."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Expanding recurring series into instances, shared by both providers.

Each provider turns its own recurrence format (Google RRULE/EXDATE lines, Graph pattern + range)
into a dateutil rruleset anchored at the series start in the series' time zone; wall-clock times
stay fixed across DST changes, as calendar users expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rruleset

# Unbounded series stop here, as the providers do when they expand "forever" series.
MAX_INSTANCES = 730
HORIZON = timedelta(days=3 * 366)


def occurrence_starts(
    rules: rruleset,
    series_start: datetime,
    duration: timedelta,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = MAX_INSTANCES,
) -> Iterator[datetime]:
    """Original start times (aware, in the series' zone) of instances overlapping the window.

    The window is [window_start, window_end) on instance start/end as the providers define it:
    an instance overlaps when it ends after window_start and starts before window_end.
    """
    horizon = (series_start.astimezone(UTC) if series_start.tzinfo else series_start) + HORIZON
    produced = 0
    for start in rules:
        produced += 1
        if produced > limit:
            return
        start_utc = _utc(start)
        if start_utc > _utc(horizon):
            return
        if window_end is not None and start_utc >= _utc(window_end):
            return
        if window_start is not None and start_utc + duration <= _utc(window_start):
            continue
        yield start


def _utc(value: datetime) -> datetime:
    # Naive values are all-day dates; they are compared as UTC midnights.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

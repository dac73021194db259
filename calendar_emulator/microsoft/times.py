"""Graph's date-time shapes: {dateTime, timeZone} with Windows or IANA zone names, and query datetimes.

Graph accepts Windows zone names ("Pacific Standard Time") as well as IANA ones, answers in UTC
unless `Prefer: outlook.timezone` asks otherwise, and prints seven fractional digits.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The Windows names Outlook clients send most; anything else must be an IANA name.
WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "central europe standard time": "Europe/Budapest",
    "central european standard time": "Europe/Warsaw",
    "romance standard time": "Europe/Paris",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kiev",
    "gtb standard time": "Europe/Bucharest",
    "russian standard time": "Europe/Moscow",
    "israel standard time": "Asia/Jerusalem",
    "south africa standard time": "Africa/Johannesburg",
    "arabian standard time": "Asia/Dubai",
    "india standard time": "Asia/Kolkata",
    "china standard time": "Asia/Shanghai",
    "singapore standard time": "Asia/Singapore",
    "tokyo standard time": "Asia/Tokyo",
    "korea standard time": "Asia/Seoul",
    "aus eastern standard time": "Australia/Sydney",
    "e. australia standard time": "Australia/Brisbane",
    "new zealand standard time": "Pacific/Auckland",
    "hawaiian standard time": "Pacific/Honolulu",
    "alaskan standard time": "America/Anchorage",
    "pacific standard time": "America/Los_Angeles",
    "us mountain standard time": "America/Phoenix",
    "mountain standard time": "America/Denver",
    "central standard time": "America/Chicago",
    "eastern standard time": "America/New_York",
    "atlantic standard time": "America/Halifax",
    "sa pacific standard time": "America/Bogota",
    "e. south america standard time": "America/Sao_Paulo",
    "argentina standard time": "America/Buenos_Aires",
}

_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?$")


class TimeError(ValueError):
    """A date, time or zone the client sent cannot be understood."""


def zone_for(name: str) -> tzinfo:
    """The zone behind a Windows or IANA name; TimeError when unknown."""
    if not isinstance(name, str) or not name.strip():
        raise TimeError("timeZone must be a non-empty string")
    key = name.strip()
    mapped = WINDOWS_ZONES.get(key.lower())
    if mapped == "UTC" or key.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(mapped or key)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeError(f"timeZone {name!r} is not a supported time zone") from None


def parse_local(value: object, field: str) -> datetime:
    """A Graph `dateTime` string as a naive wall time (aware only when the string carries an offset)."""
    if not isinstance(value, str):
        raise TimeError(f"{field}.dateTime must be a string")
    match = _DATETIME.match(value.strip())
    if not match:
        raise TimeError(f"{field}.dateTime {value!r} is not an ISO 8601 date-time")
    day, clock, fraction, offset = match.groups()
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock or '00:00:00'}")
    except ValueError:
        raise TimeError(f"{field}.dateTime {value!r} is not a valid date-time") from None
    if fraction:
        parsed += timedelta(microseconds=int(fraction[1:7].ljust(6, "0")))
    if offset:
        # An explicit offset pins the instant; the caller converts it into the event's zone.
        sign = 1 if offset[0] == "+" else -1
        minutes = 0 if offset == "Z" else sign * (int(offset[1:3]) * 60 + int(offset[4:6]))
        parsed = parsed.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    return parsed


def parse_query_datetime(value: str, name: str, default_zone: tzinfo = UTC) -> datetime:
    """startDateTime/endDateTime query values: ISO 8601, offset optional (then in default_zone)."""
    match = _DATETIME.match(value.strip())
    if not match:
        raise TimeError(f"{name} {value!r} is not an ISO 8601 date-time")
    day, clock, fraction, offset = match.groups()
    try:
        parsed = datetime.fromisoformat(
            f"{day}T{clock or '00:00:00'}{'+00:00' if offset == 'Z' else offset or ''}"
        )
    except ValueError:
        raise TimeError(f"{name} {value!r} is not a valid date-time") from None
    if fraction:
        parsed += timedelta(microseconds=int(fraction[1:7].ljust(6, "0")))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_zone)
    return parsed.astimezone(UTC)


def format_graph(value: datetime) -> str:
    """Graph's seven-digit fractional format, without offset."""
    return value.isoformat(timespec="microseconds")[:26] + "0"  # drop any offset; 4-digit years


def format_utc_z(value: datetime) -> str:
    """createdDateTime style: UTC with a Z and seven fractional digits."""
    return format_graph(value.astimezone(UTC)) + "Z"


def as_utc(value: datetime) -> datetime:
    """Aware instants in UTC; naive values are all-day midnights compared as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_midnight(value: datetime) -> bool:
    return value.time() == time(0, 0)


def date_of(value: datetime) -> date:
    return value.date()

"""Graph's `recurrence` {pattern, range}: validation, the normalized shape Graph returns, and the
dateutil rruleset that `calendar_emulator.recurrence` expands."""

from __future__ import annotations

from datetime import date, datetime, time

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rruleset, weekday

from calendar_emulator.microsoft.times import TimeError, zone_for

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
PATTERN_TYPES = {
    "daily": DAILY,
    "weekly": WEEKLY,
    "absoluteMonthly": MONTHLY,
    "relativeMonthly": MONTHLY,
    "absoluteYearly": YEARLY,
    "relativeYearly": YEARLY,
}
RANGE_TYPES = ("endDate", "noEnd", "numbered")
NO_DATE = "0001-01-01"


class RecurrenceError(ValueError):
    """The recurrence the client sent is not valid."""


def normalize(recurrence: object) -> dict:
    """Validate a client's recurrence and return it with every field Graph reports."""
    if not isinstance(recurrence, dict):
        raise RecurrenceError("recurrence must be an object with pattern and range")
    unknown = set(recurrence) - {"pattern", "range", "@odata.type"}
    if unknown:
        raise RecurrenceError(f"recurrence has unknown properties: {sorted(unknown)}")
    pattern, range_ = recurrence.get("pattern"), recurrence.get("range")
    if not isinstance(pattern, dict) or not isinstance(range_, dict):
        raise RecurrenceError("recurrence.pattern and recurrence.range are required objects")
    return {"pattern": _pattern(pattern), "range": _range(range_)}


def _pattern(pattern: dict) -> dict:
    kind = pattern.get("type")
    if not isinstance(kind, str) or kind not in PATTERN_TYPES:
        raise RecurrenceError(f"recurrence.pattern.type must be one of {sorted(PATTERN_TYPES)}")
    interval = pattern.get("interval", 1)
    if not _is_int(interval) or not 1 <= interval <= 99:
        raise RecurrenceError("recurrence.pattern.interval must be an integer from 1 to 99")
    days = pattern.get("daysOfWeek") or []
    if not isinstance(days, list) or any(not isinstance(d, str) or d.lower() not in WEEKDAYS for d in days):
        raise RecurrenceError(f"recurrence.pattern.daysOfWeek must be a list of {WEEKDAYS}")
    days = [d.lower() for d in days]
    first_day = pattern.get("firstDayOfWeek") or "sunday"
    if not isinstance(first_day, str) or first_day.lower() not in WEEKDAYS:
        raise RecurrenceError("recurrence.pattern.firstDayOfWeek must be a weekday name")
    index = pattern.get("index") or "first"
    if not isinstance(index, str) or index not in INDEXES:
        raise RecurrenceError(f"recurrence.pattern.index must be one of {list(INDEXES)}")
    day_of_month = pattern.get("dayOfMonth", 0) or 0
    month = pattern.get("month", 0) or 0
    if not _is_int(day_of_month) or not 0 <= day_of_month <= 31:
        raise RecurrenceError("recurrence.pattern.dayOfMonth must be an integer from 1 to 31")
    if not _is_int(month) or not 0 <= month <= 12:
        raise RecurrenceError("recurrence.pattern.month must be an integer from 1 to 12")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise RecurrenceError(f"recurrence.pattern.daysOfWeek is required for a {kind} pattern")
    if kind in ("absoluteMonthly", "absoluteYearly") and not day_of_month:
        raise RecurrenceError(f"recurrence.pattern.dayOfMonth is required for a {kind} pattern")
    if kind in ("absoluteYearly", "relativeYearly") and not month:
        raise RecurrenceError(f"recurrence.pattern.month is required for a {kind} pattern")
    return {
        "type": kind,
        "interval": interval,
        "month": month,
        "dayOfMonth": day_of_month,
        "daysOfWeek": days,
        "firstDayOfWeek": first_day.lower(),
        "index": index,
    }


def _range(range_: dict) -> dict:
    kind = range_.get("type")
    if not isinstance(kind, str) or kind not in RANGE_TYPES:
        raise RecurrenceError(f"recurrence.range.type must be one of {list(RANGE_TYPES)}")
    start = _date(range_.get("startDate"), "recurrence.range.startDate")
    end_text = range_.get("endDate")
    count = range_.get("numberOfOccurrences", 0) or 0
    if not _is_int(count) or count < 0:
        raise RecurrenceError("recurrence.range.numberOfOccurrences must be a positive integer")
    end = NO_DATE
    if kind == "endDate":
        end_date = _date(end_text, "recurrence.range.endDate")
        if end_date < start:
            raise RecurrenceError("recurrence.range.endDate must not be before startDate")
        end = end_date.isoformat()
    elif kind == "numbered" and count < 1:
        raise RecurrenceError("recurrence.range.numberOfOccurrences is required for a numbered range")
    zone = range_.get("recurrenceTimeZone") or ""
    if zone:
        try:
            zone_for(zone)
        except TimeError as exc:
            raise RecurrenceError(f"recurrence.range.recurrenceTimeZone: {exc}") from None
    return {
        "type": kind,
        "startDate": start.isoformat(),
        "endDate": end,
        "recurrenceTimeZone": zone,
        "numberOfOccurrences": count if kind == "numbered" else 0,
    }


def build_rules(recurrence: dict, series_start: datetime) -> rruleset:
    """The rruleset of a normalized recurrence, anchored at the range's start date and the
    series' start time (aware in the series' zone; naive midnight for all-day series)."""
    pattern, range_ = recurrence["pattern"], recurrence["range"]
    anchor = datetime.combine(date.fromisoformat(range_["startDate"]), series_start.time())
    anchor = anchor.replace(tzinfo=series_start.tzinfo)
    kwargs: dict = {
        "dtstart": anchor,
        "interval": pattern["interval"],
        "wkst": WEEKDAYS.index(pattern["firstDayOfWeek"]),
    }
    days = [weekday(WEEKDAYS.index(d)) for d in pattern["daysOfWeek"]]
    kind = pattern["type"]
    if kind == "weekly":
        kwargs["byweekday"] = days
    elif kind == "absoluteMonthly":
        kwargs["bymonthday"] = pattern["dayOfMonth"]
    elif kind in ("relativeMonthly", "relativeYearly"):
        kwargs["byweekday"] = days
        kwargs["bysetpos"] = INDEXES[pattern["index"]]
    if kind == "absoluteYearly":
        kwargs["bymonthday"] = pattern["dayOfMonth"]
    if kind in ("absoluteYearly", "relativeYearly"):
        kwargs["bymonth"] = pattern["month"]
    if range_["type"] == "endDate":
        until = datetime.combine(date.fromisoformat(range_["endDate"]), time(23, 59, 59))
        kwargs["until"] = until.replace(tzinfo=series_start.tzinfo)
    elif range_["type"] == "numbered":
        kwargs["count"] = range_["numberOfOccurrences"]
    rules = rruleset()
    rules.rrule(rrule(PATTERN_TYPES[kind], **kwargs))
    return rules


def _date(value: object, field: str) -> date:
    if not isinstance(value, str):
        raise RecurrenceError(f"{field} is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RecurrenceError(f"{field} {value!r} is not a date (YYYY-MM-DD)") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

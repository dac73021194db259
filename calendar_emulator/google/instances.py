"""Recurring series: `recurrence` lines (RRULE/EXRULE/RDATE/EXDATE) into a dateutil rruleset, and
the instances a series expands into.

Timed series expand in the zone of their start's `timeZone` (wall-clock times stay put across DST);
all-day series expand over naive dates. Instance ids are `<masterId>_<YYYYMMDDTHHMMSSZ>` (the
original start in UTC) or `<masterId>_<YYYYMMDD>` for all-day series.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rruleset, rrulestr

from calendar_emulator.google.errors import bad_request
from calendar_emulator.google.eventdata import EventTime, html_link, load_zone
from calendar_emulator.google.records import StoredEvent
from calendar_emulator.recurrence import HORIZON, occurrence_starts

ICAL_DATETIME = "%Y%m%dT%H%M%S"
FREQUENCIES = (DAILY, WEEKLY, MONTHLY, YEARLY)  # what Google Calendar supports
MAX_INTERVAL = 1000


def build_rules(lines: list[str], start: EventTime) -> rruleset:
    dtstart = start.value
    rules = rruleset()
    rules.rdate(dtstart)  # DTSTART is always the first instance (RFC 5545)
    for line in lines:
        head, _, value = line.partition(":")
        name, *raw_params = head.split(";")
        name = name.strip().upper()
        params = {}
        for param in raw_params:
            key, _, param_value = param.partition("=")
            params[key.strip().upper()] = param_value.strip()
        try:
            if name in ("RRULE", "EXRULE"):
                if "DTSTART" in value.upper():
                    raise ValueError("DTSTART is not allowed in recurrence")
                rule = rrulestr(_with_utc_until(value, dtstart), dtstart=dtstart)
                if not isinstance(rule, rrule) or not _usable(rule):
                    raise ValueError("unsupported rule")
                (rules.rrule if name == "RRULE" else rules.exrule)(rule)  # type: ignore[arg-type]
            else:
                for part in value.split(","):
                    moment = _ical_moment(part.strip(), params, dtstart)
                    (rules.rdate if name == "RDATE" else rules.exdate)(moment)
        except Exception:  # whatever dateutil makes of a bad line, the client gets a 400
            raise bad_request("invalid", "Invalid recurrence rule.") from None
    return rules


def _usable(rule: rrule) -> bool:
    """Supported frequencies only, and no rule that can never match: dateutil would search for a
    match until year 9999 (seconds of CPU under the state lock)."""
    if rule._freq not in FREQUENCIES or not (1 <= rule._interval <= MAX_INTERVAL):
        return False
    # A yearly rule with the same BY* filters matches a superset of days; it is cheap to search.
    probe = rule.replace(freq=YEARLY, interval=1, count=None, until=None, bysetpos=None)
    return next(iter(probe), None) is not None


def _with_utc_until(value: str, dtstart: datetime) -> str:
    """dateutil wants UNTIL in UTC for zoned series and floating for all-day ones."""
    parts = value.split(";")
    for index, part in enumerate(parts):
        key, _, until = part.partition("=")
        if key.strip().upper() != "UNTIL":
            continue
        until = until.strip().upper()
        if dtstart.tzinfo is None:
            parts[index] = "UNTIL=" + until.rstrip("Z")
        elif not until.endswith("Z"):
            if len(until) == 8:
                local = datetime.strptime(until, "%Y%m%d").replace(hour=23, minute=59, second=59)
            else:
                local = datetime.strptime(until, ICAL_DATETIME)
            moment = local.replace(tzinfo=dtstart.tzinfo).astimezone(UTC)
            parts[index] = "UNTIL=" + moment.strftime(ICAL_DATETIME) + "Z"
    return ";".join(parts)


def _ical_moment(text: str, params: dict[str, str], dtstart: datetime) -> datetime:
    zone = dtstart.tzinfo
    if params.get("VALUE") == "DATE" or len(text) == 8:
        day = datetime.strptime(text, "%Y%m%d").date()
        if zone is None:
            return datetime.combine(day, time())
        return datetime.combine(day, dtstart.time(), tzinfo=zone)
    if text.upper().endswith("Z"):
        moment = datetime.strptime(text[:-1], ICAL_DATETIME).replace(tzinfo=UTC)
    elif "TZID" in params:
        tzid_zone = load_zone(params["TZID"])
        if tzid_zone is None:
            raise ValueError("unknown TZID")
        moment = datetime.strptime(text, ICAL_DATETIME).replace(tzinfo=tzid_zone)
    else:
        moment = datetime.strptime(text, ICAL_DATETIME).replace(tzinfo=zone)
    if zone is None:
        return datetime.combine(moment.date(), time())
    return moment.astimezone(zone)


def occurrence_id(master_id: str, original: datetime) -> str:
    if original.tzinfo is None:
        return f"{master_id}_{original.strftime('%Y%m%d')}"
    return f"{master_id}_{original.astimezone(UTC).strftime(ICAL_DATETIME)}Z"


def split_instance_id(event_id: str) -> tuple[str, str] | None:
    master_id, sep, suffix = event_id.rpartition("_")
    if not sep or not master_id:
        return None
    return master_id, suffix


def original_start_of(master: StoredEvent, suffix: str) -> datetime | None:
    """The occurrence a `<masterId>_<suffix>` id names, if the series has it."""
    assert master.rules is not None
    try:
        if master.start.all_day:
            if len(suffix) != 8:
                return None
            moment = datetime.strptime(suffix, "%Y%m%d")
        else:
            if not suffix.endswith("Z"):
                return None
            moment = datetime.strptime(suffix[:-1], ICAL_DATETIME).replace(tzinfo=UTC)
            moment = moment.astimezone(master.start.value.tzinfo)
    except ValueError:
        return None
    series_start = master.start.value
    if moment < series_start or moment > series_start + HORIZON:
        return None  # outside what the series expands to (and too far to search)
    found = master.rules.between(moment, moment, inc=True)
    return found[0] if found else None


def occurrence_times(
    master: StoredEvent, original: datetime, calendar_zone: ZoneInfo
) -> tuple[EventTime, EventTime]:
    duration = master.end.value - master.start.value
    if master.start.all_day:
        return (
            EventTime.all_day_at(original, calendar_zone),
            EventTime.all_day_at(original + duration, calendar_zone),
        )
    end_value = original + duration
    end_zone = master.end.value.tzinfo
    if end_zone is not None and end_zone is not original.tzinfo:
        end_value = end_value.astimezone(end_zone)
    return EventTime.timed(original, master.start.zone), EventTime.timed(end_value, master.end.zone)


def original_start_field(master: StoredEvent, original: datetime) -> dict:
    if master.start.all_day:
        return {"date": original.date().isoformat()}
    return EventTime.timed(original, master.start.zone).render()


def expand(
    master: StoredEvent, window_start: datetime | None, window_end: datetime | None
) -> Iterator[datetime]:
    """Original starts of the series' instances overlapping [window_start, window_end)."""
    assert master.rules is not None
    duration = master.end.value - master.start.value
    return occurrence_starts(master.rules, master.start.value, duration, window_start, window_end)


def instance_body(
    master: StoredEvent, original: datetime, calendar_id: str, calendar_zone: ZoneInfo
) -> tuple[dict, EventTime]:
    """An unmodified instance: the master's fields at the occurrence's times."""
    start, end = occurrence_times(master, original, calendar_zone)
    instance_id = occurrence_id(master.id, original)
    body = dict(master.body)
    body.pop("recurrence", None)
    body["id"] = instance_id
    body["htmlLink"] = html_link(instance_id, calendar_id)
    body["start"] = start.render()
    body["end"] = end.render()
    body["recurringEventId"] = master.id
    body["originalStartTime"] = original_start_field(master, original)
    return body, start


def overlaps_window(master: StoredEvent, window_start: datetime | None, window_end: datetime | None) -> bool:
    """Whether any instance of the series overlaps the window."""
    return next(iter(expand(master, window_start, window_end)), None) is not None

"""OData query options and Prefer headers as Graph's calendar endpoints understand them.

Only what a calendar sync client uses is supported; anything else is a 400 rather than being
silently ignored, so a client can't believe a filter applied when it didn't.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.datastructures import Headers, QueryParams

from calendar_emulator.microsoft.errors import GraphApiError, bad_request
from calendar_emulator.microsoft.times import TimeError, parse_query_datetime

DEFAULT_PAGE_SIZE = 10  # Outlook's default page size for events, calendarView and (here) delta
MAX_PAGE_SIZE = 1000
EXTENDED = "singleValueExtendedProperties"

EVENT_PROPERTIES = frozenset(
    [
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "transactionId",
        "originalStartTimeZone",
        "originalEndTimeZone",
        "iCalUId",
        "uid",
        "reminderMinutesBeforeStart",
        "isReminderOn",
        "hasAttachments",
        "subject",
        "bodyPreview",
        "importance",
        "sensitivity",
        "isAllDay",
        "isCancelled",
        "isOrganizer",
        "responseRequested",
        "seriesMasterId",
        "showAs",
        "type",
        "webLink",
        "onlineMeetingUrl",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "allowNewTimeProposals",
        "isDraft",
        "hideAttendees",
        "responseStatus",
        "body",
        "start",
        "end",
        "originalStart",
        "location",
        "locations",
        "recurrence",
        "attendees",
        "organizer",
        "onlineMeeting",
        "occurrenceId",
    ]
)


def bad_query(message: str) -> GraphApiError:
    return bad_request(message, code="BadRequest")


def prefer(headers: Headers) -> dict[str, str]:
    """Every `Prefer` preference, keys lower-cased, quotes stripped."""
    found: dict[str, str] = {}
    for header in headers.getlist("prefer"):
        for part in _split_outside_quotes(header, ","):
            name, _, value = part.strip().partition("=")
            if name:
                found[name.strip().lower()] = value.strip().strip('"')
    return found


def max_page_size(preferences: dict[str, str]) -> int | None:
    """`odata.maxpagesize`, capped; an unusable value is ignored, as RFC 7240 asks of preferences."""
    raw = preferences.get("odata.maxpagesize")
    if raw is None or not raw.isdigit() or int(raw) < 1:
        return None
    return min(int(raw), MAX_PAGE_SIZE)


def wants_immutable_ids(preferences: dict[str, str]) -> bool:
    return preferences.get("idtype", "").lower() == "immutableid"


def query_lookup(params: QueryParams) -> dict[str, str]:
    """Query parameters with names lower-cased (Graph matches them case-insensitively)."""
    found: dict[str, str] = {}
    for name, value in params.multi_items():
        key = name.lower()
        if key in found:
            raise bad_query(f"Query option '{name}' was specified more than once")
        found[key] = value
    return found


def parse_int(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise bad_query(
            f"Invalid {name} query option value {value!r}: must be an integer from {low} to {high}"
        )
    return int(value)


def parse_select(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise bad_query("$select must name at least one property")
    for name in names:
        if name not in EVENT_PROPERTIES:
            raise bad_query(f"Could not find a property named '{name}' on type 'microsoft.graph.event'.")
    return frozenset(names)


_EXPAND = re.compile(rf"^{EXTENDED}(?:\(\s*\$filter\s*=\s*id\s+eq\s+'((?:[^']|'')*)'\s*\))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Expand:
    """`$expand=singleValueExtendedProperties($filter=id eq '...')`; ids None means all of them."""

    ids: frozenset[str] | None


def parse_expand(value: str | None) -> Expand | None:
    if value is None:
        return None
    match = _EXPAND.match(value.strip())
    if not match:
        raise bad_query(f"$expand {value!r} is not supported; use {EXTENDED}($filter=id eq '...')")
    return Expand(ids=None if match.group(1) is None else frozenset({_unquote(match.group(1)).lower()}))


def parse_window(query: dict[str, str]) -> tuple[datetime, datetime]:
    """startDateTime / endDateTime of calendarView and delta: both required, start before end."""
    start, end = query.get("startdatetime"), query.get("enddatetime")
    if not start or not end:
        raise bad_request(
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
            code="ErrorInvalidParameter",
        )
    try:
        window = parse_query_datetime(start, "startDateTime"), parse_query_datetime(end, "endDateTime")
    except TimeError as exc:
        raise bad_request(str(exc), code="ErrorInvalidParameter") from None
    if window[1] <= window[0]:
        raise bad_request("endDateTime must be after startDateTime", code="ErrorInvalidParameter")
    return window


# --- $filter ---------------------------------------------------------------------------------
# A probe answers a property path ("subject", "start/dateTime") or an extended property id.
Probe = Callable[[str], object]


@dataclass
class EventFilter:
    clauses: list[Callable[[Probe, Callable[[str], str | None]], bool]] = field(default_factory=list)

    def matches(self, probe: Probe, extended: Callable[[str], str | None]) -> bool:
        return all(clause(probe, extended) for clause in self.clauses)


_ANY = re.compile(
    rf"^{EXTENDED}/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'((?:[^']|'')*)'"
    r"(?:\s+and\s+\1/value\s+eq\s+'((?:[^']|'')*)')?\s*\)$",
    re.IGNORECASE,
)
_COMPARE = re.compile(r"^([A-Za-z/]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+)$", re.IGNORECASE)
FILTERABLE = {
    "subject": str,
    "type": str,
    "icaluid": str,
    "transactionid": str,
    "seriesmasterid": str,
    "iscancelled": bool,
    "isallday": bool,
    "isorganizer": bool,
    "start/datetime": datetime,
    "end/datetime": datetime,
}
_OPS: dict[str, Callable[[object, object], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,  # type: ignore[operator]
    "ge": lambda a, b: a is not None and a >= b,  # type: ignore[operator]
    "lt": lambda a, b: a is not None and a < b,  # type: ignore[operator]
    "le": lambda a, b: a is not None and a <= b,  # type: ignore[operator]
}


def parse_filter(value: str | None) -> EventFilter | None:
    if value is None:
        return None
    parsed = EventFilter()
    for clause in _split_outside_quotes(value.strip(), " and "):
        parsed.clauses.append(_clause(clause.strip()))
    return parsed


def _clause(text: str):
    any_match = _ANY.match(text)
    if any_match:
        wanted_id = _unquote(any_match.group(2)).lower()
        wanted_value = None if any_match.group(3) is None else _unquote(any_match.group(3))

        def has_property(probe: Probe, extended: Callable[[str], str | None]) -> bool:
            found = extended(wanted_id)
            return found is not None and (wanted_value is None or found == wanted_value)

        return has_property
    match = _COMPARE.match(text)
    if not match:
        raise bad_query(f"Invalid filter clause: {text!r}")
    path, op, literal = match.group(1).lower(), match.group(2).lower(), match.group(3).strip()
    kind = FILTERABLE.get(path)
    if kind is None:
        raise bad_query(f"Filtering on {match.group(1)!r} is not supported")
    operand = _literal(literal, kind, path)
    if kind is not datetime and op not in ("eq", "ne"):
        raise bad_query(f"Operator {op!r} is not supported on {match.group(1)!r}")
    compare = _OPS[op]

    def compares(probe: Probe, extended: Callable[[str], str | None]) -> bool:
        return compare(probe(path), operand)

    return compares


def _literal(text: str, kind: type, path: str):
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise bad_query(f"{path} compares with true or false, not {text!r}")
        return text.lower() == "true"
    if not (len(text) >= 2 and text[0] == text[-1] == "'"):
        raise bad_query(f"{path} compares with a quoted string, not {text!r}")
    value = _unquote(text[1:-1])
    if kind is datetime:
        try:
            return parse_query_datetime(value, path)
        except TimeError as exc:
            raise bad_query(str(exc)) from None
    return value


def _unquote(text: str) -> str:
    return text.replace("''", "'")


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on a separator that is not inside quotes or parentheses."""
    parts, depth, quoted, start, i = [], 0, None, 0, 0
    lowered = text.lower()
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == quoted:
                quoted = None
        elif ch in "'\"":
            quoted = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and lowered.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [part for part in parts if part.strip()]

"""Event bodies as clients send them: validation, and normalisation into the stored Google shape.

Everything here raises GoogleApiError (400) for bad input, so no malformed body reaches the store.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from calendar_emulator.google import schema as gschema
from calendar_emulator.google.errors import bad_request

ID_ALPHABET = frozenset("0123456789abcdefghijklmnopqrstuv")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Fields the server owns: accepted in a body (clients echo whole resources back) but ignored.
SERVER_FIELDS = frozenset(
    {
        "kind",
        "etag",
        "htmlLink",
        "created",
        "updated",
        "creator",
        "organizer",
        "hangoutLink",
        "recurringEventId",
        "originalStartTime",
        "attendeesOmitted",
        "sequence",
        "privateCopy",
        "locked",
    }
)
ENUMS = {
    "status": ("confirmed", "tentative", "cancelled"),
    "transparency": ("opaque", "transparent"),
    "visibility": ("default", "public", "private", "confidential"),
    "eventType": ("default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday"),
}
RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")
# Years outside this range are refused: far dates overflow datetime arithmetic (zones, horizons).
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_PROPERTY_KEY = 44
MAX_PROPERTY_VALUE = 1024


@dataclass(frozen=True, slots=True)
class EventTime:
    """A start or end: `value` is aware in its own zone (timed) or a naive midnight (all-day);
    `instant` is the UTC moment used for comparisons (all-day dates count in the calendar's zone)."""

    all_day: bool
    value: datetime
    zone: str | None
    instant: datetime

    def render(self) -> dict:
        if self.all_day:
            return {"date": self.value.date().isoformat()}
        rendered = {"dateTime": format_datetime(self.value)}
        if self.zone:
            rendered["timeZone"] = self.zone
        return rendered

    @classmethod
    def timed(cls, value: datetime, zone: str | None) -> EventTime:
        return cls(False, value, zone, value.astimezone(UTC))

    @classmethod
    def all_day_at(cls, value: datetime, calendar_zone: ZoneInfo) -> EventTime:
        return cls(True, value, None, value.replace(tzinfo=calendar_zone).astimezone(UTC))


def format_datetime(value: datetime) -> str:
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_updated(value: datetime) -> str:
    """`updated` / `created` as Google writes them: UTC with milliseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@lru_cache(maxsize=512)
def load_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except Exception:  # unknown key, or a path-like string ZoneInfo refuses
        return None


def new_event_id() -> str:
    """A server-chosen id: 26 base32hex characters, like Google's."""
    return base64.b32hexencode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def check_client_id(event_id) -> str:
    if not isinstance(event_id, str) or not (5 <= len(event_id) <= 1024) or not set(event_id) <= ID_ALPHABET:
        raise bad_request("invalid", "Invalid resource id value.")
    return event_id


def parse_rfc3339(value: str, name: str) -> datetime:
    """A query-parameter timestamp: RFC3339 with a mandatory offset (milliseconds ignored)."""
    match = RFC3339.match(value or "")
    if match is None or match.group(2) is None:
        raise bad_request(
            "invalid", f"Bad Request: {name} must be an RFC3339 timestamp with an offset.", name
        )
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        raise bad_request("invalid", f"Bad Request: invalid {name}.", name) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise bad_request("invalid", f"Bad Request: {name} is out of range.", name)
    return parsed.replace(microsecond=0)


def parse_event_time(raw, which: str, calendar_zone: ZoneInfo) -> EventTime:
    if not isinstance(raw, dict) or (raw.get("date") is None and raw.get("dateTime") is None):
        raise bad_request("required", f"Missing {which} time.")
    day, moment, zone_name = raw.get("date"), raw.get("dateTime"), raw.get("timeZone")
    if day is not None and moment is not None:
        raise bad_request("invalid", f"Invalid {which} time: give either date or dateTime.")
    zone = None
    if zone_name is not None:
        zone = load_zone(zone_name)
        if zone is None:
            raise bad_request("invalid", f"Invalid time zone definition for {which} time.")
    if day is not None:
        if not DATE.match(day):
            raise bad_request("invalid", f"Invalid {which} time.")
        try:
            parsed_day = date.fromisoformat(day)
        except ValueError:
            raise bad_request("invalid", f"Invalid {which} time.") from None
        if not MIN_YEAR <= parsed_day.year <= MAX_YEAR:
            raise bad_request("invalid", f"Invalid {which} time.")
        return EventTime.all_day_at(datetime.combine(parsed_day, time()), calendar_zone)
    match = RFC3339.match(moment)
    if match is None:
        raise bad_request("invalid", f"Invalid {which} time.")
    try:
        parsed = datetime.fromisoformat(moment.upper()).replace(microsecond=0)
    except ValueError:
        raise bad_request("invalid", f"Invalid {which} time.") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise bad_request("invalid", f"Invalid {which} time.")
    if parsed.tzinfo is None:
        if zone is None:
            raise bad_request("invalid", f"Missing time zone definition for {which} time.")
        parsed = parsed.replace(tzinfo=zone)
    elif zone is not None:
        parsed = parsed.astimezone(zone)
    return EventTime.timed(parsed, zone_name)


def check_body(raw: dict) -> None:
    """Types per the discovery document's Event schema, and the enumerated values."""
    try:
        gschema.check(raw, gschema.schema("Event"), "resource")
    except gschema.SchemaError as exc:
        raise bad_request("invalid", exc.message) from None
    for name, allowed in ENUMS.items():
        value = raw.get(name)
        if value is not None and value not in allowed:
            raise bad_request("invalid", f"Invalid value for {name}: {value}")


def writable(raw: dict) -> dict:
    """The client-settable content of a body: server fields and nulls dropped."""
    return {key: value for key, value in raw.items() if key not in SERVER_FIELDS and value is not None}


def prune_nulls(value):
    """Nested nulls mean "absent" once a body is merged; dropping them keeps later code simple."""
    if isinstance(value, dict):
        return {key: prune_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [prune_nulls(item) for item in value if item is not None]
    return value


def deep_merge(base: dict, patch: dict) -> dict:
    """PATCH semantics: objects merge, arrays and scalars replace, null deletes."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in ("start", "end"):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def clean_extended_properties(raw: dict) -> dict:
    """Keys over 44 characters vanish and values are cut to 1024, silently, as Google does."""
    cleaned = {}
    for scope in ("private", "shared"):
        values = raw.get(scope)
        if values is None:
            continue
        cleaned[scope] = {
            key: value[:MAX_PROPERTY_VALUE]
            for key, value in values.items()
            if value is not None and len(key) <= MAX_PROPERTY_KEY
        }
    return cleaned


def clean_attendees(raw: list, owner_email: str) -> list[dict]:
    cleaned: list[dict] = []
    seen: set[str] = set()
    for attendee in raw:
        if not isinstance(attendee, dict):
            raise bad_request("invalid", "Invalid attendee.")
        email = attendee.get("email")
        if not email:
            raise bad_request("required", "Missing attendee email.")
        if "@" not in email or any(ch.isspace() for ch in email):
            raise bad_request("invalid", "Invalid attendee email.")
        if email.lower() in seen:
            continue
        seen.add(email.lower())
        status = attendee.get("responseStatus") or "needsAction"
        if status not in RESPONSE_STATUSES:
            raise bad_request("invalid", f"Invalid attendee responseStatus: {status}")
        item: dict = {"email": email}
        if attendee.get("displayName"):
            item["displayName"] = attendee["displayName"]
        is_owner = email.lower() == owner_email.lower()
        if is_owner or attendee.get("organizer"):
            item["organizer"] = True
        if is_owner:
            item["self"] = True
        for flag in ("resource", "optional"):
            if attendee.get(flag):
                item[flag] = True
        item["responseStatus"] = status
        for extra in ("comment", "additionalGuests"):
            if attendee.get(extra) is not None:
                item[extra] = attendee[extra]
        cleaned.append(item)
    return cleaned


def clean_reminders(raw: dict) -> dict:
    use_default = raw.get("useDefault", False)
    overrides = raw.get("overrides") or []
    if use_default and overrides:
        raise bad_request(
            "cannotUseDefaultRemindersAndSpecifyOverride",
            "Cannot specify both default reminders and overrides at the same time.",
        )
    for override in overrides:
        if override.get("method") not in ("email", "popup"):
            raise bad_request("invalid", "Invalid reminder method.")
        minutes = override.get("minutes")
        if minutes is None or not (0 <= minutes <= 40320):
            raise bad_request("invalid", "Invalid reminder minutes.")
    cleaned: dict = {"useDefault": bool(use_default)}
    if overrides:
        cleaned["overrides"] = [{"method": o["method"], "minutes": o["minutes"]} for o in overrides]
    return cleaned


def check_recurrence_lines(lines: list) -> list[str]:
    for line in lines:
        head = line.split(":", 1)[0].split(";", 1)[0].upper() if isinstance(line, str) else ""
        if head not in ("RRULE", "EXRULE", "RDATE", "EXDATE") or ":" not in line:
            raise bad_request("invalid", "Invalid recurrence rule.")
    return list(lines)


def html_link(event_id: str, calendar_id: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode("ascii").rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"

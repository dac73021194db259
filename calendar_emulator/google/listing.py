"""events.list semantics: query validation, which items a query returns and in which shape, sync
tokens and server-side page cursors.

Shapes of cancelled items (providers.md 1.2): a deleted event is `{kind, etag, id, status, updated}`;
a cancelled instance of a live series is `{kind, etag, id, status, recurringEventId,
originalStartTime, updated}`. Which cancelled items a query returns:

| query                              | cancelled instances of live series | deleted events          |
| ---------------------------------- | ---------------------------------- | ----------------------- |
| singleEvents=false, showDeleted=false | yes                             | no                      |
| singleEvents=false, showDeleted=true  | yes                             | yes                     |
| singleEvents=true,  showDeleted=false | no                              | no                      |
| singleEvents=true,  showDeleted=true  | yes                             | single events only, not masters |
| syncToken / updatedMin             | yes                                | yes; with singleEvents a deleted series is one cancelled item with the master's id |
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import orjson
from starlette.datastructures import QueryParams

from calendar_emulator.google import instances
from calendar_emulator.google.errors import GoogleApiError, bad_request
from calendar_emulator.google.eventdata import format_updated, load_zone, parse_rfc3339
from calendar_emulator.google.records import Calendar, StoredEvent

SnapshotT = TypeVar("SnapshotT")

DEFAULT_PAGE = 250
MAX_PAGE = 2500
UPDATED_MIN_LIMIT = timedelta(days=28)
SYNC_FORBIDDEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
MAX_CURSORS = 50_000


@dataclass
class ListQuery:
    time_min: datetime | None = None
    time_max: datetime | None = None
    updated_min: datetime | None = None
    single_events: bool = False
    show_deleted: bool = False
    order_by: str | None = None
    max_results: int = DEFAULT_PAGE
    page_token: str | None = None
    sync_token: str | None = None
    q: str | None = None
    ical_uid: str | None = None
    private_properties: list[tuple[str, str]] = field(default_factory=list)
    shared_properties: list[tuple[str, str]] = field(default_factory=list)
    time_zone: str | None = None
    master_id: str | None = None  # events.instances: only this series' instances

    @property
    def filtered(self) -> bool:
        """Queries whose results are a subset of the calendar get no sync token."""
        return bool(
            self.q or self.ical_uid or self.private_properties or self.shared_properties or self.master_id
        )

    @classmethod
    def from_params(cls, params: QueryParams, now: datetime) -> ListQuery:
        query = cls()
        query.max_results = _max_results(params.get("maxResults"))
        query.single_events = _boolean(params, "singleEvents", False)
        query.show_deleted = _boolean(params, "showDeleted", False)
        query.page_token = params.get("pageToken") or None
        query.sync_token = params.get("syncToken") or None
        if query.sync_token:
            for name in SYNC_FORBIDDEN:
                if name in params:
                    raise _sync_restricted(name)
            if "showDeleted" in params and not query.show_deleted:
                raise _sync_restricted("showDeleted")
        order_by = params.get("orderBy")
        if order_by is not None:
            if order_by not in ("startTime", "updated"):
                raise bad_request("invalid", f"Invalid value for orderBy: {order_by}", "orderBy")
            if order_by == "startTime" and not query.single_events:
                raise bad_request(
                    "badRequest",
                    "The requested ordering is not available for the particular query.",
                    "orderBy",
                )
            query.order_by = order_by
        if "timeMin" in params:
            query.time_min = parse_rfc3339(params["timeMin"], "timeMin")
        if "timeMax" in params:
            query.time_max = parse_rfc3339(params["timeMax"], "timeMax")
        if query.time_min and query.time_max and query.time_max <= query.time_min:
            raise GoogleApiError(
                400,
                "timeRangeEmpty",
                "The specified time range is empty.",
                domain="calendar",
                location="timeMax",
            )
        if "updatedMin" in params:
            query.updated_min = parse_rfc3339(params["updatedMin"], "updatedMin")
            if query.updated_min < now - UPDATED_MIN_LIMIT:
                raise GoogleApiError(
                    410,
                    "updatedMinTooLongAgo",
                    "The requested minimum modification time lies too far in the past.",
                    domain="calendar",
                    location="updatedMin",
                )
        query.q = params.get("q") or None
        query.ical_uid = params.get("iCalUID") or None
        query.private_properties = _properties(params, "privateExtendedProperty")
        query.shared_properties = _properties(params, "sharedExtendedProperty")
        if "timeZone" in params:
            if load_zone(params["timeZone"]) is None:
                raise bad_request("invalid", "Invalid time zone.", "timeZone")
            query.time_zone = params["timeZone"]
        return query


def _max_results(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(
            "invalid",
            f"Invalid value '{raw}'. Values must match the following regular expression: '-?[0-9]+'",
            "maxResults",
        ) from None
    if value < 1:
        raise bad_request(
            "invalid", f"Invalid value '{raw}'. Values must be within the range: [1, 2500]", "maxResults"
        )
    return min(value, MAX_PAGE)


def _boolean(params: QueryParams, name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise bad_request("invalid", f"Invalid boolean value: '{raw}'.", name)
    return raw.lower() == "true"


def _properties(params: QueryParams, name: str) -> list[tuple[str, str]]:
    pairs = []
    for raw in params.getlist(name):
        key, sep, value = raw.partition("=")
        if not sep or not key:
            raise bad_request("invalid", f"Invalid {name} value: expected propertyName=value.", name)
        pairs.append((key, value))
    return pairs


def _sync_restricted(name: str) -> GoogleApiError:
    return GoogleApiError(
        400,
        "syncTokenWithRequestRestrictions",
        "Sync token cannot be used with other request restrictions.",
        domain="calendar",
        location=name,
    )


# --- which items, in which shape --------------------------------------------------------------
def deleted_shape(item: StoredEvent) -> dict:
    body = item.body
    return {
        "kind": "calendar#event",
        "etag": body["etag"],
        "id": body["id"],
        "status": "cancelled",
        "updated": body["updated"],
    }


def cancelled_instance_shape(item: StoredEvent) -> dict:
    body = item.body
    return {
        "kind": "calendar#event",
        "etag": body["etag"],
        "id": body["id"],
        "status": "cancelled",
        "recurringEventId": body["recurringEventId"],
        "originalStartTime": body["originalStartTime"],
        "updated": body["updated"],
    }


Row = tuple[datetime, str, dict]  # (start instant, updated, item) for ordering


def collect(cal: Calendar, query: ListQuery, watermark: int | None) -> list[dict]:
    """The whole result of a query, ordered, before paging."""
    zone = load_zone(cal.time_zone) or ZoneInfo("UTC")
    if watermark is not None:
        candidates, incremental = cal.changed_since(watermark), True
    elif query.updated_min is not None:
        threshold = format_updated(query.updated_min)
        candidates = [item for item in cal.events.values() if item.updated >= threshold]
        incremental = True
    else:
        candidates, incremental = list(cal.events.values()), False
    rows: list[Row] = []
    lo, hi = query.time_min, query.time_max
    for item in candidates:
        if query.master_id and query.master_id not in (item.id, item.master_id):
            continue
        if not _matches(item, query):
            continue
        in_window = _overlaps(item, lo, hi)
        if item.master_id is not None:  # an exception: a modified or cancelled instance
            master = cal.events.get(item.master_id)
            series_live = master is not None and not master.cancelled
            if not item.cancelled:
                if series_live and in_window:
                    rows.append((item.start.instant, item.updated, item.body))
            elif series_live:
                if (incremental or query.show_deleted or not query.single_events) and in_window:
                    rows.append((item.start.instant, item.updated, cancelled_instance_shape(item)))
            elif incremental or (query.show_deleted and not query.single_events):
                rows.append((item.start.instant, item.updated, cancelled_instance_shape(item)))
            continue
        if item.cancelled:  # a deleted single event or series
            shown = query.show_deleted and in_window and (item.rules is None or not query.single_events)
            if incremental or shown:
                rows.append((item.start.instant, item.updated, deleted_shape(item)))
            continue
        if item.rules is None:
            if in_window:
                rows.append((item.start.instant, item.updated, item.body))
        elif not query.single_events:
            if instances.overlaps_window(item, lo, hi):
                rows.append((item.start.instant, item.updated, item.body))
        else:
            overridden = cal.exceptions.get(item.id, ())
            for original in instances.expand(item, lo, hi):
                body, start = instances.instance_body(item, original, cal.id, zone)
                if body["id"] not in overridden:
                    rows.append((start.instant, item.updated, body))
    if query.order_by == "startTime":
        rows.sort(key=lambda row: (row[0], row[2]["id"]))
    elif query.order_by == "updated":
        rows.sort(key=lambda row: row[1])
    return [row[2] for row in rows]


def _overlaps(item: StoredEvent, lo: datetime | None, hi: datetime | None) -> bool:
    # timeMin bounds the end and timeMax the start, both exclusively.
    if lo is not None and item.end.instant <= lo:
        return False
    return not (hi is not None and item.start.instant >= hi)


def _matches(item: StoredEvent, query: ListQuery) -> bool:
    body = item.body
    if query.ical_uid is not None and body.get("iCalUID") != query.ical_uid:
        return False
    if query.private_properties or query.shared_properties:
        props = body.get("extendedProperties") or {}
        private, shared = props.get("private") or {}, props.get("shared") or {}
        if any(private.get(key) != value for key, value in query.private_properties):
            return False
        if any(shared.get(key) != value for key, value in query.shared_properties):
            return False
    if query.q:
        needle = query.q.lower()
        haystack = [body.get("summary"), body.get("description"), body.get("location")]
        haystack += [a.get("email") for a in body.get("attendees", ())]
        haystack += [a.get("displayName") for a in body.get("attendees", ())]
        if not any(needle in text.lower() for text in haystack if text):
            return False
    return True


# --- sync tokens and page cursors -------------------------------------------------------------
@dataclass(frozen=True)
class SyncPoint:
    calendar_id: str
    global_generation: int
    user_generation: int
    watermark: int


def encode_sync_token(point: SyncPoint) -> str:
    raw = orjson.dumps([point.calendar_id, point.global_generation, point.user_generation, point.watermark])
    return "CP" + base64.urlsafe_b64encode(raw).decode("ascii")


def decode_sync_token(token: str) -> SyncPoint:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(token[2:].encode("ascii")))
        if not token.startswith("CP") or not isinstance(values, list) or len(values) != 4:
            raise ValueError("shape")
        return SyncPoint(str(values[0]), int(values[1]), int(values[2]), int(values[3]))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        raise bad_request("invalid", "Invalid sync token value.", "syncToken") from None


@dataclass
class Snapshot:
    """One query's full result, taken when its first page was asked for."""

    calendar_id: str
    owner: str
    rows: list[dict]
    sync_token: str | None


class PageTokens(Generic[SnapshotT]):
    """Opaque page tokens naming (snapshot, offset): asking for a page twice gives the same page, and
    what changes after the snapshot comes in the next sync, not in later pages. One per listing kind
    (events, the calendar list), each with the token prefix the real service uses for it."""

    def __init__(self, prefix: str = "EjY", limit: int = MAX_CURSORS) -> None:
        self._pages: OrderedDict[str, tuple[SnapshotT, int]] = OrderedDict()
        self._prefix = prefix
        self._limit = limit

    def mint(self, snapshot: SnapshotT, offset: int) -> str:
        token = self._prefix + secrets.token_urlsafe(24)
        self._pages[token] = (snapshot, offset)
        while len(self._pages) > self._limit:
            self._pages.popitem(last=False)
        return token

    def resolve(self, token: str, belongs: Callable[[SnapshotT], bool]) -> tuple[SnapshotT, int]:
        """The page a token names, if it was minted for this caller's listing (else a 400)."""
        found = self._pages.get(token)
        if found is None or not belongs(found[0]):
            raise bad_request("invalid", "Invalid page token value.", "pageToken")
        return found

"""calendarList.list semantics: paging, showDeleted, and incremental sync with syncToken.

The emulator's calendar list only changes when a calendar is added (admin API) or deleted
(calendars.delete); entries carry the change number of their arrival, and a deleted one leaves
a tombstone (the entry as it was, with `deleted: true`) so incremental sync can report it.
As for events.list (providers.md 1.2) a sync token names the user, the invalidation generations
and a watermark; an invalidated one answers 410.

Documented rules followed here: maxResults defaults to 100 and is capped at 250; with a syncToken,
deleted (and hidden) entries are always included, showDeleted/showHidden may not be false, and
minAccessRole may not be given.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from calendar_emulator.google.errors import GoogleApiError, bad_request
from calendar_emulator.google.listing import PageTokens, _boolean

DEFAULT_PAGE = 100
MAX_PAGE = 250
ACCESS_ROLES = ("freeBusyReader", "reader", "writerWithoutPrivateAccess", "writer", "owner")  # ascending


@dataclass
class CalendarListQuery:
    max_results: int = DEFAULT_PAGE
    min_access_role: str | None = None
    page_token: str | None = None
    show_deleted: bool = False
    show_hidden: bool = False
    sync_token: str | None = None

    @classmethod
    def from_params(cls, params: QueryParams) -> CalendarListQuery:
        query = cls()
        raw = params.get("maxResults")
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                raise bad_request("invalid", f"Invalid value '{raw}' for maxResults.", "maxResults") from None
            if value < 1:
                raise bad_request("invalid", "maxResults must be at least 1.", "maxResults")
            query.max_results = min(value, MAX_PAGE)
        role = params.get("minAccessRole")
        if role is not None and role not in ACCESS_ROLES:
            raise bad_request("invalid", f"Invalid value for minAccessRole: {role}", "minAccessRole")
        query.min_access_role = role
        query.page_token = params.get("pageToken")
        query.sync_token = params.get("syncToken")
        query.show_deleted = _boolean(params, "showDeleted", False)
        query.show_hidden = _boolean(params, "showHidden", False)
        if query.sync_token:
            for name in ("showDeleted", "showHidden"):
                if params.get(name, "").lower() == "false":
                    raise _restricted(name)
            if role is not None:
                raise _restricted("minAccessRole")
            query.show_deleted = query.show_hidden = True
        return query


def _restricted(name: str) -> GoogleApiError:
    return GoogleApiError(
        400,
        "syncTokenWithRequestRestrictions",
        "Sync token cannot be used with other request restrictions.",
        domain="calendar",
        location=name,
    )


@dataclass
class ListSnapshot:
    owner: str
    rows: list[dict]
    sync_token: str


def list_pages() -> PageTokens[ListSnapshot]:
    """The calendar list's page tokens (their own prefix, as on the real service)."""
    return PageTokens(prefix="EkA")


ROLE_RANK = {role: rank for rank, role in enumerate(ACCESS_ROLES)}


def page(
    pages: PageTokens[ListSnapshot],
    owner: str,
    query: CalendarListQuery,
    live: list[tuple[int, dict]],
    removed: list[tuple[int, dict]],
    watermark: int | None,
    sync_token: str,
) -> dict:
    """One page of the calendar list. `live`/`removed`: (change number, entry) of present entries
    and of tombstones; `watermark`: the sync token's change number (None: a full listing)."""
    if query.page_token:
        snapshot, offset = pages.resolve(query.page_token, lambda listed: listed.owner == owner)
    else:
        rows = [
            (seq, entry)
            for seq, entry in live
            if query.min_access_role is None
            or ROLE_RANK[entry["accessRole"]] >= ROLE_RANK[query.min_access_role]
        ]
        if query.show_deleted:
            rows += removed
        if watermark is not None:
            rows = [(seq, entry) for seq, entry in rows if seq > watermark]
        rows.sort(key=lambda row: row[0])
        snapshot, offset = ListSnapshot(owner, [entry for _, entry in rows], sync_token), 0
    end = offset + query.max_results
    body: dict = {"kind": "calendar#calendarList", "etag": f'"p{len(snapshot.rows)}"'}
    if end < len(snapshot.rows):
        body["nextPageToken"] = pages.mint(snapshot, end)
    else:
        body["nextSyncToken"] = snapshot.sync_token
    body["items"] = snapshot.rows[offset:end]
    return body

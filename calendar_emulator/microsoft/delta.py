"""calendarView/delta: rounds of pages behind opaque $skiptoken / $deltatoken links.

A round is computed when it starts (an initial query, or a deltaLink) as a stream of rows; pages
are slices of that stream. Series masters occupy a hidden slot in the stream (they are not part
of a calendar view), so a page can come back empty and still carry a nextLink, as Graph's do.
Rows are rendered when their page is served. A delta token freezes the window, the change
sequence number the round saw, and the mailbox's sync generation (invalidation bumps it -> 410).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from calendar_emulator.microsoft import ids
from calendar_emulator.microsoft.models import DeltaRound
from calendar_emulator.microsoft.serialize import View, removed, render_delta

if TYPE_CHECKING:
    from calendar_emulator.microsoft.models import GraphBackend, Instance, Mailbox, StoredEvent

MAX_ROUNDS = 4096  # rounds kept for paging; older skiptokens answer 410 like an evicted sync state
REMOVED_MARGIN = timedelta(days=7)  # removed occurrences reported around the window


def sign(secret: bytes, payload: dict) -> str:
    raw = orjson.dumps(payload)
    mac = hmac.new(secret, raw, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(raw + mac).decode().rstrip("=")


def unsign(secret: bytes, token: str) -> dict | None:
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    raw, mac = blob[:-12], blob[-12:]
    if len(blob) <= 12 or not hmac.compare_digest(mac, hmac.new(secret, raw, hashlib.sha256).digest()[:12]):
        return None
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def start_round(
    backend: GraphBackend,
    mailbox: Mailbox,
    calendar_id: str,
    window: tuple[datetime, datetime],
    since: int | None,
) -> DeltaRound:
    """Compute a round: everything in the window (since None) or what changed after `since`."""
    events = [e for e in mailbox.events.values() if e.calendar_id == calendar_id]
    stream = (
        initial_stream(backend, events, window)
        if since is None
        else changes_stream(backend, events, window, since)
    )
    round_ = DeltaRound(
        secrets.token_hex(8),
        mailbox.user.user_id,
        calendar_id,
        window,
        mailbox.generation,
        mailbox.seq,
        stream,
    )
    backend.delta_rounds[round_.round_id] = round_
    while len(backend.delta_rounds) > MAX_ROUNDS:
        backend.delta_rounds.popitem(last=False)
    return round_


def initial_stream(backend: GraphBackend, events: list[StoredEvent], window) -> list:
    stream: list = []
    for event in events:
        if event.gone:
            continue
        if event.is_series:
            stream.append(None)
        stream.extend(backend.instances(event, *window))
    return stream


def changes_stream(backend: GraphBackend, events: list[StoredEvent], window, since: int) -> list:
    stream: list = []
    seen: set[tuple[bytes, str | None]] = set()

    def emit_removed(event: StoredEvent, occurrence: str | None) -> None:
        if (event.key, occurrence) not in seen:
            seen.add((event.key, occurrence))
            stream.append((event, occurrence))

    def emit(row: Instance) -> None:
        if (row.event.key, row.occurrence) not in seen:
            seen.add((row.event.key, row.occurrence))
            stream.append(row)

    for event in events:
        if event.seq > since and event.created_seq > since and event.gone:
            continue  # created and gone within the interval: the client never saw it
        for key, seq in event.removed_log.items():
            if seq > since and _near_window(event, key, window):
                emit_removed(event, key or None)
        if event.seq > since:
            if event.gone:
                if not event.is_series:
                    emit_removed(event, None)
                for row in backend.instances(event, *window) if event.is_series else ():
                    emit_removed(event, row.occurrence)
                continue
            if event.is_series:
                stream.append(None)
                for row in backend.instances(event, *window):
                    emit(row)
            else:
                rows = backend.instances(event, *window)
                if rows:
                    emit(rows[0])
                else:
                    emit_removed(event, None)  # changed, and now outside the window
            continue
        if event.gone:
            continue
        for key, override in event.overrides.items():
            if override.seq > since and key not in event.cancelled:
                if override.timing.overlaps(*window):
                    emit(backend.instance(event, key))
                else:
                    emit_removed(event, key)
    return stream


def _near_window(event: StoredEvent, key: str, window) -> bool:
    if not key:
        return True
    try:
        start = datetime.strptime(key, "%Y%m%dT%H%M%SZ" if "T" in key else "%Y%m%d").replace(
            tzinfo=window[0].tzinfo
        )
    except ValueError:
        return False
    return window[0] - REMOVED_MARGIN <= start < window[1] + REMOVED_MARGIN


def render_page(
    backend: GraphBackend, round_: DeltaRound, offset: int, size: int, view: View
) -> tuple[list, int | None]:
    """The items of one page and the offset of the next (None on the last page)."""
    chunk = round_.stream[offset : offset + size]
    items = []
    for slot in chunk:
        if slot is None:
            continue
        if isinstance(slot, tuple):
            event, occurrence = slot
            # Removed rows carry the id the client saw: the one from the event's calendar.
            event_id = (
                ids.immutable_id(event.key, occurrence)
                if view.immutable
                else ids.rest_id(event.key, event.calendar_id, occurrence)
            )
            items.append(removed(event_id))
        else:
            items.append(render_delta(backend, slot, view))
    following = offset + size
    return items, following if following < len(round_.stream) else None

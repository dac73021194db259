"""What a push notification claims, and whether it is one of ours (F7).

Pure functions, no I/O: the intake looks the watch up and calls these. Google: the channel id and
resource id must be a pair we created and the channel token's SHA-256 must match (constant-time);
Graph: the subscription must be ours and the `clientState` digest must match. Either way the watch
must be active and its connection not disconnected.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

GOOGLE_STATES = frozenset({"sync", "exists", "not_exists"})
GRAPH_CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
LIFECYCLE_RESYNC = frozenset({"subscriptionRemoved", "missed"})
MAX_ID_LENGTH = 256  # Google allows 64-character channel ids and 256-character tokens

# The columns the intake reads per watch, in this order.
WATCH_LOOKUP_SQL = """SELECT w.connection_id, w.calendar_id, w.provider, w.resource_id, w.secret_sha256,
       w.state, c.status
  FROM watches w JOIN connections c ON c.connection_id = w.connection_id
 WHERE w.watch_id = ?"""

_CHANNEL_ID = b"x-goog-channel-id"
_RESOURCE_ID = b"x-goog-resource-id"
_STATE = b"x-goog-resource-state"
_TOKEN = b"x-goog-channel-token"


@dataclass(slots=True)
class GoogleNotice:
    channel_id: str
    resource_id: str
    state: str
    token_sha256: str | None


@dataclass(slots=True)
class GraphNotice:
    subscription_id: str
    client_state_sha256: str | None
    change_type: str | None = None  # change notifications
    lifecycle_event: str | None = None  # lifecycle notifications


@dataclass(slots=True)
class Verdict:
    """The intake's answer for one notice."""

    accepted: bool
    status: int  # 202 when accepted; the HTTP status of the rejection otherwise
    reason: str  # a counter suffix: unknown_channel, bad_token, ... (or sync / queued / ignored)
    watch_id: str | None = None
    connection_id: str | None = None
    calendar_id: str | None = None
    queue_reason: str | None = None  # set when the notice goes to the change queue
    lifecycle_event: str | None = None


def digest(value: str | bytes) -> str:
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).hexdigest()


def parse_google_headers(raw_headers: list[tuple[bytes, bytes]]) -> GoogleNotice | None:
    """The notice carried by a Google push's headers (ASGI lowercases names); None when malformed."""
    headers = dict(raw_headers)  # one pass in C; a repeated header keeps its last value
    channel = headers.get(_CHANNEL_ID)
    resource = headers.get(_RESOURCE_ID)
    state = headers.get(_STATE)
    token = headers.get(_TOKEN)
    if not channel or not resource or not state:
        return None
    if (
        len(channel) > MAX_ID_LENGTH
        or len(resource) > MAX_ID_LENGTH
        or (token and len(token) > MAX_ID_LENGTH)
    ):
        return None
    state_text = state.decode("latin-1")
    if state_text not in GOOGLE_STATES:
        return None
    return GoogleNotice(
        channel.decode("latin-1"),
        resource.decode("latin-1"),
        state_text,
        hashlib.sha256(token).hexdigest() if token else None,
    )


def verify_google(notice: GoogleNotice, row: tuple | None) -> Verdict:
    if row is None or row[2] != "google":
        return Verdict(False, 404, "unknown_channel", notice.channel_id)
    connection_id, calendar_id, _, resource_id, secret_sha256, state, status = row
    if resource_id != notice.resource_id:
        return Verdict(False, 404, "resource_mismatch", notice.channel_id)
    if notice.token_sha256 is None:
        return Verdict(False, 401, "missing_token", notice.channel_id)
    if not hmac.compare_digest(notice.token_sha256, secret_sha256):
        return Verdict(False, 403, "bad_token", notice.channel_id)
    rejected = _inactive(state, status, "channel")
    if rejected:
        return Verdict(False, 410, rejected, notice.channel_id, connection_id, calendar_id)
    if notice.state == "sync":  # the channel's first message: nothing changed yet
        return Verdict(True, 202, "sync", notice.channel_id, connection_id, calendar_id)
    return Verdict(
        True,
        202,
        "queued",
        notice.channel_id,
        connection_id,
        calendar_id,
        queue_reason=f"google:{notice.state}",
    )


def verify_graph(notice: GraphNotice, row: tuple | None) -> Verdict:
    sub = notice.subscription_id
    if row is None or row[2] != "microsoft":
        return Verdict(False, 404, "unknown_subscription", sub)
    connection_id, calendar_id, _, _, secret_sha256, state, status = row
    if notice.client_state_sha256 is None:
        return Verdict(False, 401, "missing_client_state", sub)
    if not hmac.compare_digest(notice.client_state_sha256, secret_sha256):
        return Verdict(False, 403, "bad_client_state", sub)
    rejected = _inactive(state, status, "subscription")
    if rejected:
        return Verdict(False, 410, rejected, sub, connection_id, calendar_id)
    event = notice.lifecycle_event
    if event is not None:
        queue_reason = f"microsoft:{event}" if event in LIFECYCLE_RESYNC else None
        return Verdict(True, 202, "lifecycle", sub, connection_id, calendar_id, queue_reason, event)
    change = notice.change_type if notice.change_type in GRAPH_CHANGE_TYPES else "changed"
    return Verdict(True, 202, "queued", sub, connection_id, calendar_id, queue_reason=f"microsoft:{change}")


def _inactive(state: str, status: str, what: str) -> str | None:
    if status == "disconnected":
        return "disconnected"
    if state != "active":
        return f"inactive_{what}"
    return None

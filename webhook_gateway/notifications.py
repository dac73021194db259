"""What a push notification claims, and whether it is one of ours (F7).

Pure functions, no I/O: the intake looks the watch up and calls these. Google: the channel id and
resource id must be a pair we created, the channel token's SHA-256 must match (constant-time) and
the message number must be newer than the last one accepted for the channel; Graph: the
subscription must be ours, the `clientState` digest must match, and the `tenantId` and `resource`
must name the tenant and user it was created for. Either way the watch must be active and its
connection not disconnected.

Everything a sender without the watch's secret can get wrong (an unknown id, a mismatched resource
or tenant, a missing or wrong token) gets one answer, so a probe learns nothing about which ids
exist. The counters keep the reasons apart for the operator.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from smvue_core.security.watch_secrets import secret_digest

GOOGLE_STATES = frozenset({"sync", "exists", "not_exists"})
GRAPH_CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
LIFECYCLE_RESYNC = frozenset({"subscriptionRemoved", "missed"})
MAX_ID_LENGTH = 256  # Google allows 64-character channel ids and 256-character tokens
MAX_MESSAGE_NUMBER_DIGITS = 20  # Google's numbers are 64-bit

UNVERIFIED = 403  # the one status of every notification that fails verification
# Google: an authentic message that is not newer than one already accepted (a replay).
REPLAYED = 409

# Stands in for the stored digest when the id is unknown, so that path compares as much as the others.
_NO_SECRET = "0" * 64

_CHANNEL_ID = b"x-goog-channel-id"
_RESOURCE_ID = b"x-goog-resource-id"
_STATE = b"x-goog-resource-state"
_TOKEN = b"x-goog-channel-token"
_MESSAGE_NUMBER = b"x-goog-message-number"


@dataclass(slots=True)
class GoogleNotice:
    channel_id: str
    resource_id: str
    state: str
    token_sha256: str | None
    message_number: int


@dataclass(slots=True)
class GraphNotice:
    subscription_id: str
    client_state_sha256: str | None
    change_type: str | None = None  # change notifications
    lifecycle_event: str | None = None  # lifecycle notifications
    tenant_id: str | None = None
    resource: str | None = None  # change notifications: Users/{user id}/Events/{event id}


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
    message_number: int | None = None  # Google: to record as the channel's latest, once committed


def parse_google_headers(raw_headers: list[tuple[bytes, bytes]]) -> GoogleNotice | None:
    """The notice carried by a Google push's headers (ASGI lowercases names); None when malformed."""
    headers = dict(raw_headers)  # one pass in C; a repeated header keeps its last value
    channel = headers.get(_CHANNEL_ID)
    resource = headers.get(_RESOURCE_ID)
    state = headers.get(_STATE)
    token = headers.get(_TOKEN)
    number = headers.get(_MESSAGE_NUMBER)
    if not channel or not resource or not state or not number:
        return None
    if (
        len(channel) > MAX_ID_LENGTH
        or len(resource) > MAX_ID_LENGTH
        or (token and len(token) > MAX_ID_LENGTH)
        or len(number) > MAX_MESSAGE_NUMBER_DIGITS
        or not number.isdigit()
    ):
        return None
    state_text = state.decode("latin-1")
    if state_text not in GOOGLE_STATES:
        return None
    return GoogleNotice(
        channel.decode("latin-1"),
        resource.decode("latin-1"),
        state_text,
        secret_digest(token) if token else None,
        int(number),
    )


def verify_google(notice: GoogleNotice, row: tuple | None) -> Verdict:
    channel = notice.channel_id
    if row is None or row[2] != "google":
        hmac.compare_digest(notice.token_sha256 or _NO_SECRET, _NO_SECRET)
        return Verdict(False, UNVERIFIED, "unknown_channel", channel)
    connection_id, calendar_id, _, resource_id, secret_sha256, state, status, _, _, last_number = row
    token_matches = hmac.compare_digest(notice.token_sha256 or _NO_SECRET, secret_sha256)
    if resource_id != notice.resource_id:
        return Verdict(False, UNVERIFIED, "resource_mismatch", channel)
    if notice.token_sha256 is None:
        return Verdict(False, UNVERIFIED, "missing_token", channel)
    if not token_matches:
        return Verdict(False, UNVERIFIED, "bad_token", channel)
    rejected = _inactive(state, status, "channel")
    if rejected:
        return Verdict(False, 410, rejected, channel, connection_id, calendar_id)
    if last_number is not None and notice.message_number <= last_number:
        return Verdict(False, REPLAYED, "replayed", channel, connection_id, calendar_id)
    if notice.state == "sync":  # the channel's first message: nothing changed yet
        return Verdict(
            True, 202, "sync", channel, connection_id, calendar_id, message_number=notice.message_number
        )
    return Verdict(
        True,
        202,
        "queued",
        channel,
        connection_id,
        calendar_id,
        queue_reason=f"google:{notice.state}",
        message_number=notice.message_number,
    )


def verify_graph(notice: GraphNotice, row: tuple | None) -> Verdict:
    sub = notice.subscription_id
    if row is None or row[2] != "microsoft":
        hmac.compare_digest(notice.client_state_sha256 or _NO_SECRET, _NO_SECRET)
        return Verdict(False, UNVERIFIED, "unknown_subscription", sub)
    connection_id, calendar_id, _, _, secret_sha256, state, status, tenant_id, owner_id, _ = row
    if notice.client_state_sha256 is None:
        return Verdict(False, UNVERIFIED, "missing_client_state", sub)
    if not hmac.compare_digest(notice.client_state_sha256, secret_sha256):
        return Verdict(False, UNVERIFIED, "bad_client_state", sub)
    if tenant_id is not None and (notice.tenant_id or "").lower() != tenant_id.lower():
        return Verdict(False, UNVERIFIED, "tenant_mismatch", sub)
    event = notice.lifecycle_event
    # Lifecycle notifications name no resource; change notifications must name the owner's events.
    if event is None and owner_id is not None and not _names_owner(notice.resource, owner_id):
        return Verdict(False, UNVERIFIED, "resource_mismatch", sub)
    rejected = _inactive(state, status, "subscription")
    if rejected:
        return Verdict(False, 410, rejected, sub, connection_id, calendar_id)
    if event is not None:
        queue_reason = f"microsoft:{event}" if event in LIFECYCLE_RESYNC else None
        return Verdict(True, 202, "lifecycle", sub, connection_id, calendar_id, queue_reason, event)
    change = notice.change_type if notice.change_type in GRAPH_CHANGE_TYPES else "changed"
    return Verdict(True, 202, "queued", sub, connection_id, calendar_id, queue_reason=f"microsoft:{change}")


def _names_owner(resource: str | None, owner_id: str) -> bool:
    """Graph names a changed event `Users/{user id}/Events/{event id}` (the case varies)."""
    parts = (resource or "").split("/", 3)
    return (
        len(parts) == 4
        and parts[0].lower() == "users"
        and parts[1].lower() == owner_id.lower()
        and parts[2].lower() == "events"
        and bool(parts[3])
    )


def _inactive(state: str, status: str, what: str) -> str | None:
    if status == "disconnected":
        return "disconnected"
    if state != "active":
        return f"inactive_{what}"
    return None

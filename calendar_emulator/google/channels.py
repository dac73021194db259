"""Push channels (events.watch / channels.stop) and the notifications they send.

A new channel gets a `sync` message (number 1) at once; every later change to its calendar's
events sends `exists` with a higher, non-consecutive message number. Expired and stopped channels
stay listed for the admin API but send nothing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

from calendar_emulator.google.errors import GoogleApiError, bad_request, not_found
from calendar_emulator.google.records import Calendar
from calendar_emulator.notifier import Notifier
from calendar_emulator.store import User

DEFAULT_TTL_SECONDS = 604_800
CHANNEL_ID = re.compile(r"^[A-Za-z0-9\-_+/=]{1,64}$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    owner: User
    address: str
    token: str | None
    expiration: datetime
    created: datetime
    message_number: int = 1
    stopped: bool = False

    def active(self, now: datetime) -> bool:
        return not self.stopped and now < self.expiration

    def response(self) -> dict:
        body = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(int(self.expiration.timestamp() * 1000)),
        }
        if self.token is not None:
            body["token"] = self.token
        return body

    def headers(self, resource_state: str) -> dict[str, str]:
        headers = {
            "X-Goog-Channel-ID": self.id,
            "X-Goog-Message-Number": str(self.message_number),
            "X-Goog-Resource-ID": self.resource_id,
            "X-Goog-Resource-State": resource_state,
            "X-Goog-Resource-URI": self.resource_uri,
            "X-Goog-Channel-Expiration": format_datetime(self.expiration, usegmt=True),
        }
        if self.token is not None:
            headers["X-Goog-Channel-Token"] = self.token
        return headers


class ChannelRegistry:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.channels: dict[str, Channel] = {}
        self.by_calendar: dict[str, list[Channel]] = {}
        self._numbers = random.Random()

    def open(
        self, owner: User, calendar: Calendar, body: dict, resource_uri: str, now: datetime, max_seconds: int
    ) -> Channel:
        channel_id = body.get("id")
        if not isinstance(channel_id, str) or not CHANNEL_ID.match(channel_id):
            raise bad_request("invalid", "Invalid channel id: 1-64 characters of [A-Za-z0-9-_+/=].", "id")
        if channel_id in self.channels:
            raise bad_request("channelIdNotUnique", f"Channel id {channel_id} not unique", "id")
        kind = body.get("type")
        if not isinstance(kind, str) or kind.lower() not in ("web_hook", "webhook"):
            raise bad_request("invalid", f"Invalid value for type: {kind}", "type")
        address = body.get("address")
        if not isinstance(address, str) or not address:
            raise bad_request("required", "Required: address", "address")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("invalid", f"Invalid callback address: {address}", "address")
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise bad_request(
                "push.webhookUrlNotHttps", f"WebHook callback must be HTTPS: {address}", "address"
            )
        token = body.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise bad_request("invalid", "Channel token must be a string of at most 256 characters.", "token")
        ttl = DEFAULT_TTL_SECONDS
        params = body.get("params")
        if params is not None:
            if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
                raise bad_request("invalid", "Channel params must map names to strings.", "params")
            if "ttl" in params:
                ttl = _positive_int(params["ttl"], "params.ttl")
        expiration = now + timedelta(seconds=min(ttl, max_seconds))
        if body.get("expiration") is not None:
            requested_ms = _positive_int(body["expiration"], "expiration")
            requested = datetime.fromtimestamp(requested_ms / 1000, tz=now.tzinfo)
            if requested <= now:
                raise bad_request("invalid", "Channel expiration must be in the future.", "expiration")
            expiration = min(expiration, requested)
        channel = Channel(
            id=channel_id,
            resource_id=calendar.resource_id,
            resource_uri=resource_uri,
            calendar_id=calendar.id,
            owner=owner,
            address=address,
            token=token,
            expiration=expiration,
            created=now,
        )
        self.channels[channel_id] = channel
        self.by_calendar.setdefault(calendar.id, []).append(channel)
        self.notifier.send_google(address, channel.headers("sync"))
        return channel

    def stop(self, user: User, body: dict) -> None:
        channel_id, resource_id = body.get("id"), body.get("resourceId")
        if not isinstance(channel_id, str) or not isinstance(resource_id, str):
            raise bad_request("required", "Both id and resourceId are required.")
        channel = self.channels.get(channel_id)
        if channel is None or channel.resource_id != resource_id or channel.stopped:
            raise not_found(f"Channel '{channel_id}' not found for project")
        if channel.owner.email.lower() != user.email.lower():
            raise GoogleApiError(403, "forbidden", "Only the channel's creator can stop it.")
        channel.stopped = True

    def notify(self, calendar_id: str, now: datetime) -> None:
        for channel in self.by_calendar.get(calendar_id, ()):
            if channel.active(now):
                # Rising but not consecutive, as Google's message numbers are.
                channel.message_number += self._numbers.randint(2, 9)
                self.notifier.send_google(channel.address, channel.headers("exists"))

    def listing(self, now: datetime) -> list[dict]:
        return [
            {
                "id": channel.id,
                "resource_id": channel.resource_id,
                "resource_uri": channel.resource_uri,
                "calendar_id": channel.calendar_id,
                "owner": channel.owner.email,
                "address": channel.address,
                "expiration": channel.expiration.isoformat(),
                "stopped": channel.stopped,
                "active": channel.active(now),
                "message_number": channel.message_number,
                # As Graph subscriptions list their clientState: scripts can post as Google would.
                "token": channel.token,
            }
            for channel in self.channels.values()
        ]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool):
        raise bad_request("invalid", f"Invalid value for {name}.", name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request("invalid", f"Invalid value for {name}.", name) from None
    if number <= 0:
        raise bad_request("invalid", f"Invalid value for {name}.", name)
    return number

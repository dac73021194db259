"""Opaque Outlook ids: REST ids that change when an item changes folders, and immutable ids that don't.

Both decode to the item's permanent key; an occurrence id also carries the original start of the
instance (its "occurrence key"), so GET/PATCH/DELETE on an occurrence can find master and date.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

KEY_BYTES = 12
REST_PREFIX = "AAMkA"
IMMUTABLE_PREFIX = "AAkALg"
CALENDAR_PREFIX = "AAMkAGCal"


@dataclass(frozen=True)
class ParsedId:
    key: bytes
    immutable: bool
    folder_tag: bytes  # empty for immutable ids
    occurrence: str | None  # occurrence key of an instance id


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


@lru_cache(maxsize=4096)
def folder_tag(folder_id: str) -> bytes:
    return hashlib.sha256(folder_id.encode()).digest()[:4]


def rest_id(key: bytes, folder_id: str, occurrence: str | None = None) -> str:
    payload = b"R" + key + folder_tag(folder_id) + (occurrence or "").encode("ascii")
    return REST_PREFIX + base64.urlsafe_b64encode(payload).decode("ascii")


def immutable_id(key: bytes, occurrence: str | None = None) -> str:
    payload = b"I" + key + (occurrence or "").encode("ascii")
    return IMMUTABLE_PREFIX + base64.urlsafe_b64encode(payload).decode("ascii")


def parse_id(value: str) -> ParsedId | None:
    """The parts of an event id, or None when it is not one this emulator minted."""
    if value.startswith(IMMUTABLE_PREFIX):
        payload, kind = _decode(value[len(IMMUTABLE_PREFIX) :]), b"I"
    elif value.startswith(REST_PREFIX):
        payload, kind = _decode(value[len(REST_PREFIX) :]), b"R"
    else:
        return None
    if payload is None or payload[:1] != kind:
        return None
    key = payload[1 : 1 + KEY_BYTES]
    rest = payload[1 + KEY_BYTES :]
    tag = b""
    if kind == b"R":
        tag, rest = rest[:4], rest[4:]
        if len(tag) != 4:
            return None
    if len(key) != KEY_BYTES:
        return None
    try:
        occurrence = rest.decode("ascii") if rest else None
    except UnicodeDecodeError:
        return None
    return ParsedId(key=key, immutable=kind == b"I", folder_tag=tag, occurrence=occurrence)


def new_calendar_id() -> str:
    return CALENDAR_PREFIX + base64.urlsafe_b64encode(b"C" + secrets.token_bytes(KEY_BYTES)).decode()


def _decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None

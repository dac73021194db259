"""OAuth helpers both providers use: PKCE, state, and reading an id_token we were just handed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from smvue_core.providers.base import ProviderError


def new_state() -> str:
    return secrets.token_urlsafe(24)


def new_verifier() -> str:
    return secrets.token_urlsafe(64)  # 86 characters, inside PKCE's 43-128


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_state(expected: str, received: str | None) -> None:
    if not received or not hmac.compare_digest(expected, received):
        raise ProviderError("OAuth state does not match the authorization request")


def id_token_claims(id_token: str | None) -> dict:
    """Claims of an id_token received directly from the token endpoint over TLS (no signature check
    needed for that channel, per OpenID Connect Core 3.1.3.7)."""
    if not id_token or id_token.count(".") < 2:
        return {}
    payload = id_token.split(".")[1]
    try:
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, json.JSONDecodeError):
        return {}

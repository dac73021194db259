"""The digest a push channel's secret is kept and verified as (the Google channel token, the
Graph `clientState`).

The store keeps only this digest: enough for the gateway to verify a notification, useless to forge
one. The watch manager digests the secret it hands the provider and the gateway digests what a
notification carries, with this one function, so the two can never drift apart.
"""

from __future__ import annotations

import hashlib


def secret_digest(secret: str | bytes) -> str:
    """SHA-256 (hex) of a watch secret (text as UTF-8); the gateway compares digests in constant time."""
    return hashlib.sha256(secret.encode() if isinstance(secret, str) else secret).hexdigest()

"""Token encryption (F19): Fernet (AES-128-CBC + HMAC-SHA256) with rotation through MultiFernet.

`SMVUE_SECRET_KEY` may hold several comma-separated keys: the first encrypts, all decrypt, so a new
key can be put in front and `smvue rotate-key` re-encrypts every stored secret under it.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretDecryptError(Exception):
    """A stored secret could not be decrypted with any configured key."""


class TokenCipher:
    def __init__(self, keys: str | list[str]) -> None:
        key_list = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys) if k.strip()]
        if not key_list:
            raise ValueError("SMVUE_SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in key_list])
        except ValueError as exc:
            raise ValueError(
                "SMVUE_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated"
            ) from exc

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, plaintext: str | bytes) -> bytes:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise SecretDecryptError("stored secret does not decrypt with SMVUE_SECRET_KEY") from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the primary (first) key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise SecretDecryptError("stored secret does not decrypt with SMVUE_SECRET_KEY") from None

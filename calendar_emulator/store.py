"""State shared by both providers: mailboxes (users), OAuth clients, codes, tokens and canaries.

Provider-specific calendars and events live in each provider's `models.py`; this module only knows
who exists and which bearer tokens are valid for whom.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from calendar_emulator.clock import Clock

Provider = Literal["google", "microsoft"]
PROVIDERS: tuple[Provider, ...] = ("google", "microsoft")

# Clients the emulator knows from the start, so `make demo` and tests need no registration step.
# Like Google's native-app rule, they accept any loopback redirect URI.
DEFAULT_CLIENTS = {
    "google": ("smvue-google-dev", "smvue-google-dev-secret"),
    "microsoft": ("smvue-microsoft-dev", "smvue-microsoft-dev-secret"),
}


class OAuthError(Exception):
    """An OAuth protocol error; the provider's routes render it in their own shape."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class User:
    email: str
    provider: Provider
    name: str
    user_id: str
    tenant_id: str
    # Google's `email_verified`: false for an account whose (non-Gmail) address was never confirmed.
    email_verified: bool = True


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    provider: Provider
    redirect_uris: list[str] | None  # None: any loopback URI


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user: User
    scope: str
    code_challenge: str | None
    nonce: str | None
    expires_at: datetime
    used: bool = False


@dataclass
class Grant:
    """One user's consent to one client; revoking it kills every token issued under it."""

    grant_id: str
    user: User
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    user: User
    grant: Grant | None  # None for tokens minted by the admin API
    expires_at: datetime


@dataclass
class IdentityStore:
    clock: Clock
    access_token_ttl: int = 3600
    users: dict[tuple[Provider, str], User] = field(default_factory=dict)
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    issued_secrets: list[str] = field(default_factory=list)
    canary: str = field(default_factory=lambda: f"CANARY-DESC-{secrets.token_hex(6)}")

    def __post_init__(self) -> None:
        for provider, (client_id, secret) in DEFAULT_CLIENTS.items():
            self.clients[client_id] = OAuthClient(client_id, secret, provider, None)  # type: ignore[arg-type]

    # --- users -------------------------------------------------------------------------------
    def add_user(
        self, email: str, provider: Provider, name: str, email_verified: bool = True
    ) -> tuple[User, bool]:
        """Create a mailbox; returns (user, created). Emails are matched case-insensitively."""
        key = (provider, email.strip().lower())
        if key in self.users:
            return self.users[key], False
        user = User(
            email=email.strip(),
            provider=provider,
            name=name,
            user_id=str(uuid.uuid4()) if provider == "microsoft" else str(secrets.randbelow(10**20)),
            tenant_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, email.split("@")[-1].lower())),
            email_verified=email_verified,
        )
        self.users[key] = user
        return user, True

    def find_user(self, provider: Provider, email: str) -> User | None:
        return self.users.get((provider, email.strip().lower()))

    # --- clients -----------------------------------------------------------------------------
    def register_client(
        self, provider: Provider, client_id: str, client_secret: str, redirect_uris: list[str] | None
    ) -> OAuthClient:
        client = OAuthClient(client_id, client_secret, provider, redirect_uris)
        self.clients[client_id] = client
        return client

    def client_for(self, provider: Provider, client_id: str | None) -> OAuthClient:
        client = self.clients.get(client_id or "")
        if client is None or client.provider != provider:
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
        return client

    @staticmethod
    def redirect_allowed(client: OAuthClient, redirect_uri: str) -> bool:
        if client.redirect_uris is not None:
            return redirect_uri in client.redirect_uris
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")

    # --- authorization codes -----------------------------------------------------------------
    def issue_code(
        self,
        provider: Provider,
        client_id: str | None,
        redirect_uri: str | None,
        login_hint: str | None,
        scope: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        nonce: str | None = None,
    ) -> AuthCode:
        """What the consent screen does: check the request, approve at once, mint a code."""
        client = self.client_for(provider, client_id)
        if not redirect_uri or not self.redirect_allowed(client, redirect_uri):
            raise OAuthError("redirect_uri_mismatch", f"redirect_uri is not registered: {redirect_uri!r}")
        if not login_hint:
            raise OAuthError("invalid_request", "login_hint is required by the emulator's consent screen")
        user = self.find_user(provider, login_hint)
        if user is None:
            raise OAuthError("invalid_request", f"login_hint names no user: {login_hint!r}")
        if code_challenge is not None or code_challenge_method is not None:
            if code_challenge_method != "S256":
                raise OAuthError("invalid_request", "code_challenge_method must be S256")
            if not code_challenge or not (43 <= len(code_challenge) <= 128) or not _is_b64url(code_challenge):
                raise OAuthError("invalid_request", "code_challenge must be 43-128 base64url characters")
        code = AuthCode(
            code=self._mint("code"),
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            user=user,
            scope=scope,
            code_challenge=code_challenge,
            nonce=nonce,
            expires_at=self.clock.now() + timedelta(minutes=10),
        )
        self.codes[code.code] = code
        return code

    def redeem_code(
        self,
        provider: Provider,
        code: str | None,
        client_id: str | None,
        client_secret: str | None,
        redirect_uri: str | None,
        code_verifier: str | None,
    ) -> AuthCode:
        client = self.client_for(provider, client_id)
        if client_secret is not None and not secrets.compare_digest(client_secret, client.client_secret):
            raise OAuthError("invalid_client", "Unauthorized client secret.", 401)
        issued = self.codes.get(code or "")
        if issued is None or issued.used or issued.client_id != client.client_id:
            raise OAuthError("invalid_grant", "Malformed auth code.")
        if issued.expires_at < self.clock.now():
            raise OAuthError("invalid_grant", "Auth code expired.")
        if redirect_uri != issued.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri does not match the authorization request")
        if issued.code_challenge is not None:
            if not code_verifier:
                raise OAuthError("invalid_grant", "Missing code verifier.")
            if pkce_s256(code_verifier) != issued.code_challenge:
                raise OAuthError("invalid_grant", "Invalid code verifier.")
        issued.used = True
        return issued

    # --- tokens ------------------------------------------------------------------------------
    def grant(self, user: User, client_id: str, scope: str) -> tuple[Grant, str]:
        grant = Grant(grant_id=uuid.uuid4().hex, user=user, client_id=client_id, scope=scope)
        self.grants[grant.grant_id] = grant
        return grant, self.issue_refresh_token(grant)

    def granted_scopes(self, user: User, client_id: str) -> set[str]:
        """Every scope the user still grants this client (Google's `include_granted_scopes`)."""
        return {
            name
            for grant in self.grants.values()
            if grant.user is user and grant.client_id == client_id and not grant.revoked
            for name in grant.scope.split()
        }

    def issue_refresh_token(self, grant: Grant) -> str:
        token = self._mint("1//" if grant.user.provider == "google" else "M.R3_")
        self.refresh_tokens[token] = grant
        return token

    def issue_access_token(self, user: User, grant: Grant | None) -> AccessToken:
        prefix = "ya29." if user.provider == "google" else "EwB"
        token = AccessToken(
            token=self._mint(prefix),
            user=user,
            grant=grant,
            expires_at=self.clock.now() + timedelta(seconds=self.access_token_ttl),
        )
        self.access_tokens[token.token] = token
        return token

    def refresh(self, provider: Provider, refresh_token: str | None, client_id: str | None) -> Grant:
        client = self.client_for(provider, client_id)
        grant = self.refresh_tokens.get(refresh_token or "")
        if grant is None or grant.revoked or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "Token has been expired or revoked.")
        return grant

    def revoke_token(self, token: str) -> bool:
        """Google's revoke: either kind of token revokes the whole grant."""
        grant = self.refresh_tokens.get(token)
        if grant is None and token in self.access_tokens:
            grant = self.access_tokens[token].grant
        if grant is None:
            return False
        grant.revoked = True
        return True

    def revoke_user(self, provider: Provider, email: str) -> int:
        """The user withdraws consent everywhere (admin API): every grant and token dies."""
        revoked = 0
        for grant in self.grants.values():
            if grant.user.provider == provider and grant.user.email.lower() == email.strip().lower():
                grant.revoked = True
                revoked += 1
        return revoked

    def expire_access_tokens(self, provider: Provider | None = None, email: str | None = None) -> int:
        expired = 0
        past = self.clock.now() - timedelta(seconds=1)
        for token in self.access_tokens.values():
            if provider and token.user.provider != provider:
                continue
            if email and token.user.email.lower() != email.strip().lower():
                continue
            token.expires_at = past
            expired += 1
        return expired

    def authenticate(self, provider: Provider, authorization: str | None) -> User | str:
        """The user behind a bearer token, or a reason string when there is none."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return "missing"
        token = self.access_tokens.get(authorization[7:].strip())
        if token is None or token.user.provider != provider:
            return "invalid"
        if token.grant is not None and token.grant.revoked:
            return "revoked"
        if token.expires_at <= self.clock.now():
            return "expired"
        return token.user

    def _mint(self, prefix: str) -> str:
        value = prefix + secrets.token_urlsafe(32)
        self.issued_secrets.append(value)
        return value

    def new_canary(self) -> str:
        """A description body that privacy tests can search for (the shared marker plus a nonce)."""
        return f"Private agenda and notes. {self.canary}-{secrets.token_hex(4)}"

    def canary_to_add(self, written: str | None, seeded: bool) -> str | None:
        """The canary to append to a description/body, or None to keep it exactly as written.

        A real provider returns what a client wrote, so a description written through the API is
        left alone (tests that want a canary there write their own). Seeded events, and events
        written without a description, carry one so privacy checks always have something to find;
        seed text that already has the shared marker is kept as is."""
        if written and not seeded:
            return None
        if written and self.canary in written:
            return None
        return self.new_canary()


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _is_b64url(value: str) -> bool:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
    return all(ch in allowed for ch in value)

"""Google OAuth 2.0 under /google/oauth2/: authorize (the consent screen approves at once for the
`login_hint` user; with `include_granted_scopes=true` the grant also carries every scope the user
granted the client before, as Google's incremental authorization does), token (authorization_code with PKCE, refresh_token), revoke and userinfo.

Errors use Google's OAuth shape `{"error", "error_description"}`, not the Calendar API's.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse

from calendar_emulator.google.schema import discovery
from calendar_emulator.http import JSONResponse
from calendar_emulator.state import EmulatorState
from calendar_emulator.store import OAuthError, User

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
IDENTITY_SCOPES = frozenset(
    {"openid", "email", "profile", f"{SCOPE_PREFIX}userinfo.email", f"{SCOPE_PREFIX}userinfo.profile"}
)
EMAIL_SCOPES = frozenset({"email", f"{SCOPE_PREFIX}userinfo.email"})
PROFILE_SCOPES = frozenset({"profile", f"{SCOPE_PREFIX}userinfo.profile"})
PROMPTS = frozenset({"none", "consent", "select_account"})


def known_scopes() -> frozenset[str]:
    return frozenset(discovery()["auth"]["oauth2"]["scopes"]) | IDENTITY_SCOPES


def oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=exc.status)


def _id_token(user: User, client_id: str, scope: str, nonce: str | None, issued_at: int, ttl: int) -> str:
    """JWT-shaped but unsigned (alg none): clients here read it, none verifies it."""
    header = {"alg": "none", "typ": "JWT"}
    claims: dict = {
        "iss": "https://accounts.google.com",
        "azp": client_id,
        "aud": client_id,
        "sub": user.user_id,
        "email": user.email,
        "email_verified": user.email_verified,
        "iat": issued_at,
        "exp": issued_at + ttl,
    }
    if set(scope.split()) & PROFILE_SCOPES:
        claims["name"] = user.name
    if nonce:
        claims["nonce"] = nonce

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode("ascii")

    return f"{part(header)}.{part(claims)}."


class GoogleOAuth:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.offline_codes: dict[str, bool] = {}  # code -> access_type=offline

    async def authorize(self, request: Request):
        params = request.query_params
        try:
            scope = " ".join((params.get("scope") or "").split())
            with self.state.lock:
                self.state.identity.client_for("google", params.get("client_id"))
                if params.get("response_type") != "code":
                    raise OAuthError("unsupported_response_type", "response_type must be 'code'.")
                if not scope:
                    raise OAuthError("invalid_request", "Missing required parameter: scope")
                unknown = [name for name in scope.split() if name not in known_scopes()]
                if unknown:
                    raise OAuthError("invalid_scope", f"Some requested scopes were invalid: {unknown}")
                access_type = params.get("access_type", "online")
                if access_type not in ("online", "offline"):
                    raise OAuthError("invalid_request", f"Invalid access_type: {access_type}")
                prompt = params.get("prompt")
                if prompt is not None and not set(prompt.split()) <= PROMPTS:
                    raise OAuthError("invalid_request", f"Invalid prompt: {prompt}")
                include_granted = params.get("include_granted_scopes", "false")
                if include_granted not in ("true", "false"):
                    raise OAuthError("invalid_request", f"Invalid include_granted_scopes: {include_granted}")
                redirect_uri = params.get("redirect_uri")
                code = self.state.identity.issue_code(
                    "google",
                    params.get("client_id"),
                    redirect_uri,
                    params.get("login_hint"),
                    scope,
                    params.get("code_challenge"),
                    params.get("code_challenge_method"),
                    nonce=params.get("nonce"),
                )
                if include_granted == "true":
                    earlier = self.state.identity.granted_scopes(code.user, code.client_id)
                    code.scope = " ".join([*scope.split(), *sorted(earlier - set(scope.split()))])
                    scope = code.scope
                self.offline_codes[code.code] = access_type == "offline"
        except OAuthError as exc:
            return oauth_error(exc)
        answer = {"code": code.code, "scope": scope}
        if params.get("state") is not None:
            answer = {"state": params["state"], **answer}
        separator = "&" if "?" in code.redirect_uri else "?"
        return RedirectResponse(f"{code.redirect_uri}{separator}{urlencode(answer)}", status_code=302)

    async def token(self, request: Request):
        form = await _form(request)
        client_id, client_secret = _client_credentials(request, form)
        identity = self.state.identity
        grant_type = form.get("grant_type")
        try:
            with self.state.lock:
                if not grant_type:
                    raise OAuthError("invalid_request", "Missing required parameter: grant_type")
                if grant_type == "authorization_code":
                    code = identity.redeem_code(
                        "google",
                        form.get("code"),
                        client_id,
                        client_secret,
                        form.get("redirect_uri"),
                        form.get("code_verifier"),
                    )
                    grant, refresh_token = identity.grant(code.user, code.client_id, code.scope)
                    offline = self.offline_codes.pop(code.code, False)
                    nonce = code.nonce
                elif grant_type == "refresh_token":
                    client = identity.client_for("google", client_id)
                    if client_secret is not None and client_secret != client.client_secret:
                        raise OAuthError("invalid_client", "Unauthorized", 401)
                    grant = identity.refresh("google", form.get("refresh_token"), client_id)
                    refresh_token, offline, nonce = None, False, None
                else:
                    raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
                access = identity.issue_access_token(grant.user, grant)
                now = int(self.state.clock.now().timestamp())
        except OAuthError as exc:
            return oauth_error(exc)
        body: dict = {
            "access_token": access.token,
            "expires_in": identity.access_token_ttl,
            "scope": grant.scope,
            "token_type": "Bearer",
        }
        if offline and refresh_token:
            body["refresh_token"] = refresh_token
        if set(grant.scope.split()) & ({"openid"} | EMAIL_SCOPES):
            body["id_token"] = _id_token(
                grant.user, grant.client_id, grant.scope, nonce, now, identity.access_token_ttl
            )
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def revoke(self, request: Request):
        form = await _form(request)
        token = request.query_params.get("token") or form.get("token")
        with self.state.lock:
            revoked = bool(token) and self.state.identity.revoke_token(token)  # type: ignore[arg-type]
        if not revoked:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Token expired or revoked"}, status_code=400
            )
        return JSONResponse({})

    async def userinfo(self, request: Request):
        header = request.headers.get("authorization")
        with self.state.lock:
            user = self.state.identity.authenticate("google", header)
            token = None if isinstance(user, str) else self.state.identity.access_tokens[header[7:].strip()]  # type: ignore[index]
        if token is None or isinstance(user, str):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Invalid Credentials"},
                status_code=401,
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
                },
            )
        scopes = set(token.grant.scope.split()) if token.grant is not None else set(IDENTITY_SCOPES)
        body: dict = {"sub": user.user_id}
        if scopes & PROFILE_SCOPES:
            body["name"] = user.name
        if scopes & EMAIL_SCOPES:
            body["email"] = user.email
            body["email_verified"] = user.email_verified
        return JSONResponse(body)


async def _form(request: Request) -> dict[str, str]:
    """Form-encoded (as OAuth clients send) or JSON bodies; later duplicates do not override."""
    raw = await request.body()
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
    form: dict[str, str] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        form.setdefault(key, value)
    return form


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id"), form.get("client_secret")

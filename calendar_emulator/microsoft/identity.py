"""The Microsoft identity platform (v2.0 endpoints) as msal sees it: OIDC discovery, instance
discovery, the authorize "consent screen" and the token endpoint.

Every URL it advertises is on the public authority host (https://login.microsoftonline.com), so
msal's authority checks pass unchanged; a routed http_client carries msal's requests here.
"""

from __future__ import annotations

import base64
import html
import re
import uuid
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from calendar_emulator.http import JSONResponse
from calendar_emulator.state import EmulatorState
from calendar_emulator.store import AuthCode, Grant, OAuthError, User

AUTHORITY_HOST = "https://login.microsoftonline.com"
GENERIC_TENANTS = ("common", "organizations", "consumers")
RESERVED_SEGMENTS = ("v1.0", "beta", "_admin")
ALIASES = ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"]
# Scopes msal adds to every request; they are not resource permissions.
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
_TENANT = re.compile(r"^[0-9a-fA-F-]{36}$|^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
AADSTS = {
    "invalid_grant": 70000,
    "invalid_client": 7000215,
    "redirect_uri_mismatch": 50011,
    "invalid_request": 900144,
    "unsupported_grant_type": 70003,
    "invalid_scope": 70011,
}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class IdentityError(Exception):
    def __init__(
        self, error: str, description: str, status: int = 400, code: int | None = None, suberror=None
    ):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.code = code or AADSTS.get(error, 90000)
        self.suberror = suberror

    @classmethod
    def from_oauth(cls, exc: OAuthError) -> IdentityError:
        code = AADSTS.get(exc.error, 90000)
        if "verifier" in exc.description.lower():
            code = 501481
        elif "expired" in exc.description.lower():
            code = 70008
        return cls(exc.error, exc.description, exc.status, code)

    def response(self) -> JSONResponse:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        body = {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {now}",
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{AUTHORITY_HOST}/error?code={self.code}",
        }
        if self.suberror:
            body["suberror"] = self.suberror
        return JSONResponse(body, status_code=self.status)


def resource_scopes(scope: str) -> set[str]:
    """Permission names of a scope string, without the resource prefix or the OIDC scopes."""
    names = {part.rsplit("/", 1)[-1].lower() for part in scope.split()}
    return names - OIDC_SCOPES - {".default"}


def _authority_origin(request: Request) -> str:
    """Where the advertised endpoints live. Over plain http the emulator stands in for
    login.microsoftonline.com behind a routing client, so it names that host. Over https it is
    the authority a client was pointed at (msal with `authority=https://127.0.0.1:PORT/TENANT`),
    and a real authority advertises its own origin. The issuer stays Microsoft's either way, as
    the tokens the emulator signs carry it."""
    if request.url.scheme != "https":
        return AUTHORITY_HOST
    prefix = "/microsoft" if request.url.path.startswith("/microsoft/") else ""
    return f"https://{request.url.netloc}{prefix}"


class IdentityEndpoints:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    @cached_property
    def _key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @cached_property
    def _kid(self) -> str:
        return uuid.uuid4().hex[:16]

    @staticmethod
    def _tenant(request: Request) -> str:
        tenant = request.path_params["tenant"]
        if tenant.lower() in RESERVED_SEGMENTS or not (
            tenant.lower() in GENERIC_TENANTS or _TENANT.match(tenant)
        ):
            raise IdentityError("invalid_tenant", f"Tenant '{tenant}' not found.", 400, 90002)
        return tenant

    # --- discovery ----------------------------------------------------------------------------
    async def openid_configuration(self, request: Request):
        try:
            tenant = self._tenant(request)
        except IdentityError as exc:
            return exc.response()
        base = f"{_authority_origin(request)}/{tenant}"
        issuer_tenant = tenant if tenant.lower() not in GENERIC_TENANTS else "{tenantid}"
        return JSONResponse(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{AUTHORITY_HOST}/{issuer_tenant}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "oid",
                ],
                "tenant_region_scope": None,
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    async def instance_discovery(self, request: Request):
        endpoint = request.query_params.get(
            "authorization_endpoint", f"{AUTHORITY_HOST}/common/oauth2/authorize"
        )
        path = urlsplit(endpoint).path.strip("/").split("/")
        tenant = path[0] if path and path[0] else "common"
        return JSONResponse(
            {
                "tenant_discovery_endpoint": f"{AUTHORITY_HOST}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": ALIASES[0], "preferred_cache": ALIASES[1], "aliases": ALIASES},
                ],
            }
        )

    async def keys(self, request: Request):
        numbers = self._key.public_key().public_numbers()
        return JSONResponse(
            {
                "keys": [
                    {
                        "kty": "RSA",
                        "use": "sig",
                        "kid": self._kid,
                        "alg": "RS256",
                        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                        "e": b64url(numbers.e.to_bytes(3, "big")),
                    }
                ]
            }
        )

    # --- authorize (the consent screen) ------------------------------------------------------
    async def authorize(self, request: Request):
        params = request.query_params
        try:
            tenant = self._tenant(request)
            if params.get("response_type") != "code":
                raise IdentityError("unsupported_response_type", "response_type must be 'code'.", 400, 70005)
            scope = params.get("scope", "")
            if not resource_scopes(scope) and "openid" not in scope.split():
                raise IdentityError("invalid_scope", "The scope parameter is required.", 400)
            with self.state.lock:
                code = self.state.identity.issue_code(
                    "microsoft",
                    params.get("client_id"),
                    params.get("redirect_uri"),
                    params.get("login_hint"),
                    scope,
                    params.get("code_challenge"),
                    params.get("code_challenge_method"),
                    nonce=params.get("nonce"),
                )
                if tenant.lower() not in GENERIC_TENANTS and tenant.lower() != code.user.tenant_id:
                    self.state.identity.codes.pop(code.code, None)
                    raise IdentityError(
                        "invalid_request",
                        f"User account '{code.user.email}' does not exist in tenant '{tenant}'.",
                        400,
                        50020,
                    )
        except OAuthError as exc:
            return IdentityError.from_oauth(exc).response()
        except IdentityError as exc:
            return exc.response()
        answer = {"code": code.code, "state": params.get("state", ""), "session_state": str(uuid.uuid4())}
        if not params.get("state"):
            answer.pop("state")
        mode = params.get("response_mode", "query")
        if mode == "form_post":
            inputs = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>'
                for k, v in answer.items()
            )
            return HTMLResponse(
                f'<html><body onload="document.forms[0].submit()"><form method="POST" '
                f'action="{html.escape(code.redirect_uri)}">{inputs}</form></body></html>'
            )
        separator = "#" if mode == "fragment" else ("&" if "?" in code.redirect_uri else "?")
        return RedirectResponse(f"{code.redirect_uri}{separator}{urlencode(answer)}", status_code=302)

    # --- token --------------------------------------------------------------------------------
    async def token(self, request: Request):
        try:
            self._tenant(request)
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
            client_id, client_secret = self._client_auth(request, form)
            grant_type = form.get("grant_type")
            with self.state.lock:
                if grant_type == "authorization_code":
                    return self._redeem(form, client_id, client_secret)
                if grant_type == "refresh_token":
                    return self._refresh(form, client_id, client_secret)
            raise IdentityError(
                "unsupported_grant_type", f"The grant type {grant_type!r} is not supported.", 400
            )
        except OAuthError as exc:
            return IdentityError.from_oauth(exc).response()
        except IdentityError as exc:
            return exc.response()

    @staticmethod
    def _client_auth(request: Request, form: dict) -> tuple[str | None, str | None]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                raise IdentityError("invalid_client", "The client credentials are malformed.", 401) from None
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    def _redeem(self, form: dict, client_id, client_secret):
        code = self.state.identity.redeem_code(
            "microsoft",
            form.get("code"),
            client_id,
            client_secret,
            form.get("redirect_uri"),
            form.get("code_verifier"),
        )
        grant, refresh_token = self.state.identity.grant(code.user, code.client_id, code.scope)
        return self._tokens(grant, refresh_token, form.get("scope") or code.scope, code)

    def _refresh(self, form: dict, client_id, client_secret):
        client = self.state.identity.client_for("microsoft", client_id)
        if client_secret is not None and client_secret != client.client_secret:
            raise IdentityError("invalid_client", "Invalid client secret provided.", 401)
        token = form.get("refresh_token") or ""
        known = self.state.identity.refresh_tokens.get(token)
        if known is not None and known.revoked:
            raise IdentityError(
                "invalid_grant",
                "The refresh token has been revoked because the user withdrew consent or was signed out.",
                400,
                50173,
                suberror="bad_token",
            )
        if known is None:
            raise IdentityError(
                "invalid_grant",
                "The provided value for the input parameter 'refresh_token' is not valid.",
                400,
                9002313,
            )
        grant = self.state.identity.refresh("microsoft", token, client_id)
        scope = form.get("scope") or grant.scope
        missing = resource_scopes(scope) - resource_scopes(grant.scope)
        if missing:
            raise IdentityError(
                "invalid_grant",
                f"The user or administrator has not consented to use the application for {sorted(missing)}.",
                400,
                65001,
                suberror="consent_required",
            )
        return self._tokens(grant, self.state.identity.issue_refresh_token(grant), scope, None)

    def _tokens(self, grant: Grant, refresh_token: str, scope: str, code: AuthCode | None) -> JSONResponse:
        access = self.state.identity.issue_access_token(grant.user, grant)
        ttl = self.state.identity.access_token_ttl
        return JSONResponse(
            {
                "token_type": "Bearer",
                "scope": scope,  # echoed in the requested form, so msal's cache hits
                "expires_in": ttl,
                "ext_expires_in": ttl,
                "access_token": access.token,
                "refresh_token": refresh_token,
                "id_token": self._id_token(grant.user, grant.client_id, code.nonce if code else None),
                "client_info": b64url(
                    orjson.dumps({"uid": grant.user.user_id, "utid": grant.user.tenant_id})
                ),
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _id_token(self, user: User, client_id: str, nonce: str | None) -> str:
        now = int(self.state.clock.now().timestamp())
        claims = {
            "aud": client_id,
            "iss": f"{AUTHORITY_HOST}/{user.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.name or user.email,
            "oid": user.user_id,
            "preferred_username": user.email,
            "sub": b64url(uuid.uuid5(uuid.UUID(user.user_id), client_id).bytes),
            "tid": user.tenant_id,
            "ver": "2.0",
            "uti": b64url(uuid.uuid4().bytes),
            "rh": "0.emulator",
        }
        if nonce:
            claims["nonce"] = nonce
        header = b64url(orjson.dumps({"typ": "JWT", "alg": "RS256", "kid": self._kid}))
        payload = b64url(orjson.dumps(claims))
        signature = self._key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{b64url(signature)}"

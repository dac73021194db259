"""The app API's bearer token, as a dependency (provider webhooks and the OAuth callback do not use it).

`webhook_gateway.limits.RequestLimits` checks it on /v1/* before a body is read; the dependency
stays on every router that needs it (it also covers /oauth/{provider}/start, and documents the
scheme in OpenAPI)."""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from webhook_gateway.errors import Unauthorized

# auto_error=False: a missing or malformed header is answered by us, as JSON naming the header.
_bearer = HTTPBearer(auto_error=False, description="SMVUE_API_TOKEN (generated into $SMVUE_HOME/api.token)")
UNAUTHORIZED_MESSAGE = "authorization: a valid bearer token is required"


def token_matches(given: str, expected: str) -> bool:
    # compare_digest: the time taken does not tell how much of a guess was right.
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def require_api_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    expected: str = request.app.state.services.api_token
    given = credentials.credentials if credentials is not None else ""
    if not token_matches(given, expected):
        raise Unauthorized(UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": "Bearer"})

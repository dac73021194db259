"""Connecting a calendar (F1, F2): the OAuth authorization-code round trip with PKCE.

The start gives the browser an HttpOnly, SameSite=Lax cookie (named after the flow's state, sent
only to the callback); the callback refuses a state whose cookie is missing or does not match, so
a flow can only be finished by the browser that started it. Lax, not Strict: the provider's
redirect back to the callback is a cross-site top-level navigation.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from smvue_core.connect import STATE_LIFETIME, new_browser_binding
from webhook_gateway.auth import require_api_token
from webhook_gateway.dependencies import Connections
from webhook_gateway.models import error_responses
from webhook_gateway.models.common import Identifier
from webhook_gateway.models.connections import ConnectResult

router = APIRouter(prefix="/oauth", tags=["oauth"])
Provider = Literal["google", "microsoft"]
_QueryText = Annotated[str | None, Query(max_length=4096)]


@router.get(
    "/{provider}/start",
    status_code=302,
    response_class=RedirectResponse,
    dependencies=[Depends(require_api_token)],
    responses={
        302: {"description": "Redirect to the provider's consent screen (login_hint = the manager's email)"},
        **error_responses(401, 404, 422),
    },
)
def start(provider: Provider, manager_id: Annotated[Identifier, Query()], connections: Connections):
    """Send the manager to the provider's authorize URL; the flow (PKCE verifier) is kept encrypted,
    bound to this browser by a cookie only the callback receives."""
    binding = new_browser_binding()
    flow = connections.start_oauth(provider, manager_id, binding)
    answer = RedirectResponse(flow.url, status_code=302)
    answer.set_cookie(
        binding_cookie(flow.state),
        binding,
        max_age=int(STATE_LIFETIME.total_seconds()),
        path=f"/oauth/{provider}/callback",
        secure=connections.services.settings.public_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return answer


@router.get(
    "/{provider}/callback",
    response_model=ConnectResult,
    responses=error_responses(400, 403, 404, 409, 422, 502),
)
def callback(
    provider: Provider,
    request: Request,
    response: Response,
    connections: Connections,
    state: Annotated[str, Query(min_length=1, max_length=512)],
    code: _QueryText = None,
    error: _QueryText = None,
) -> ConnectResult:
    """Finish the connection (authenticated by `state` and the cookie the start set in this
    browser, not the bearer token): check that the account that consented is the manager's (403
    otherwise, nothing stored), stop the old watches, store the encrypted tokens, record the
    calendars, queue the initial import, and open a watch per selected calendar. A reconnect
    revives the same connection id, with the same account, and resumes from its stored cursor."""
    cookie = binding_cookie(state)
    # Every parameter goes on: msal also reads client_info and session_state from the callback.
    result = connections.finish_oauth(provider, dict(request.query_params), request.cookies.get(cookie, ""))
    response.delete_cookie(cookie, path=f"/oauth/{provider}/callback", httponly=True, samesite="lax")
    return result


def binding_cookie(state: str) -> str:
    """One cookie per flow, so two connections started side by side in one browser both finish."""
    return "smvue_oauth_" + hashlib.sha256(state.encode()).hexdigest()[:16]

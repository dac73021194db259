"""Connecting a calendar (F1, F2): the OAuth authorization-code round trip with PKCE."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse

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
    """Send the manager to the provider's authorize URL; the flow (PKCE verifier) is kept encrypted."""
    return RedirectResponse(connections.start_oauth(provider, manager_id), status_code=302)


@router.get(
    "/{provider}/callback",
    response_model=ConnectResult,
    responses=error_responses(400, 404, 422, 502),
)
def callback(
    provider: Provider,
    request: Request,
    connections: Connections,
    state: Annotated[str, Query(min_length=1, max_length=512)],
    code: _QueryText = None,
    error: _QueryText = None,
) -> ConnectResult:
    """Finish the connection (authenticated by `state`, not the bearer token): store the encrypted
    tokens, record the calendars, queue the initial import, and open a watch per selected calendar.
    A reconnect revives the same connection id and resumes from its stored cursor."""
    # Every parameter goes on: msal also reads client_info and session_state from the callback.
    return connections.finish_oauth(provider, dict(request.query_params))

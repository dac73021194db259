"""The roster (F9), as the SMVue app sends it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from webhook_gateway.auth import require_api_token
from webhook_gateway.dependencies import Roster
from webhook_gateway.models import error_responses
from webhook_gateway.models.common import Identifier
from webhook_gateway.models.team import ManagerIn, ManagerOut, TeamMemberIn, TeamMemberOut

router = APIRouter(
    prefix="/v1",
    tags=["team"],
    dependencies=[Depends(require_api_token)],
    responses=error_responses(401, 422),
)
ResourceId = Annotated[Identifier, Path()]


@router.put(
    "/managers/{id}",
    response_model=ManagerOut,
    responses={201: {"model": ManagerOut, "description": "Manager added"}},
)
def put_manager(id: ResourceId, body: ManagerIn, roster: Roster, response: Response) -> ManagerOut:  # noqa: A002
    """Add or update a manager (200 updated, 201 added)."""
    result = roster.put_manager(id, body)
    response.status_code = 201 if result.created else 200
    return result


@router.put(
    "/team-members/{id}",
    response_model=TeamMemberOut,
    responses={201: {"model": TeamMemberOut, "description": "Rep added"}, **error_responses(404)},
)
def put_team_member(id: ResourceId, body: TeamMemberIn, roster: Roster, response: Response) -> TeamMemberOut:  # noqa: A002
    """Add or update a rep (200 updated, 201 added); 404 naming manager_id when the manager is unknown."""
    result = roster.put_team_member(id, body)
    response.status_code = 201 if result.created else 200
    return result


@router.delete("/team-members/{id}", status_code=204, response_class=Response, responses=error_responses(404))
def delete_team_member(id: ResourceId, roster: Roster) -> Response:  # noqa: A002
    """Remove a rep from the roster; their past meetings stay in the warehouse."""
    roster.delete_team_member(id)
    return Response(status_code=204)

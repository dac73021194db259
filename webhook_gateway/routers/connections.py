"""Settings > Integrations (F15): connection status, Sync Now, disconnect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from webhook_gateway.auth import require_api_token
from webhook_gateway.dependencies import Connections
from webhook_gateway.models import error_responses
from webhook_gateway.models.common import Identifier
from webhook_gateway.models.connections import (
    CalendarSelection,
    ConnectionList,
    ConnectionOut,
    DisconnectResult,
    SyncQueued,
)

router = APIRouter(
    prefix="/v1/connections",
    tags=["connections"],
    dependencies=[Depends(require_api_token)],
    responses=error_responses(401, 422),
)
ConnectionId = Annotated[Identifier, Path()]


@router.get("", response_model=ConnectionList)
def list_connections(connections: Connections) -> ConnectionList:
    """Every connection with its status, last successful sync, last error, calendars and watches."""
    return ConnectionList(connections=connections.list())


@router.get("/{id}", response_model=ConnectionOut, responses=error_responses(404))
def get_connection(id: ConnectionId, connections: Connections) -> ConnectionOut:  # noqa: A002 - the API's name
    return connections.get(id)


@router.put("/{id}/calendars", response_model=ConnectionOut, responses=error_responses(404, 409))
def select_calendars(
    id: ConnectionId, selection: CalendarSelection, connections: Connections
) -> ConnectionOut:  # noqa: A002
    """Choose the calendars SMVue syncs (the primary one alone by default). A newly selected
    calendar is imported by the next run and watched at once; a deselected one stops being
    watched, and its rows leave the warehouse in the next run. 409 when disconnected or needing
    reconnect; 422 for an id that is not one of the connection's calendars."""
    return connections.select_calendars(id, selection.calendar_ids)


@router.post("/{id}/sync", status_code=202, response_model=SyncQueued, responses=error_responses(404, 409))
def sync_now(id: ConnectionId, connections: Connections) -> SyncQueued:  # noqa: A002
    """Sync Now: queue a sync of every selected calendar (409 when disconnected or needing reconnect)."""
    return connections.sync_now(id)


@router.delete("/{id}", response_model=DisconnectResult, responses=error_responses(404))
def disconnect(id: ConnectionId, connections: Connections) -> DisconnectResult:  # noqa: A002
    """Disconnect: stop syncing and notifications at once, stop the watches, revoke the token where
    the provider allows it and delete it. Meetings and events stay."""
    return connections.disconnect(id)

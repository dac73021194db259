"""Dependencies the routers declare: the app's services, and the facades on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from webhook_gateway.services import ConnectionsService, GatewayServices, RosterService


def get_services(request: Request) -> GatewayServices:
    return request.app.state.services


def get_connections(services: Annotated[GatewayServices, Depends(get_services)]) -> ConnectionsService:
    return services.connections


def get_roster(services: Annotated[GatewayServices, Depends(get_services)]) -> RosterService:
    return services.roster


Services = Annotated[GatewayServices, Depends(get_services)]
Connections = Annotated[ConnectionsService, Depends(get_connections)]
Roster = Annotated[RosterService, Depends(get_roster)]

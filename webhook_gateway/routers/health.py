"""GET /healthz: no authentication; proves the operational store would take writes, without writing."""

from __future__ import annotations

from fastapi import APIRouter

from webhook_gateway.dependencies import Services
from webhook_gateway.models import error_responses
from webhook_gateway.models.health import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses=error_responses(503))
def healthz(services: Services) -> Health:
    """Liveness and readiness: 200 when the operational store is writable, 503 otherwise."""
    return services.health()

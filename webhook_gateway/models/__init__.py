"""Pydantic models of every request and response, one module per router (so /openapi.json is exact)."""

from webhook_gateway.models.common import ErrorBody, error_responses

__all__ = ["ErrorBody", "error_responses"]

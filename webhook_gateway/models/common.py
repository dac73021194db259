"""Shapes shared by every router."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class ErrorBody(BaseModel):
    """Every error: one line that starts with the field at fault when there is one."""

    error: str = Field(examples=["email: String should match pattern '^[^@\\\\s]+@[^@\\\\s]+$'"])


class Strict(BaseModel):
    """Request bodies: unknown fields are an error that names them, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# Ids come from SMVue or from us; printable, bounded.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s/\\]+$")]

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or wrong credentials",
    403: "Credentials do not match",
    404: "Unknown resource",
    409: "Conflicts with the resource's state",
    410: "No longer accepted",
    413: "Body too large",
    422: "Invalid input; the message names the field",
    502: "The calendar provider failed",
    503: "Temporarily unavailable; retry",
}


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` entries for these error statuses, all with the `ErrorBody` shape."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}

"""Graph-shaped error bodies: {"error": {"code", "message", "innerError": {...}}}."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from calendar_emulator.http import JSONResponse


class GraphApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        request_id = str(uuid.uuid4())
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": request_id,
                },
            }
        }
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> GraphApiError:
    return GraphApiError(400, code, message)


def not_found(message: str = "The specified object was not found in the store.") -> GraphApiError:
    return GraphApiError(404, "ErrorItemNotFound", message)


def unauthenticated(why: str) -> GraphApiError:
    return GraphApiError(401, "InvalidAuthenticationToken", f"Access token is {why}.")


def sync_state_gone(location: str | None = None) -> GraphApiError:
    # Observed in practice as 410 with "SyncStateNotFound" (providers.md 2.1); clients compare codes
    # case-insensitively. Location, when present, is a fresh initial query.
    return GraphApiError(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found (syncStateNotFound). Start a new initial sync.",
        headers={"Location": location} if location else None,
    )

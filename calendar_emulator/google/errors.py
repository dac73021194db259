"""Google-shaped error bodies: {"error": {"errors": [{domain, reason, message}], "code", "message"}}."""

from __future__ import annotations

from calendar_emulator.http import JSONResponse

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    410: "GONE",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class GoogleApiError(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.domain, self.location, self.location_type = domain, location, location_type
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        item: dict = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        body = {
            "error": {
                "errors": [item],
                "code": self.status,
                "message": self.message,
                "status": STATUS_NAMES.get(self.status, "UNKNOWN"),
            }
        }
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad_request(reason: str, message: str, location: str | None = None) -> GoogleApiError:
    return GoogleApiError(400, reason, message, location=location)


def not_found(message: str = "Not Found") -> GoogleApiError:
    return GoogleApiError(404, "notFound", message)


def unauthenticated(why: str) -> GoogleApiError:
    return GoogleApiError(
        401,
        "authError",
        f"Request had invalid authentication credentials ({why}). Expected OAuth 2 access token.",
        location="Authorization",
        location_type="header",
    )


def sync_token_gone() -> GoogleApiError:
    return GoogleApiError(
        410,
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
        domain="calendar",
        location="syncToken",
    )

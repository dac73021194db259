"""Connections (F15): status, calendars, watches, Sync Now, disconnect; and the OAuth callback's answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from webhook_gateway.models.common import Strict

Provider = Literal["google", "microsoft"]
Status = Literal["connected", "syncing", "needs_reconnect", "disconnected", "error"]
RevokeState = Literal["pending", "revoked", "not_supported", "given_up"]


class CalendarOut(BaseModel):
    calendar_id: str
    name: str
    is_primary: bool
    is_selected: bool


# Provider calendar ids: Google's are e-mail-like, Graph's long base64 (which may hold '/').
CalendarId = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^\S+$")]


class CalendarSelection(Strict):
    """PUT /v1/connections/{id}/calendars: the calendars SMVue syncs from now on (F3)."""

    calendar_ids: list[CalendarId] = Field(
        min_length=1, max_length=100, description="ids from the connection's `calendars`; at least one"
    )


class WatchOut(BaseModel):
    """A Google channel or Graph subscription (its secret is never shown)."""

    watch_id: str
    calendar_id: str
    state: Literal["active", "stopping", "stopped"]
    expires_at: str
    last_error: str | None


class RevocationOut(BaseModel):
    """How the token revoke of the last disconnect went (Google revokes; Graph has no revocation)."""

    state: RevokeState = Field(
        description="pending: the provider has not confirmed yet, retried in the background with the "
        "token kept encrypted; revoked / not_supported: token deleted; given_up: token deleted "
        "unrevoked, the grant may still be valid at the provider"
    )
    attempts_failed: int
    last_error: str | None


class ConnectionOut(BaseModel):
    connection_id: str
    manager_id: str
    provider: Provider
    account_email: str | None
    status: Status
    last_synced_at: str | None
    last_error: str | None
    created_at: str
    disconnected_at: str | None
    calendars: list[CalendarOut]
    watches: list[WatchOut] = Field(description="active and stopping watches")
    revocation: RevocationOut | None = Field(
        None, description="set once a disconnect tried to revoke the token; null otherwise"
    )


class ConnectionList(BaseModel):
    connections: list[ConnectionOut]


class WatchResult(BaseModel):
    calendar_id: str | None
    action: str = Field(examples=["created", "failed"])
    watch_id: str | None
    error: str | None


class ConnectResult(BaseModel):
    """GET /oauth/{provider}/callback: the connection, its calendars and the watches just created."""

    connection_id: str
    provider: Provider
    account_email: str | None
    status: Status
    reconnected: bool = Field(description="true when this revived an earlier connection of the manager")
    calendars: list[CalendarOut]
    watches: list[WatchResult]
    queued: Literal["connect", "reconnect"] = Field(description="the sync request queued for the import")


class SyncQueued(BaseModel):
    """POST /v1/connections/{id}/sync: the change-queue row the sensor will pick up."""

    connection_id: str
    queue_id: int
    reason: Literal["sync_now"]


class DisconnectResult(BaseModel):
    connection_id: str
    status: Literal["disconnected"]
    discarded_changes: int
    pending_watch_stops: int = Field(description="watches the background worker is still stopping")
    credentials_deleted: bool = Field(
        description="false while pending stops or a pending revoke still need the token; deleted as "
        "soon as they are done"
    )
    revocation: RevokeState = Field(
        description="the token revoke: pending while watch stops wait or the provider has not "
        "confirmed it (retried in the background)"
    )

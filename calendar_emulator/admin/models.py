"""Request bodies of the admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Provider = Literal["google", "microsoft"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserIn(Strict):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    provider: Provider
    name: str = Field("", max_length=200)
    # Google only: an account whose address Google never verified (id_token / userinfo say so).
    email_verified: bool = True


class MailboxIn(Strict):
    email: str = Field(min_length=3, max_length=320)
    provider: Provider


class CalendarIn(MailboxIn):
    name: str = Field(min_length=1, max_length=200)


class ClientIn(Strict):
    provider: Provider
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=200)
    redirect_uris: list[str] | None = None


class EventsIn(MailboxIn):
    calendar_id: str | None = None
    events: list[dict] = Field(max_length=100_000)


class ClockIn(Strict):
    advance_seconds: float | None = None
    now: datetime | None = None
    frozen: bool = False
    reset: bool = False


class LifecycleIn(Strict):
    lifecycleEvent: Literal["reauthorizationRequired", "subscriptionRemoved", "missed"]  # noqa: N815


class ConfigIn(Strict):
    graph_max_subscription_minutes: int | None = Field(None, ge=1, le=100_000)
    google_max_channel_seconds: int | None = Field(None, ge=1)
    access_token_ttl: int | None = Field(None, ge=1)


class EndpointHealthIn(Strict):
    """Graph's slow-endpoint thresholds (endpoint_health.py); `reset` forgets every count."""

    slow_ms: float | None = Field(None, ge=0)
    min_notifications: int | None = Field(None, ge=1)
    delay_share: float | None = Field(None, ge=0, le=1)
    drop_share: float | None = Field(None, ge=0, le=1)
    delay_seconds: float | None = Field(None, ge=0)
    reset: bool = False

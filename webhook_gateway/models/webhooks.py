"""Provider notification bodies (Graph) and the gateway's acknowledgement.

Google sends no body: its notification is in the X-Goog-* headers, documented on the route.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _GraphItem(BaseModel):
    # Graph adds properties over time; unknown ones are ignored, not rejected.
    model_config = ConfigDict(extra="ignore")

    subscriptionId: str = Field(min_length=1, max_length=256)  # noqa: N815 - Graph's names
    clientState: str | None = Field(None, max_length=256)  # noqa: N815
    subscriptionExpirationDateTime: str | None = Field(None, max_length=64)  # noqa: N815
    tenantId: str | None = Field(None, max_length=128)  # noqa: N815


class GraphChangeNotification(_GraphItem):
    changeType: str | None = Field(None, max_length=64)  # noqa: N815
    resource: str | None = Field(None, max_length=2048)
    resourceData: dict | None = None  # noqa: N815


class GraphNotificationBatch(BaseModel):
    """POST /webhooks/microsoft: one or more change notifications (several subscriptions may share one POST)."""

    value: list[GraphChangeNotification] = Field(min_length=1, max_length=1000)


class GraphLifecycleNotification(_GraphItem):
    lifecycleEvent: str = Field(  # noqa: N815
        min_length=1, max_length=64, examples=["reauthorizationRequired", "subscriptionRemoved", "missed"]
    )


class GraphLifecycleBatch(BaseModel):
    """POST /webhooks/microsoft/lifecycle."""

    value: list[GraphLifecycleNotification] = Field(min_length=1, max_length=1000)


class WebhookAck(BaseModel):
    """Sent only after the accepted notifications were committed to the change queue."""

    status: Literal["accepted"]
    enqueued: int = Field(description="change-queue rows written for this request")
    rejected: int = Field(0, description="items of a Graph batch that failed verification")

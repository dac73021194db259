"""The calendar providers as Dagster resources: configuration in the UI, a core client per run.

Assets type-hint `CalendarResource` and call `client()` for the `CalendarProvider` the sync engine
and the watch service speak; the Google and Outlook resources are interchangeable behind it. Each
resource's fields are its client's fields (tests/orchestration checks they stay the same), so a
value set here reaches the client unchanged and the client validates it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import dagster as dg
from pydantic import BaseModel, Field

from smvue_core.providers.base import CalendarProvider
from smvue_core.providers.factory import google_client_fields, outlook_client_fields
from smvue_core.providers.google.client import PAGE_SIZE, GoogleCalendarClient
from smvue_core.providers.outlook.client import DELTA_PAGE_SIZE, OutlookCalendarClient
from smvue_core.settings import GOOGLE_AUTH_BASE, GRAPH_API_BASE, MS_AUTHORITY, Settings
from smvue_pipeline.resources.secrets import env_secret


class CalendarResource(dg.ConfigurableResource, ABC):
    """One calendar provider: its OAuth client and session factory, built from this config."""

    client_id: str
    client_secret: str
    request_timeout_seconds: float = 30.0
    max_attempts: int = 6
    retry_base_seconds: float = Field(0.5, description="backoff base when no Retry-After is given")
    retry_cap_seconds: float = Field(30.0, description="longest backoff between two attempts")
    max_retry_after_seconds: float = Field(
        120.0, description="longest Retry-After sat through inside a run; beyond it the run reports"
    )

    @abstractmethod
    def client(self) -> CalendarProvider:
        """The core client, configured with this resource's fields."""

    def _fields_for(self, client_class: type[BaseModel]) -> dict:
        # Inside a run Dagster has resolved every EnvVar; outside one (the demo, tests) resolve here.
        values = {name: getattr(self, name) for name in client_class.model_fields}
        return {name: _resolved(value) for name, value in values.items()}


class GoogleCalendarResource(CalendarResource):
    """Google Calendar v3 and Google OAuth (`GoogleCalendarClient`)."""

    api_base: str = Field(description="Calendar API root, ending in /calendar/v3/")
    auth_base: str = Field(default=GOOGLE_AUTH_BASE, description="OAuth root: <base>v2/auth, token, revoke")
    page_size: int = Field(PAGE_SIZE, ge=1, le=2500, description="events.list maxResults")

    def client(self) -> GoogleCalendarClient:
        return GoogleCalendarClient(**self._fields_for(GoogleCalendarClient))


class OutlookCalendarResource(CalendarResource):
    """Microsoft Graph calendars and the Microsoft identity platform (`OutlookCalendarClient`)."""

    api_base: str = Field(default=GRAPH_API_BASE, description="Graph root, ending in /v1.0/")
    authority: str = Field(
        default=MS_AUTHORITY, description="https://login.microsoftonline.com/<tenant>, or the emulator's"
    )
    delta_page_size: int = Field(
        DELTA_PAGE_SIZE, ge=1, le=1000, description="Prefer: odata.maxpagesize on delta"
    )

    def client(self) -> OutlookCalendarClient:
        return OutlookCalendarClient(**self._fields_for(OutlookCalendarClient))


def _resolved(value):
    return value.get_value() if isinstance(value, dg.EnvVar) else value


def calendar_resources(
    settings: Settings, google: dict | None = None, microsoft: dict | None = None
) -> dict[str, CalendarResource]:
    """The `google_calendar` and `outlook_calendar` resources from Settings; `google` / `microsoft`
    add fields (page sizes, retry timing), as `factory.calendar_providers` does for the clients."""
    return {
        "google_calendar": GoogleCalendarResource(
            **{**google_client_fields(settings, secret=env_secret), **(google or {})}
        ),
        "outlook_calendar": OutlookCalendarResource(
            **{**outlook_client_fields(settings, secret=env_secret), **(microsoft or {})}
        ),
    }

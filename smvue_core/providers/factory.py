"""Both provider clients, configured from Settings: the one place that knows their constructors."""

from __future__ import annotations

from collections.abc import Callable

from smvue_core.providers.base import CalendarProvider
from smvue_core.providers.google.client import GoogleCalendarClient
from smvue_core.providers.outlook.client import OutlookCalendarClient
from smvue_core.settings import Settings


def calendar_providers(
    settings: Settings,
    google: dict | None = None,
    microsoft: dict | None = None,
    secret: Callable[[str, str], object] = lambda name, default: default,
) -> dict[str, CalendarProvider]:
    """{"google": ..., "microsoft": ...}. `google` / `microsoft` add client fields (page sizes,
    retry timing); `secret(env_name, default)` lets Dagster bindings show secrets as EnvVars."""
    return {
        "google": GoogleCalendarClient(
            api_base=settings.google_api_base,
            auth_base=settings.google_auth_base,
            client_id=settings.google_client_id,
            client_secret=secret("SMVUE_GOOGLE_CLIENT_SECRET", settings.google_client_secret),
            **(google or {}),
        ),
        "microsoft": OutlookCalendarClient(
            api_base=settings.graph_api_base,
            authority=settings.ms_authority,
            client_id=settings.ms_client_id,
            client_secret=secret("SMVUE_MS_CLIENT_SECRET", settings.ms_client_secret),
            **(microsoft or {}),
        ),
    }

"""Both provider clients, configured from Settings: the one place that maps Settings onto their fields."""

from __future__ import annotations

from collections.abc import Callable

from smvue_core.providers.base import CalendarProvider
from smvue_core.providers.google.client import GoogleCalendarClient
from smvue_core.providers.outlook.client import OutlookCalendarClient
from smvue_core.settings import Settings

# secret(env_name, value) -> what the field gets; the Dagster layer shows set secrets by name only.
SecretField = Callable[[str, str], object]


def _plain(name: str, value: str) -> str:
    return value


def google_client_fields(settings: Settings, secret: SecretField = _plain) -> dict:
    """GoogleCalendarClient's fields that come from Settings (the rest keep their defaults)."""
    return {
        "api_base": settings.google_api_base,
        "auth_base": settings.google_auth_base,
        "client_id": settings.google_client_id,
        "client_secret": secret("SMVUE_GOOGLE_CLIENT_SECRET", settings.google_client_secret),
    }


def outlook_client_fields(settings: Settings, secret: SecretField = _plain) -> dict:
    """OutlookCalendarClient's fields that come from Settings (the rest keep their defaults)."""
    return {
        "api_base": settings.graph_api_base,
        "authority": settings.ms_authority,
        "client_id": settings.ms_client_id,
        "client_secret": secret("SMVUE_MS_CLIENT_SECRET", settings.ms_client_secret),
    }


def calendar_providers(
    settings: Settings, google: dict | None = None, microsoft: dict | None = None
) -> dict[str, CalendarProvider]:
    """{"google": ..., "microsoft": ...}. `google` / `microsoft` add client fields (page sizes,
    retry timing)."""
    return {
        "google": GoogleCalendarClient(**{**google_client_fields(settings), **(google or {})}),
        "microsoft": OutlookCalendarClient(**{**outlook_client_fields(settings), **(microsoft or {})}),
    }

"""Every resource, bound once from the environment (CONTRACT.md "Configuration")."""

from __future__ import annotations

import os

import dagster as dg

from smvue_pipeline.providers.google.client import GoogleCalendarClient
from smvue_pipeline.providers.outlook.client import OutlookCalendarClient
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource
from smvue_pipeline.settings import Settings


def _secret(name: str, default: str):
    """Secrets set in the environment show in the Dagster UI by name only; the built-in defaults are
    the emulator's public development credentials."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources(settings: Settings | None = None) -> dict:
    settings = settings or Settings.from_env()
    return {
        "warehouse": WarehouseResource(
            path=str(settings.warehouse_path),
            published_path=str(settings.published_path),
            encryption_key=_secret("SMVUE_WAREHOUSE_KEY", None) if settings.warehouse_key else None,
        ),
        "opstore": OperationalStoreResource(path=str(settings.opstore_path)),
        "google_calendar": GoogleCalendarClient(
            api_base=settings.google_api_base,
            auth_base=settings.google_auth_base,
            client_id=settings.google_client_id,
            client_secret=_secret("SMVUE_GOOGLE_CLIENT_SECRET", settings.google_client_secret),
        ),
        "outlook_calendar": OutlookCalendarClient(
            api_base=settings.graph_api_base,
            authority=settings.ms_authority,
            client_id=settings.ms_client_id,
            client_secret=_secret("SMVUE_MS_CLIENT_SECRET", settings.ms_client_secret),
        ),
    }

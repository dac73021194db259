"""Every resource, bound once from the environment (CONTRACT.md "Configuration")."""

from __future__ import annotations

import os

import dagster as dg

from smvue_core.providers.factory import calendar_providers
from smvue_core.settings import Settings
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource


def _secret(name: str, default: str):
    """Secrets set in the environment show in the Dagster UI by name only; the built-in defaults are
    the emulator's public development credentials."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources(settings: Settings | None = None) -> dict:
    settings = settings or Settings.from_env()
    providers = calendar_providers(settings, secret=_secret)
    return {
        "warehouse": WarehouseResource(
            path=str(settings.warehouse_path),
            published_path=str(settings.published_path),
            encryption_key=_secret("SMVUE_WAREHOUSE_KEY", None) if settings.warehouse_key else None,
        ),
        # A database URL may carry a password: the UI shows it by its variable's name only.
        "opstore": OperationalStoreResource(
            path=dg.EnvVar("SMVUE_DATABASE_URL") if settings.database_url else str(settings.opstore_path)
        ),
        "google_calendar": providers["google"],
        "outlook_calendar": providers["microsoft"],
    }

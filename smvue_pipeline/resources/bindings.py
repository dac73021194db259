"""Every resource, bound once from the environment (CONTRACT.md "Configuration")."""

from __future__ import annotations

import dagster as dg

from smvue_core.settings import Settings
from smvue_pipeline.resources.calendars import calendar_resources
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.secrets import env_secret
from smvue_pipeline.resources.warehouse import WarehouseResource


def build_resources(
    settings: Settings | None = None, google: dict | None = None, microsoft: dict | None = None
) -> dict:
    """`google` / `microsoft` add calendar client fields (page sizes, retry timing) for tests and benches."""
    settings = settings or Settings.from_env()
    return {
        "warehouse": WarehouseResource(
            path=str(settings.warehouse_path),
            published_path=str(settings.published_path),
            encryption_key=env_secret("SMVUE_WAREHOUSE_KEY", None) if settings.warehouse_key else None,
        ),
        # A database URL may carry a password: the UI shows it by its variable's name only.
        "opstore": OperationalStoreResource(
            path=dg.EnvVar("SMVUE_DATABASE_URL") if settings.database_url else str(settings.opstore_path)
        ),
        **calendar_resources(settings, google=google, microsoft=microsoft),
    }

"""The cadence code location: the dbt marts, Up Next, coaching briefs, reminders and the dashboard.

They follow the hot path (smvue_pipeline/hot_path.py, the other code location; workspace.yaml
loads both): cadence_sensor launches cadence_job after sync_calendars_job runs succeed, coalesced.
The hot path's assets are this location's upstream by key, so the UI draws one lineage graph.
`build_pipeline_defs` is both locations in one Definitions, for running the whole pipeline in
one process (tests, benches).

Importing this module reads the environment and sets the process umask to 077 (every Dagster
process loads it before writing: the code server, and each run); no file or network I/O happens
until a run (the dbt assets read dbt_cadence/target/manifest.json, which `make` prepares).
"""

import dagster as dg

from smvue_core.security.files import owner_only_umask
from smvue_core.settings import Settings
from smvue_pipeline.assets.app_tables import app_reminder_tables
from smvue_pipeline.assets.dashboard import cadence_dashboard
from smvue_pipeline.assets.reminders import prep_reminders
from smvue_pipeline.cadence_jobs import cadence_job, cadence_reconcile_job
from smvue_pipeline.ops.reminders import deliver_prep_reminders_job
from smvue_pipeline.resources.bindings import build_resources
from smvue_pipeline.resources.dashboard import DashboardResource
from smvue_pipeline.resources.reminder_webhook import WEBHOOK_ENV, ReminderWebhookResource
from smvue_pipeline.resources.secrets import env_secret
from smvue_pipeline.sensors.cadence import cadence_sensor
from smvue_pipeline.sensors.reminders import prep_reminder_sensor
from smvue_pipeline.timings import mark_code_loaded

LOCATION_NAME = "smvue_pipeline"


def cadence_definitions() -> tuple[list, dict]:
    """The dbt_cadence assets and their `dbt` resource."""
    from smvue_pipeline.assets.cadence import cadence_dbt_assets, dbt_resource

    return [cadence_dbt_assets], {"dbt": dbt_resource()}


def cadence_resources(settings: Settings, shared: dict) -> dict:
    """The shared resources (build_resources) plus the cadence lane's own."""
    return {
        **shared,
        # The URL may carry a secret (a Slack-style hook): the UI shows the variable's name only.
        "reminder_webhook": ReminderWebhookResource(url=env_secret(WEBHOOK_ENV, None)),
        "dashboard": DashboardResource(
            path=str(settings.home / "dashboard.html"),
            published_path=str(settings.published_path),
            encryption_key=shared["warehouse"].encryption_key,
        ),
    }


def build_defs(settings: Settings | None = None, resources: dict | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    # Runs write Dagster's storage and compute logs, the warehouse's temporaries and the dashboard
    # under SMVUE_HOME; owner-only even when a Dagster process was not started by `smvue`.
    owner_only_umask()
    cadence_assets, dbt = cadence_definitions()
    shared = resources if resources is not None else build_resources(settings)
    return dg.Definitions(
        assets=[app_reminder_tables, *cadence_assets, prep_reminders, cadence_dashboard],
        jobs=[cadence_job, cadence_reconcile_job, deliver_prep_reminders_job],
        sensors=[cadence_sensor, prep_reminder_sensor],
        resources={**cadence_resources(settings, shared), **dbt},
    )


def build_pipeline_defs(settings: Settings | None = None) -> dg.Definitions:
    """Both code locations in one Definitions (same resources): the whole pipeline in process."""
    from smvue_pipeline.hot_path import build_hot_path_defs

    settings = settings or Settings.from_env()
    shared = build_resources(settings)
    return dg.Definitions.merge(build_hot_path_defs(settings, shared), build_defs(settings, shared))


defs = build_defs()
mark_code_loaded()

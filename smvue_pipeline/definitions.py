"""The Dagster code location: every asset, check, job, sensor, schedule and resource of SMVue.

Importing this module reads the environment and sets the process umask to 077 (every Dagster
process loads it before writing: the code server, and each run); no file or network I/O happens
until a run (the dbt assets read dbt_cadence/target/manifest.json, which `make` prepares).
"""

import dagster as dg

from smvue_core.security.files import owner_only_umask
from smvue_core.settings import Settings
from smvue_pipeline.assets.app_tables import app_tables
from smvue_pipeline.assets.dashboard import cadence_dashboard
from smvue_pipeline.assets.meeting_backflow import meeting_backflow, no_failed_writebacks
from smvue_pipeline.assets.one_on_ones import one_on_one_meetings
from smvue_pipeline.assets.raw_events import raw_calendar_events
from smvue_pipeline.assets.reminders import prep_reminders
from smvue_pipeline.jobs import deliver_prep_reminders_job, sync_calendars_job
from smvue_pipeline.resources.bindings import build_resources
from smvue_pipeline.resources.dashboard import DashboardResource
from smvue_pipeline.resources.reminder_webhook import WEBHOOK_ENV, ReminderWebhookResource
from smvue_pipeline.resources.secrets import env_secret
from smvue_pipeline.schedules import reconcile_schedule, renew_watches_job, watch_renewal_schedule
from smvue_pipeline.sensors.change_queue import change_queue_sensor
from smvue_pipeline.sensors.reminders import prep_reminder_sensor


def cadence_definitions() -> tuple[list, dict]:
    """The dbt_cadence assets and their `dbt` resource."""
    from smvue_pipeline.assets.cadence import cadence_dbt_assets, dbt_resource

    return [cadence_dbt_assets], {"dbt": dbt_resource()}


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    # Runs write Dagster's storage and compute logs, the warehouse's temporaries and the dashboard
    # under SMVUE_HOME; owner-only even when a Dagster process was not started by `smvue`.
    owner_only_umask()
    cadence_assets, cadence_resources = cadence_definitions()
    resources = build_resources(settings)
    return dg.Definitions(
        assets=[
            raw_calendar_events,
            app_tables,
            meeting_backflow,
            one_on_one_meetings,
            *cadence_assets,
            prep_reminders,
            cadence_dashboard,
        ],
        asset_checks=[no_failed_writebacks],
        jobs=[sync_calendars_job, renew_watches_job, deliver_prep_reminders_job],
        sensors=[change_queue_sensor, prep_reminder_sensor],
        schedules=[reconcile_schedule, watch_renewal_schedule],
        resources={
            **resources,
            **cadence_resources,
            # The URL may carry a secret (a Slack-style hook): the UI shows the variable's name only.
            "reminder_webhook": ReminderWebhookResource(url=env_secret(WEBHOOK_ENV, None)),
            "dashboard": DashboardResource(
                path=str(settings.home / "dashboard.html"),
                published_path=str(settings.published_path),
                encryption_key=resources["warehouse"].encryption_key,
            ),
        },
    )


defs = build_defs()

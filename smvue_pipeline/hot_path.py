"""The hot-path code location: what a calendar change needs to become visible, and nothing more.

sync of the notified calendars → meeting backflow → the app mirrors 1:1 detection reads → 1:1s,
each step publishing the snapshot it committed (sync_calendars_job), launched by
change_queue_sensor; the hourly reconcile and the watch renewal run here too. No dbt and no
dagster-dbt: a hot-path run's process imports this module only (tests/test_definitions.py keeps it
so), which is seconds less than the cadence location (definitions.py), where the dbt marts,
reminders and the dashboard follow (cadence_sensor).

Importing this module reads the environment and sets the process umask to 077, like
definitions.py; no file or network I/O happens until a run.
"""

import dagster as dg

from smvue_core.security.files import owner_only_umask
from smvue_core.settings import Settings
from smvue_pipeline.assets.app_tables import app_tables
from smvue_pipeline.assets.meeting_backflow import meeting_backflow, no_failed_writebacks
from smvue_pipeline.assets.one_on_ones import one_on_one_meetings
from smvue_pipeline.assets.raw_events import raw_calendar_events
from smvue_pipeline.jobs import sync_calendars_job
from smvue_pipeline.resources.bindings import build_resources
from smvue_pipeline.schedules import reconcile_schedule, renew_watches_job, watch_renewal_schedule
from smvue_pipeline.sensors.change_queue import change_queue_sensor
from smvue_pipeline.timings import mark_code_loaded

LOCATION_NAME = "smvue_hot_path"
ASSETS = [raw_calendar_events, meeting_backflow, app_tables, one_on_one_meetings]


def build_hot_path_defs(settings: Settings | None = None, resources: dict | None = None) -> dg.Definitions:
    """The hot-path location; `resources` (build_resources) to share them with the other one."""
    settings = settings or Settings.from_env()
    # Runs write Dagster's storage and compute logs and the warehouse's temporaries under
    # SMVUE_HOME: owner-only even when a Dagster process was not started by `smvue`.
    owner_only_umask()
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=[no_failed_writebacks],
        jobs=[sync_calendars_job, renew_watches_job],
        sensors=[change_queue_sensor],
        schedules=[reconcile_schedule, watch_renewal_schedule],
        resources=resources if resources is not None else build_resources(settings),
    )


defs = build_hot_path_defs()
mark_code_loaded()

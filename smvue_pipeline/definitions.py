"""The Dagster code location: every asset, check, job, sensor, schedule and resource of SMVue.

Importing this module reads the environment only; no file or network I/O happens until a run.
"""

import dagster as dg

from smvue_pipeline.assets.app_tables import app_tables
from smvue_pipeline.assets.meeting_backflow import meeting_backflow, no_failed_writebacks
from smvue_pipeline.assets.raw_events import raw_calendar_events
from smvue_pipeline.jobs import sync_calendars_job
from smvue_pipeline.resources.bindings import build_resources
from smvue_pipeline.schedules import reconcile_schedule, renew_watches_job, watch_renewal_schedule
from smvue_pipeline.sensors.change_queue import change_queue_sensor
from smvue_pipeline.settings import Settings


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[raw_calendar_events, app_tables, meeting_backflow],
        asset_checks=[no_failed_writebacks],
        jobs=[sync_calendars_job, renew_watches_job],
        sensors=[change_queue_sensor],
        schedules=[reconcile_schedule, watch_renewal_schedule],
        resources=build_resources(settings),
    )


defs = build_defs()

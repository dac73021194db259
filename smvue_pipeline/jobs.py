"""Jobs: what a sync run materializes, in one process (launching costs seconds; steps do not)."""

import dagster as dg

from smvue_pipeline.assets.app_tables import APP_KEYS
from smvue_pipeline.assets.meeting_backflow import MEETING_BACKFLOW
from smvue_pipeline.assets.raw_events import RAW_EVENTS

sync_calendars_job = dg.define_asset_job(
    "sync_calendars_job",
    selection=dg.AssetSelection.assets(RAW_EVENTS, MEETING_BACKFLOW, *APP_KEYS.values()),
    description="Sync the given calendars (or all) into raw.calendar_events and refresh the app mirrors.",
    executor_def=dg.in_process_executor,
)

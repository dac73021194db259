"""The hot path's job: what a calendar change needs to become visible, in one light process.

sync_calendars_job: raw events → meeting backflow → the app mirrors 1:1 detection reads → 1:1s.
Every warehouse-writing step publishes the snapshot when it commits. Its run loads only the
hot-path code location (smvue_pipeline/hot_path.py: no dbt, no dagster-dbt); the cadence marts,
reminders and the dashboard follow in cadence_job, in the other location (cadence_jobs.py).
"""

import dagster as dg

from smvue_pipeline.assets.app_tables import APP_KEYS, HOT_PATH_MIRRORS
from smvue_pipeline.assets.meeting_backflow import MEETING_BACKFLOW
from smvue_pipeline.assets.one_on_ones import CLASSIFICATIONS, ONE_ON_ONES
from smvue_pipeline.assets.raw_events import RAW_EVENTS

HOT_PATH_LANE = "hot_path"
LANE_TAG = "smvue/lane"
# Hot-path runs go first in the run queue and for the warehouse pool's slot (cadence runs: 0).
HOT_PATH_PRIORITY = "10"

sync_calendars_job = dg.define_asset_job(
    "sync_calendars_job",
    selection=dg.AssetSelection.assets(
        RAW_EVENTS,
        MEETING_BACKFLOW,
        *(APP_KEYS[name] for name in HOT_PATH_MIRRORS),
        ONE_ON_ONES,
        CLASSIFICATIONS,
    ),
    description=(
        "The hot path: sync the given calendars (or all) into raw.calendar_events, flow calendar moves "
        "back to SMVue meetings, refresh the mirrors 1:1 detection reads and find the 1:1s. "
        "cadence_job follows (cadence_sensor)."
    ),
    tags={LANE_TAG: HOT_PATH_LANE, "dagster/priority": HOT_PATH_PRIORITY},
    executor_def=dg.in_process_executor,
)

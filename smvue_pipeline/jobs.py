"""Jobs: what a sync run materializes, in one process (launching costs seconds; steps do not).

sync_calendars_job: raw events → meeting backflow → app mirrors → 1:1s → dbt cadence marts →
prep reminders → dashboard. Every warehouse-writing step publishes the snapshot when it commits,
so readers see new 1:1s before dbt has finished.
"""

import dagster as dg

from smvue_pipeline.assets.app_tables import APP_KEYS
from smvue_pipeline.assets.dashboard import CADENCE_DASHBOARD
from smvue_pipeline.assets.meeting_backflow import MEETING_BACKFLOW
from smvue_pipeline.assets.one_on_ones import CLASSIFICATIONS, ONE_ON_ONES
from smvue_pipeline.assets.raw_events import RAW_EVENTS
from smvue_pipeline.assets.reminders import PREP_REMINDERS
from smvue_pipeline.ops.reminders import deliver_prep_reminders_job

# The dbt_cadence assets by group, so this module loads even where the dbt manifest is missing.
CADENCE_GROUP = "cadence"

sync_calendars_job = dg.define_asset_job(
    "sync_calendars_job",
    selection=(
        dg.AssetSelection.assets(
            RAW_EVENTS,
            MEETING_BACKFLOW,
            *APP_KEYS.values(),
            ONE_ON_ONES,
            CLASSIFICATIONS,
            PREP_REMINDERS,
            CADENCE_DASHBOARD,
        )
        | dg.AssetSelection.groups(CADENCE_GROUP)
    ),
    description=(
        "Sync the given calendars (or all) into raw.calendar_events, refresh the app mirrors, find the "
        "1:1s, rebuild the cadence marts, plan prep reminders and rebuild the dashboard."
    ),
    executor_def=dg.in_process_executor,
)

__all__ = ["deliver_prep_reminders_job", "sync_calendars_job"]

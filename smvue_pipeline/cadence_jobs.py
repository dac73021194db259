"""The cadence lane's jobs: the dbt marts, Up Next, coaching briefs, reminders and the dashboard.

They follow the hot path (sensors/cadence.py launches them after sync_calendars_job succeeds) and
live in the cadence code location (definitions.py), so a hot-path run never loads dbt.

cadence_job, after every hot-path run: the models and seeds, the dbt tests that guard the published
tables' keys (assets/cadence.py `published_key_checks`) and the Python assets' own checks.
cadence_reconcile_job, after the hourly reconcile: the same with the full dbt test suite.
"""

import dagster as dg

from smvue_pipeline.assets.app_tables import APP_KEYS, CADENCE_MIRRORS
from smvue_pipeline.assets.cadence import CADENCE_GROUP, published_key_checks
from smvue_pipeline.assets.dashboard import CADENCE_DASHBOARD
from smvue_pipeline.assets.reminders import PREP_REMINDERS
from smvue_pipeline.jobs import LANE_TAG

CADENCE_LANE = "cadence"
# Below the hot path's (jobs.py): a waiting hot-path run takes the warehouse slot first.
CADENCE_PRIORITY = "0"
PYTHON_ASSET_KEYS = [*(APP_KEYS[name] for name in CADENCE_MIRRORS), PREP_REMINDERS, CADENCE_DASHBOARD]
PYTHON_ASSETS = dg.AssetSelection.assets(*PYTHON_ASSET_KEYS)
CADENCE_ASSETS = dg.AssetSelection.groups(CADENCE_GROUP) | PYTHON_ASSETS
TAGS = {LANE_TAG: CADENCE_LANE, "dagster/priority": CADENCE_PRIORITY}

cadence_job = dg.define_asset_job(
    "cadence_job",
    selection=(
        CADENCE_ASSETS.without_checks()
        | dg.AssetSelection.checks(*published_key_checks())
        | dg.AssetSelection.checks_for_assets(*PYTHON_ASSET_KEYS)
    ),
    description=(
        "After the hot path: rebuild the cadence marts (models, seeds and the dbt tests on the published "
        "tables' keys), plan prep reminders and rebuild the dashboard."
    ),
    tags=TAGS,
    executor_def=dg.in_process_executor,
)

cadence_reconcile_job = dg.define_asset_job(
    "cadence_reconcile_job",
    selection=CADENCE_ASSETS,
    description="cadence_job with the full dbt test suite, after the hourly reconcile sync.",
    tags=TAGS,
    executor_def=dg.in_process_executor,
)

CADENCE_JOBS = (cadence_job.name, cadence_reconcile_job.name)

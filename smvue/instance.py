"""The Dagster instance under $SMVUE_HOME/dagster: one warehouse writer at a time (a pool of 1)."""

from __future__ import annotations

from pathlib import Path

from smvue_core.security.files import private_dir
from smvue_core.settings import Settings

DAGSTER_YAML = """\
# Written by smvue; edit freely, it is only created when missing.
concurrency:
  pools:
    # Only one step at a time may hold the DuckDB warehouse (it allows one writing process).
    default_limit: 1
    # One run may start while another holds the warehouse: its process spawns and imports the
    # code location (seconds) during the other's dbt step, then waits for the slot per step.
    op_granularity_run_buffer: 1
  runs:
    max_concurrent_runs: 4
    # The cadence lane (smvue_pipeline/sensors/cadence.py): one run executes, the next waits queued.
    tag_concurrency_limits:
      - key: smvue/lane
        value: cadence
        limit: 1
run_queue:
  # A queued run waits for the next dequeue pass; the default 5 s is a third of the 15 s budget
  # from webhook to analytics.one_on_one_meetings. A pass is one small SQLite query.
  dequeue_interval_seconds: 1
telemetry:
  enabled: false
nux:
  # No "join the community" dialog over the operator's console.
  enabled: false
"""


def ensure_dagster_home(settings: Settings) -> Path:
    # Dagster's event log and run storage hold asset metadata and captured output: owner-only.
    private_dir(settings.home)
    home = private_dir(settings.dagster_home)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home

"""The Dagster instance under $SMVUE_HOME/dagster: one warehouse writer at a time (a pool of 1).

With SMVUE_DATABASE_URL set, the instance's run, event-log and schedule storage go to the same
PostgreSQL server, in a schema of their own (`dagster`), through dagster-postgres: the URL itself
is never written into dagster.yaml, which names the variable `smvue up` sets for its children
(SMVUE_DAGSTER_DATABASE_URL, the store's URL with the schema as its search path).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

DAGSTER_SCHEMA = "dagster"
DAGSTER_URL_VARIABLE = "SMVUE_DAGSTER_DATABASE_URL"
POSTGRES_STORAGE_YAML = f"""\
storage:
  # Runs, event logs and schedules on PostgreSQL (SMVUE_DATABASE_URL's server, schema
  # {DAGSTER_SCHEMA}); `smvue up` sets {DAGSTER_URL_VARIABLE}.
  postgres:
    postgres_url:
      env: {DAGSTER_URL_VARIABLE}
"""


# What smvue wrote before the cadence lane had its limit: still "one smvue wrote", so a home made
# then is brought up to date instead of running cadence without the lane's limit.
_LANE_LIMIT = """\
    # The cadence lane (smvue_pipeline/sensors/cadence.py): one run executes, the next waits queued.
    tag_concurrency_limits:
      - key: smvue/lane
        value: cadence
        limit: 1
"""
EARLIER_DAGSTER_YAML = DAGSTER_YAML.replace(_LANE_LIMIT, "")


def dagster_yaml(settings: Settings) -> str:
    return DAGSTER_YAML + (POSTGRES_STORAGE_YAML if settings.database_url else "")


def dagster_database_url(database_url: str) -> str:
    """The store's URL with Dagster's schema first on the search path (a libpq option)."""
    parts = urlsplit(database_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={DAGSTER_SCHEMA}"))
    # dagster-postgres speaks psycopg2: SQLAlchemy would pick psycopg 3 for a bare postgresql://.
    return urlunsplit(parts._replace(scheme="postgresql+psycopg2", query=urlencode(query)))


def prepare_dagster_schema(database_url: str) -> None:
    """dagster-postgres creates its tables, not the schema they go in."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {DAGSTER_SCHEMA}")


def ensure_dagster_home(settings: Settings) -> Path:
    # Dagster's event log and run storage hold asset metadata and captured output: owner-only.
    private_dir(settings.home)
    home = private_dir(settings.dagster_home)
    config = home / "dagster.yaml"
    wanted = dagster_yaml(settings)
    # Created when missing; rewritten only while it is still one smvue wrote (the backend changed).
    generated = {
        base + storage
        for base in (DAGSTER_YAML, EARLIER_DAGSTER_YAML)
        for storage in ("", POSTGRES_STORAGE_YAML)
    }
    if not config.exists() or (config.read_text() in generated and config.read_text() != wanted):
        config.write_text(wanted)
    return home

"""Cadence metrics, weekly series, Up Next and coaching briefs: the dbt_cadence project as assets.

dbt reads `analytics.one_on_one_meetings` and the `app.*` mirrors (their Python assets share the
source keys, so the lineage is one graph) and writes the `analytics` marts. Each run builds the
whole project (models, seeds, data tests; unit tests run in CI) and then republishes the
readers' snapshot.

The asset definitions are built from `dbt_cadence/target/manifest.json`, which the composition
root prepares (`make` when the project changes, `smvue up` when it is missing, the tests'
conftest; see `cadence_project`): importing this module reads project files and runs nothing. A run tells
dbt where the warehouse is with `--vars` (profiles.yml reads them), never through os.environ.
"""

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from smvue_core.settings import Settings
from smvue_core.warehouse.database import extension_directory, publish
from smvue_pipeline.assets.cadence_project import cadence_project, dbt_resource
from smvue_pipeline.assets.raw_events import WAREHOUSE_POOL

__all__ = ["cadence_dbt_assets", "dbt_resource"]  # dbt_resource: the `dbt` resource they run with

CADENCE_GROUP = "cadence"
OWNER = "team:smvue-data"

# dbt source (source name, table) -> the key of the Python asset that writes it.
SOURCE_ASSET_KEYS: Mapping[tuple[str, str], dg.AssetKey] = {
    ("analytics", "one_on_one_meetings"): dg.AssetKey("one_on_one_meetings"),
    ("app", "managers"): dg.AssetKey("app_managers"),
    ("app", "team_members"): dg.AssetKey("app_team_members"),
    ("app", "prep_reminders"): dg.AssetKey("app_prep_reminders"),
}

# Unit tests check the SQL against fixed fixtures, so they cannot fail on new data: CI runs them
# (tests/cadence), and pipeline runs skip their ~2 s, as dbt recommends for production builds.
BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]

# Statuses age with the clock (an on-track pair turns due without any new event), so the marts
# must be rebuilt at least daily even when no calendar changes.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=12)
)


class CadenceTranslator(DagsterDbtTranslator):
    """dbt sources take the keys of the Python assets that write them; models and seeds are keyed
    by their name alone (`cadence_metrics`), like the project's other assets; every dbt node is in
    the `cadence` group, owned by the data team, described by its dbt description; the marts carry
    a freshness policy."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            source = (dbt_resource_props["source_name"], dbt_resource_props["name"])
            if source in SOURCE_ASSET_KEYS:
                return SOURCE_ASSET_KEYS[source]
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return CADENCE_GROUP

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None):
        # The same owner as the project's Python assets, so the UI's owner filter finds them all.
        spec = super().get_asset_spec(manifest, unique_id, project).replace_attributes(owners=[OWNER])
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model" and "marts" in props.get("fqn", []):
            return spec.replace_attributes(freshness_policy=MARTS_FRESHNESS)
        return spec


class CadenceRunConfig(dg.Config):
    """Optional run settings; by default "now" is the run's start and Up Next looks 7 days ahead."""

    as_of: str | None = Field(None, description="ISO timestamp to measure cadence at (UTC if no offset)")
    lookahead_days: int | None = Field(None, description="Up Next horizon in days (default 7)")

    def dbt_vars(self) -> dict[str, Any]:
        values = {"as_of": self.as_of, "lookahead_days": self.lookahead_days}
        return {name: value for name, value in values.items() if value is not None}


def warehouse_vars(settings: Settings) -> dict[str, str]:
    """The dbt vars profiles.yml reads the warehouse from. dbt runs in dbt_cadence/, so the path is
    absolute; an encrypted warehouse needs the packaged httpfs extension's directory. The key is
    not a var (a command line is not secret): profiles.yml reads SMVUE_WAREHOUSE_KEY, which is in
    the run's environment already, where Settings found it. dagster-dbt hands the same --vars to
    dbt and to the adapter it opens in this process for the row counts."""
    values = {"smvue_warehouse": str(Path(settings.warehouse_path).resolve())}
    if settings.warehouse_key:
        values["smvue_duckdb_extension_dir"] = extension_directory()
    return values


def build_args(settings: Settings, config: CadenceRunConfig) -> list[str]:
    """`dbt build` over the whole project with one --vars: where the warehouse is, and the run's settings."""
    return [*BUILD_ARGS, "--vars", json.dumps({**warehouse_vars(settings), **config.dbt_vars()})]


def keep_parse_cache(run_target: Path) -> None:
    """Carry a run's dbt parse cache into dbt_cadence/target, where dagster-dbt seeds the next run
    from. The cache is valid only for the same profile and vars, which `make`'s parse does not
    share with runs, so without this every run parses from scratch (~1 s of the recompute)."""
    cache_file = run_target / "partial_parse.msgpack"
    if not cache_file.exists():
        return
    project = cadence_project()
    destination = project.project_dir / project.target_path / cache_file.name
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(cache_file, staging)
    os.replace(staging, destination)


def _manifest_path() -> Path:
    """The manifest the asset definitions are built from, prepared before Dagster loads them."""
    manifest = cadence_project().manifest_path
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest} is missing: `make dbt_cadence/target/manifest.json` or `smvue up` runs dbt parse"
        )
    return manifest


@dbt_assets(
    manifest=_manifest_path(),
    project=cadence_project(),
    dagster_dbt_translator=CadenceTranslator(),
    pool=WAREHOUSE_POOL,
    name="cadence_dbt_assets",
)
def cadence_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: CadenceRunConfig):
    """Build dbt_cadence (models, seeds, data tests), then republish the snapshot."""
    settings = Settings.from_env()
    # A throwaway target folder: dagster-dbt would otherwise leave one folder per run under
    # dbt_cadence/target, forever. dbt's output is in the run's compute logs.
    with tempfile.TemporaryDirectory(prefix="dbt_cadence-") as target_dir:
        invocation = dbt.cli(build_args(settings, config), context=context, target_path=Path(target_dir))
        try:
            # Raises when dbt fails (a model or a data test): the snapshot then stays the last good one.
            yield from invocation.stream().fetch_row_counts()
        finally:
            close_adapter(invocation)
        keep_parse_cache(Path(target_dir))
    publish(settings.warehouse_path, settings.published_path)
    observation = cadence_observation(settings)
    if observation is not None:
        yield observation


CADENCE_STATUSES = ("on_track", "due", "overdue", "never_met")


def cadence_observation(settings: Settings) -> dg.AssetObservation | None:
    """Pairs per cadence status (the UI plots them over time) and a preview of the pairs needing
    attention, read from the snapshot just published (no warehouse lock). A KPI that cannot be
    read is a log line, never a failed run."""
    from smvue_core.warehouse.database import open_database
    from smvue_pipeline.assets.previews import preview_table

    try:
        con = open_database(settings.published_path, settings.warehouse_key, read_only=True)
        try:
            counts = dict(
                con.execute(
                    "SELECT cadence_status, count(*) FROM analytics.cadence_metrics GROUP BY ALL"
                ).fetchall()
            )
            head = con.execute(
                """SELECT manager_id, rep_id, cadence_status, days_since_last_held, suggested_interval_days,
                          held_last_30d, strftime(next_scheduled_at, '%Y-%m-%d %H:%M') AS next_scheduled_utc
                   FROM analytics.cadence_metrics
                   ORDER BY CASE cadence_status WHEN 'overdue' THEN 0 WHEN 'due' THEN 1
                                                WHEN 'never_met' THEN 2 ELSE 3 END,
                            days_since_last_held DESC NULLS LAST, manager_id, rep_id
                   LIMIT 5"""
            )
            preview = preview_table(
                [d[0] for d in head.description], head.fetchall(), encrypted=bool(settings.warehouse_key)
            )
        finally:
            con.close()
    except Exception as exc:  # noqa: BLE001 - metadata only
        logging.getLogger(__name__).warning("cadence KPIs unavailable: %s", str(exc).splitlines()[0])
        return None
    return dg.AssetObservation(
        asset_key=dg.AssetKey("cadence_metrics"),
        metadata={
            **{f"pairs_{status}": dg.MetadataValue.int(counts.get(status, 0)) for status in CADENCE_STATUSES},
            "needing_attention": dg.MetadataValue.md(preview),
        },
    )


def close_adapter(invocation: DbtCliInvocation) -> None:
    """Close the warehouse the row counts opened read-only in this process: dbt-duckdb keeps its
    database open for the process (keep_open; closing per model would cost the build its cache),
    and later steps of the same run (prep_reminders) could not attach the file otherwise. Through
    dbt-duckdb's public calls: release the adapter's connections, close the environment, forget it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if invocation.adapter is None:  # dagster-dbt could not open one (it logged why)
        return
    invocation.adapter.cleanup_connections()
    try:
        environment = DuckDBConnectionManager.env()
    except Exception:  # noqa: BLE001 - dbt-duckdb's bare Exception: no database was opened
        return
    environment.close()
    DuckDBConnectionManager.close_all_connections()

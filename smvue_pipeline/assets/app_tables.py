"""`app.*` assets: the operational store mirrored into the warehouse (smvue_core/warehouse/mirrors.py
copies; this adapter gives each table its asset, its check and its metadata).
"""

import dagster as dg
import duckdb

from smvue_core.opstore.mirror import MirrorReader
from smvue_core.warehouse.mirrors import APP_TABLES, head, key_counts, mirror_tables, value_counts
from smvue_pipeline.assets.previews import preview_table
from smvue_pipeline.assets.raw_events import RAW_EVENTS, WAREHOUSE_POOL
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

APP_KEYS = {name: dg.AssetKey(f"app_{name}") for name in APP_TABLES}
# Labels users type: with the warehouse encrypted, their values stay out of the metadata keys too.
FREE_TEXT_COUNTS = {"meeting_type"}
MIRROR_CHECK = "matches_operational_store"
PREVIEW_ROWS = 5


def mirror_check(con: duckdb.DuckDBPyConnection, name: str, store_rows: int) -> dg.AssetCheckResult:
    """The copy is whole and keyed: as many rows as the store gave, no NULL or repeated key."""
    counts = key_counts(con, name)
    return dg.AssetCheckResult(
        asset_key=APP_KEYS[name],
        check_name=MIRROR_CHECK,
        passed=counts.matches(store_rows),
        metadata={
            "warehouse_rows": dg.MetadataValue.int(counts.rows),
            "operational_store_rows": dg.MetadataValue.int(store_rows),
            "duplicate_keys": dg.MetadataValue.int(counts.duplicate_keys),
            "null_keys": dg.MetadataValue.int(counts.null_keys),
        },
    )


def mirror_metadata(con: duckdb.DuckDBPyConnection, name: str, rows: int, encrypted: bool = False) -> dict:
    """Row count, a count per state (plotted over time) and a Markdown preview of the first rows
    (ids and states only when the warehouse is encrypted: assets/previews.py)."""
    counted = APP_TABLES[name].counted
    metadata: dict = {"dagster/row_count": dg.MetadataValue.int(rows)}
    if counted and not (encrypted and counted in FREE_TEXT_COUNTS):
        for value, count in value_counts(con, name):
            metadata[f"{counted}_{value}".lower().replace(" ", "_")] = dg.MetadataValue.int(count)
    columns, first = head(con, name, PREVIEW_ROWS)
    metadata["preview"] = dg.MetadataValue.md(preview_table(columns, first, encrypted=encrypted))
    return metadata


# The mirrors the hot path refreshes (what 1:1 detection reads); app.prep_reminders is the cadence
# lane's (the dbt marts read it, prep_reminders writes what it mirrors), in the other code location.
HOT_PATH_MIRRORS = ("connections", "managers", "team_members", "meetings", "annotations")
CADENCE_MIRRORS = tuple(name for name in APP_TABLES if name not in HOT_PATH_MIRRORS)


def build_app_tables(name: str, tables: tuple[str, ...]) -> dg.AssetsDefinition:
    """One multi-asset mirroring `tables` (each its own asset and check; subsettable)."""
    keys = {table: APP_KEYS[table] for table in tables}

    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                key,
                group_name="app",
                kinds={"duckdb", "sqlite"},
                owners=["team:smvue-data"],
                description=f"`app.{table}`: the gateway's {table.replace('_', ' ')}, mirrored from the operational store.",
                # Mirrored after a sync, so connection status and last-sync times are the run's own;
                # meetings after the calendar's moves and cancellations flowed back into them.
                deps=[RAW_EVENTS, *([dg.AssetKey("meeting_backflow")] if table == "meetings" else [])],
            )
            for table, key in keys.items()
        ],
        check_specs=[dg.AssetCheckSpec(MIRROR_CHECK, asset=key) for key in keys.values()],
        pool=WAREHOUSE_POOL,
        can_subset=True,
    )
    def mirror(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, opstore: OperationalStoreResource
    ):
        """Mirror the operational store into `app.*`, each table checked against what the store gave."""
        selected = {table for table, key in keys.items() if key in context.selected_asset_keys}
        checked = {key.asset_key for key in context.selected_asset_check_keys}
        with warehouse.writer() as con:
            counts = mirror_tables(con, MirrorReader(opstore.store), [t for t in tables if t in selected])
            results = {
                table: (
                    mirror_metadata(con, table, count, warehouse.encrypted),
                    mirror_check(con, table, count) if APP_KEYS[table] in checked else None,
                )
                for table, count in counts.items()
            }
        for table, (metadata, check) in results.items():
            yield dg.MaterializeResult(
                asset_key=APP_KEYS[table], metadata=metadata, check_results=[check] if check else None
            )

    return mirror


app_tables = build_app_tables("app_tables", HOT_PATH_MIRRORS)
app_reminder_tables = build_app_tables("app_reminder_tables", CADENCE_MIRRORS)

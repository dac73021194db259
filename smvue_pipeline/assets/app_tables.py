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


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name="app",
            kinds={"duckdb", "sqlite"},
            owners=["team:smvue-data"],
            description=f"`app.{name}`: the gateway's {name.replace('_', ' ')}, mirrored from the operational store.",
            # Mirrored after a sync, so connection status and last-sync times are the run's own;
            # meetings after the calendar's moves and cancellations flowed back into them.
            deps=[RAW_EVENTS, *([dg.AssetKey("meeting_backflow")] if name == "meetings" else [])],
        )
        for name, key in APP_KEYS.items()
    ],
    check_specs=[dg.AssetCheckSpec(MIRROR_CHECK, asset=key) for key in APP_KEYS.values()],
    pool=WAREHOUSE_POOL,
    can_subset=True,
)
def app_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, opstore: OperationalStoreResource
):
    """Mirror the operational store into `app.*`, each table checked against what the store gave."""
    selected = {name for name, key in APP_KEYS.items() if key in context.selected_asset_keys}
    checked = {key.asset_key for key in context.selected_asset_check_keys}
    with warehouse.writer() as con:
        counts = mirror_tables(con, MirrorReader(opstore.store), [n for n in APP_TABLES if n in selected])
        results = {
            name: (
                mirror_metadata(con, name, count, warehouse.encrypted),
                mirror_check(con, name, count) if APP_KEYS[name] in checked else None,
            )
            for name, count in counts.items()
        }
    for name, (metadata, check) in results.items():
        yield dg.MaterializeResult(
            asset_key=APP_KEYS[name], metadata=metadata, check_results=[check] if check else None
        )

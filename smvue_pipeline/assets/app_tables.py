"""`app.*`: the operational store mirrored into the warehouse, so dbt and analysts can join it.

The gateway owns these rows (connections, roster, meetings, annotations, reminders); the pipeline
copies them whole each run — they are small — in one transaction with the rest of its writes.
"""

import dagster as dg
import duckdb
import pyarrow as pa

from smvue_core.opstore import OpStore
from smvue_pipeline.assets.previews import preview_table
from smvue_pipeline.assets.raw_events import RAW_EVENTS, WAREHOUSE_POOL
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.warehouse import WarehouseResource

TS = "TIMESTAMPTZ"

# table -> (SELECT over the SQLite store, DuckDB column types)
MIRRORS: dict[str, tuple[str, dict[str, str]]] = {
    "connections": (
        "SELECT connection_id, manager_id, provider, account_email, status, last_synced_at, last_error, created_at, "
        "revoke_state FROM connections",
        {
            "connection_id": "VARCHAR",
            "manager_id": "VARCHAR",
            "provider": "VARCHAR",
            "account_email": "VARCHAR",
            "status": "VARCHAR",
            "last_synced_at": TS,
            "last_error": "VARCHAR",
            "created_at": TS,
            "revoke_state": "VARCHAR",  # a disconnect's token revoke: pending, revoked, given_up…
        },
    ),
    "managers": (
        "SELECT manager_id, name, email FROM managers",
        {"manager_id": "VARCHAR", "name": "VARCHAR", "email": "VARCHAR"},
    ),
    "team_members": (
        "SELECT rep_id, manager_id, name, email, start_date FROM team_members",
        {
            "rep_id": "VARCHAR",
            "manager_id": "VARCHAR",
            "name": "VARCHAR",
            "email": "VARCHAR",
            "start_date": "DATE",
        },
    ),
    "meetings": (
        "SELECT meeting_id, manager_id, rep_id, connection_id, calendar_id, start_at, end_at, title, meeting_type, "
        "status, writeback_state, writeback_error, provider_event_id, updated_at FROM meetings",
        {
            "meeting_id": "VARCHAR",
            "manager_id": "VARCHAR",
            "rep_id": "VARCHAR",
            "connection_id": "VARCHAR",
            "calendar_id": "VARCHAR",
            "start_at": TS,
            "end_at": TS,
            "title": "VARCHAR",
            "meeting_type": "VARCHAR",
            "status": "VARCHAR",
            "writeback_state": "VARCHAR",
            "writeback_error": "VARCHAR",
            "provider_event_id": "VARCHAR",
            "updated_at": TS,
        },
    ),
    "annotations": (
        "SELECT one_on_one_id, is_archived, meeting_type, updated_at FROM annotations",
        {"one_on_one_id": "VARCHAR", "is_archived": "BOOLEAN", "meeting_type": "VARCHAR", "updated_at": TS},
    ),
    "prep_reminders": (
        "SELECT reminder_id, one_on_one_id, manager_id, rep_id, remind_at, state, sent_at, attempts, last_error "
        "FROM prep_reminders",
        {
            "reminder_id": "VARCHAR",
            "one_on_one_id": "VARCHAR",
            "manager_id": "VARCHAR",
            "rep_id": "VARCHAR",
            "remind_at": TS,
            "state": "VARCHAR",
            "sent_at": TS,
            "attempts": "INTEGER",
            "last_error": "VARCHAR",
        },
    ),
}


def _text(value) -> str | None:
    return None if value is None else str(value)


APP_KEYS = {name: dg.AssetKey(f"app_{name}") for name in MIRRORS}
# Each mirror's key column, and the column whose value counts the UI plots as KPIs (None: none).
MIRROR_KEYS = {
    "connections": ("connection_id", "status"),
    "managers": ("manager_id", None),
    "team_members": ("rep_id", None),
    "meetings": ("meeting_id", "writeback_state"),
    "annotations": ("one_on_one_id", "meeting_type"),
    "prep_reminders": ("reminder_id", "state"),
}
FREE_TEXT_COUNTS = {"meeting_type"}
MIRROR_CHECK = "matches_operational_store"
PREVIEW_ROWS = 5


def mirror_check(con: duckdb.DuckDBPyConnection, name: str, store_rows: int) -> dg.AssetCheckResult:
    """The copy is whole and keyed: as many rows as the store gave, no NULL or repeated key."""
    key, _ = MIRROR_KEYS[name]
    rows, distinct_keys, null_keys = con.execute(
        f"SELECT count(*), count(DISTINCT {key}), count(*) FILTER (WHERE {key} IS NULL) FROM app.{name}"
    ).fetchone()
    return dg.AssetCheckResult(
        asset_key=APP_KEYS[name],
        check_name=MIRROR_CHECK,
        passed=rows == store_rows and distinct_keys == rows and null_keys == 0,
        metadata={
            "warehouse_rows": dg.MetadataValue.int(rows),
            "operational_store_rows": dg.MetadataValue.int(store_rows),
            "duplicate_keys": dg.MetadataValue.int(rows - distinct_keys - null_keys),
            "null_keys": dg.MetadataValue.int(null_keys),
        },
    )


def mirror_metadata(con: duckdb.DuckDBPyConnection, name: str, rows: int, encrypted: bool = False) -> dict:
    """Row count, a count per state (plotted over time) and a Markdown preview of the newest rows
    (ids and states only when the warehouse is encrypted: assets/previews.py)."""
    key, counted = MIRROR_KEYS[name]
    metadata: dict = {"dagster/row_count": dg.MetadataValue.int(rows)}
    # meeting_type is a label users type: with a key its values stay out of the metadata keys too.
    if counted and not (encrypted and counted in FREE_TEXT_COUNTS):
        for value, count in con.execute(
            f"SELECT coalesce({counted}, 'none'), count(*) FROM app.{name} GROUP BY ALL ORDER BY 1"
        ).fetchall():
            metadata[f"{counted}_{value}".lower().replace(" ", "_")] = dg.MetadataValue.int(count)
    head = con.execute(f"SELECT * FROM app.{name} ORDER BY {key} LIMIT {PREVIEW_ROWS}")
    columns = [d[0] for d in head.description]
    metadata["preview"] = dg.MetadataValue.md(preview_table(columns, head.fetchall(), encrypted=encrypted))
    return metadata


def mirror_table(con: duckdb.DuckDBPyConnection, store: OpStore, name: str) -> int:
    """Replace app.<name> with the store's rows (typed), in the caller's transaction."""
    select, types = MIRRORS[name]
    rows = store.query(select)
    columns = list(types)
    # Everything travels as text and is cast once in DuckDB: SQLite has no column types to trust.
    data = pa.table({c: pa.array([_text(row[c]) for row in rows], type=pa.string()) for c in columns})
    con.register("mirror_rows", data)
    try:
        casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        con.execute(f"CREATE OR REPLACE TABLE app.{name} AS SELECT {casts} FROM mirror_rows")
    finally:
        con.unregister("mirror_rows")
    return len(rows)


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
        con.execute("BEGIN TRANSACTION")
        counts = {name: mirror_table(con, opstore.store, name) for name in MIRRORS if name in selected}
        con.execute("COMMIT")
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

"""One sync request for sensor, schedule and asset: the asset's Dagster config carries every field of
the core's SyncRequest, and a request survives the trip through run config unchanged."""

from __future__ import annotations

import dataclasses

import dagster as dg

from smvue_core.sync.request import CalendarRef, SyncRequest
from smvue_pipeline.assets.raw_events import SyncConfig, raw_calendar_events, sync_run_config

from .conftest import RAW_OP


def test_the_asset_config_has_exactly_the_request_fields():
    assert set(SyncConfig.model_fields) == {f.name for f in dataclasses.fields(SyncRequest)}
    # Defaults agree too: an empty config is the empty request (everything, incremental).
    assert SyncConfig().to_request() == SyncRequest()


def test_a_request_survives_run_config_unchanged():
    request = SyncRequest(
        connection_ids=("conn-a",),
        calendars=(CalendarRef("conn-b", "cal-1"), CalendarRef("conn-b", "cal-2")),
        full_connection_ids=("conn-a",),
        queue_up_to=42,
        past_days=7,
        future_days=3,
        fetch_workers=4,
    )
    run_config = dg.RunRequest(run_key="k", run_config=sync_run_config(request)).run_config
    config = run_config["ops"][RAW_OP]["config"]
    assert config["calendars"] == [
        {"connection_id": "conn-b", "calendar_id": "cal-1"},
        {"connection_id": "conn-b", "calendar_id": "cal-2"},
    ]
    assert SyncConfig(**config).to_request() == request


def test_run_config_is_addressed_to_the_assets_op():
    assert raw_calendar_events.op.name == RAW_OP
    assert set(sync_run_config(SyncRequest()).to_config_dict()["ops"]) == {RAW_OP}

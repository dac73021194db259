"""A sync process for the kill -9 test: raw_calendar_events against $SMVUE_HOME with small pages.

Run as `python -m tests.sync.sync_child PAGE_SIZE`; the environment says where everything is. It
prints `applied <connection> <calendar>` for each calendar once its transaction committed, so the test
can kill it at a known point instead of guessing from timing."""

from __future__ import annotations

import sys

import dagster as dg

from smvue_core.settings import Settings
from smvue_core.sync import engine
from smvue_pipeline.assets.raw_events import raw_calendar_events
from smvue_pipeline.resources.bindings import build_resources


def _announcing(apply):
    def apply_and_announce(con, batch, now):
        counts = apply(con, batch, now)
        for changes in batch:
            print("applied", changes.connection_id, changes.calendar_id, flush=True)
        return counts

    return apply_and_announce


def main(page_size: int) -> int:
    settings = Settings.from_env()
    resources = build_resources(
        settings, google={"page_size": page_size}, microsoft={"delta_page_size": page_size}
    )
    engine.apply_batch = _announcing(engine.apply_batch)
    print("syncing", flush=True)
    result = dg.materialize([raw_calendar_events], resources=resources)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))

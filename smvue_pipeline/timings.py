"""Where a run's time went before its first step: sensor wait, run launch, code load (metadata).

The figures come from what Dagster and the process already know: the run's creation time (the
sensor's tick), the run worker's process start (/proc, Linux), the moment the code location module
finished importing (`mark_code_loaded`, called at the end of each location module) and the
timestamp of the change or run that triggered it (a run tag set by the sensor). Each figure is
left out when a clock is missing (a run launched by hand, another OS), never guessed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

# The sensor sets this tag: when the oldest change the run covers was received (epoch seconds).
TRIGGERED_AT_TAG = "smvue/triggered_at"
_code_loaded_at: float | None = None


def mark_code_loaded() -> None:
    """Called once at the end of a code location module: its import is over."""
    global _code_loaded_at
    if _code_loaded_at is None:
        _code_loaded_at = time.time()


def process_started_at() -> float | None:
    """This process's start (epoch seconds) from /proc, or None where /proc is not Linux's."""
    try:
        fields = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat: starttime, after pid and comm
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + start_ticks / os.sysconf("SC_CLK_TCK")


def before_first_step(context: dg.AssetExecutionContext) -> dict[str, dg.MetadataValue]:
    """Seconds from the trigger to the run's creation (sensor wait), from creation to this process
    (run queue and launch) and from the process start to the code loaded (code load)."""
    record = context.instance.get_run_record_by_id(context.run_id)
    created = record.create_timestamp.timestamp() if record is not None else None
    triggered = context.run.tags.get(TRIGGERED_AT_TAG)
    spawned = process_started_at()
    figures: dict[str, float | None] = {
        "sensor_wait_s": created - float(triggered) if created is not None and triggered else None,
        # /proc's start time has clock-tick resolution (10 ms): never below zero.
        "run_launch_s": max(0.0, spawned - created) if created is not None and spawned else None,
        "code_load_s": _code_loaded_at - spawned if _code_loaded_at is not None and spawned else None,
    }
    return {
        name: dg.MetadataValue.float(round(value, 3)) for name, value in figures.items() if value is not None
    }


def seconds(value: float) -> dg.MetadataValue:
    return dg.MetadataValue.float(round(value, 3))

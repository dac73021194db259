"""The peer: dlt's `rest_api` source loading the same emulator into DuckDB (SPEC.md, Performance;
reference/performance-peers.md). dlt is never a project dependency: the bench installs it into a
venv of its own (bench/.venv-dlt, `python -m venv` + `pip install dlt[duckdb]`) and runs it there
as a subprocess, so it cannot disturb the project's pins.

Configuration, as performance-peers.md describes it for both providers:
- Google: `calendars/{id}/events` with the same window, `singleEvents`, `maxResults=2500` and the
  same `fields` mask SMVue sends; paginator `cursor` (nextPageToken → pageToken); data in `items`.
- Graph: `me/calendars/{id}/calendarView` with `$top=1000` and a `$select` without the body;
  paginator `json_link` on `@odata.nextLink`; data in `value`.
- One resource per calendar, each with the mailbox's bearer token (minted by the admin API), into
  two tables with `write_disposition=merge` on `id`: dlt's usual incremental-ready setup.

The child half of this file (`--child SPEC`) uses only the standard library and dlt: it runs in
the dlt venv, where the project is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-dlt"
DLT_REQUIREMENT = os.environ.get("SMVUE_BENCH_DLT", "dlt[duckdb]==1.31.0")


# --- parent side (project venv) --------------------------------------------------------------------
def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(log=print) -> tuple[Path, str]:
    """bench/.venv-dlt with dlt installed; (python, dlt version). Installs on first use only."""
    python = venv_python()
    probe = [str(python), "-c", "import dlt, duckdb; print(dlt.__version__)"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0:
            return python, found.stdout.strip()
    log(f"    installing {DLT_REQUIREMENT} into {VENV} (once)")
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", DLT_REQUIREMENT],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        raise RuntimeError(f"pip install {DLT_REQUIREMENT} failed: {install.stderr.strip()[-400:]}")
    found = subprocess.run(probe, capture_output=True, text=True, check=True)
    return python, found.stdout.strip()


def run(emulator, mailboxes, window: tuple[str, str], workdir: Path, log=print) -> dict:
    """Load every mailbox's calendar with dlt; wall time, rows/s, requests and peak RSS."""
    from bench.common import run_child
    from smvue_core.providers.google.mapping import LIST_FIELDS
    from smvue_core.providers.outlook.mapping import EVENT_SELECT

    python, version = ensure_venv(log)
    workdir.mkdir(parents=True, exist_ok=True)
    spec = {
        "url": emulator.url,
        "window": list(window),
        "google_fields": LIST_FIELDS,
        "graph_select": EVENT_SELECT,
        "database": str(workdir / "dlt.duckdb"),
        "pipelines_dir": str(workdir / "pipelines"),
        "calendars": [
            {
                "provider": m.provider,
                "calendar_id": m.calendar_id,
                "token": emulator.admin.token(m.email, m.provider),
            }
            for m in mailboxes
        ],
    }
    spec_path = workdir / "dlt-spec.json"
    spec_path.write_text(json.dumps(spec))
    spec_path.chmod(0o600)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "RUNTIME__LOG_LEVEL": "WARNING",
        "DLT_DATA_DIR": str(workdir / "dlt-data"),
    }
    emulator.admin.reset_stats()
    cpu_before = emulator.cpu_s()
    child = run_child(
        [str(python), str(Path(__file__).resolve()), "--child", str(spec_path)], env=env, cwd=workdir
    )
    emulator_cpu = emulator.cpu_s() - cpu_before
    stats = emulator.admin.stats()
    spec_path.unlink(missing_ok=True)
    result = child.result()
    if child.returncode != 0 or result is None:
        raise RuntimeError(f"dlt failed (exit {child.returncode}): {child.tail()}")
    rows = result["rows"]
    return result | {
        "dlt_version": version,
        "requests": stats["requests_total"],
        "emulator_cpu_s": round(emulator_cpu, 2),
        "process_wall_s": round(child.wall_s, 2),
        "process_cpu_s": round(child.cpu_s, 2),
        "peak_rss_mb": child.peak_rss_mb,
        "rows_per_s": round(rows / result["wall_s"]) if result["wall_s"] else None,
    }


# --- child side (dlt venv) -------------------------------------------------------------------------
def rest_api_config(spec: dict) -> dict:
    start, end = spec["window"]
    resources = []
    for index, calendar in enumerate(spec["calendars"]):
        auth = {"type": "bearer", "token": calendar["token"]}
        calendar_id = quote(calendar["calendar_id"], safe="")
        if calendar["provider"] == "google":
            endpoint = {
                "path": f"google/calendar/v3/calendars/{calendar_id}/events",
                "params": {
                    "timeMin": start,
                    "timeMax": end,
                    "singleEvents": "true",
                    "maxResults": 2500,
                    "fields": spec["google_fields"],
                },
                "paginator": {"type": "cursor", "cursor_path": "nextPageToken", "cursor_param": "pageToken"},
                "data_selector": "items",
                "auth": auth,
            }
            table = "google_events"
        else:
            endpoint = {
                "path": f"microsoft/v1.0/me/calendars/{calendar_id}/calendarView",
                "params": {
                    "startDateTime": start,
                    "endDateTime": end,
                    "$top": 1000,
                    "$select": spec["graph_select"],
                },
                "headers": {"Prefer": 'outlook.timezone="UTC"'},
                "paginator": {"type": "json_link", "next_url_path": "['@odata.nextLink']"},
                "data_selector": "value",
                "auth": auth,
            }
            table = "graph_events"
        resources.append(
            {
                "name": f"calendar_{index}",
                "table_name": table,
                "write_disposition": "merge",
                "primary_key": "id",
                "endpoint": endpoint,
            }
        )
    return {"client": {"base_url": spec["url"].rstrip("/") + "/"}, "resources": resources}


def child(spec_path: str) -> int:
    import dlt
    import duckdb
    from dlt.sources.rest_api import rest_api_source

    spec = json.loads(Path(spec_path).read_text())
    pipeline = dlt.pipeline(
        pipeline_name="bench_calendars",
        destination=dlt.destinations.duckdb(spec["database"]),
        dataset_name="calendars",
        pipelines_dir=spec["pipelines_dir"],
    )
    source = rest_api_source(rest_api_config(spec))
    steps = {}
    began = time.perf_counter()
    pipeline.extract(source)
    steps["extract_s"] = time.perf_counter() - began
    mark = time.perf_counter()
    pipeline.normalize()
    steps["normalize_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pipeline.load()
    steps["load_s"] = time.perf_counter() - mark
    wall = time.perf_counter() - began
    con = duckdb.connect(spec["database"], read_only=True)
    try:
        rows = 0
        for table in ("google_events", "graph_events"):
            with contextlib.suppress(duckdb.Error):
                rows += con.execute(f"SELECT count(*) FROM calendars.{table}").fetchone()[0]
    finally:
        con.close()
    result = {"rows": rows, "wall_s": round(wall, 3)} | {k: round(v, 3) for k, v in steps.items()}
    print("BENCH_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2]))
    print(
        "usage: peer_dlt.py --child SPEC.json (run by `python -m bench --only import_200`)", file=sys.stderr
    )
    sys.exit(2)

"""dbt_cadence/target/manifest.json, as `make` prepares it (Makefile rule $(DBT_MANIFEST)), for a
bare `pytest`: the cadence assets are built from it when Dagster's definitions are imported, and
importing them never parses the project itself."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests import processes

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt_cadence"
MANIFEST = DBT_PROJECT / "target" / "manifest.json"


def is_current() -> bool:
    if not MANIFEST.exists():
        return False
    built = MANIFEST.stat().st_mtime
    sources = [
        p
        for p in DBT_PROJECT.rglob("*")
        if p.suffix in (".sql", ".yml", ".csv") and "target" not in p.parts and "logs" not in p.parts
    ]
    return all(p.stat().st_mtime <= built for p in sources)


def prepare() -> Path:
    """`dbt parse` when the manifest is missing or older than the project; returns its path."""
    if not is_current():
        dbt = Path(sys.executable).parent / "dbt"
        processes.run(
            [
                str(dbt),
                "parse",
                "--project-dir",
                str(DBT_PROJECT),
                "--profiles-dir",
                str(DBT_PROJECT),
                "--quiet",
            ],
            env={**os.environ, "DO_NOT_TRACK": "1"},
            cwd=REPO,
            timeout=180,
        ).check_returncode()
        MANIFEST.touch()
    return MANIFEST

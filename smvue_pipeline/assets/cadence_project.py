"""The dbt_cadence project: where it is, the dbt it runs with, and how its manifest is prepared.

Importing this module reads nothing: the cadence assets need `target/manifest.json`, which the
composition root prepares before Dagster loads them (`make`, `smvue up`, the tests' conftest), so
loading the code location never runs dbt.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_cadence"
MANIFEST_PATH = PROJECT_DIR / "target" / "manifest.json"


@cache
def cadence_project() -> DbtProject:
    """The dbt_cadence project (dagster-dbt reads its dbt_project.yml)."""
    return DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


def dbt_executable() -> str:
    """This interpreter's dbt: the venv is often not on PATH (`.venv/bin/python -m pytest`)."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else "dbt"


def dbt_resource() -> DbtCliResource:
    """The `dbt` resource the cadence assets run with."""
    return DbtCliResource(project_dir=cadence_project(), dbt_executable=dbt_executable())


def prepare_manifest() -> Path:
    """Run `dbt parse` so target/manifest.json matches the project files; returns its path.
    (dagster-dbt's own preparer looks for `dbt` on PATH, which the venv may not be on.)"""
    project = cadence_project()
    dbt_resource().cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path

"""The layers' import contracts (pyproject `[tool.importlinter]`) hold, and a wrong arrow breaks them.

`make lint` runs `lint-imports` on the tree itself; these tests show the contracts are not vacuous:
the same contracts over a copy of the tree with one forbidden import added must fail, naming it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import processes

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("smvue", "smvue_core", "smvue_pipeline", "webhook_gateway", "calendar_emulator")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def copy_tree(destination: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # The copy comes first on the path, ahead of the editable install of the real tree.
    return processes.run(
        [str(LINT_IMPORTS), str(tree / "pyproject.toml"), "--no-cache"],
        timeout=120,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )


def add_import(module: Path, line: str) -> None:
    # Appended at the end: a module-level import anywhere counts, and nothing precedes __future__.
    module.write_text(module.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_contract(tmp_path):
    result = lint_imports(copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("smvue_core/settings.py", "import dagster  # noqa", "The core is plain Python"),
        (
            "smvue_core/opstore/db.py",
            "import smvue_pipeline.definitions  # noqa",
            "The composition root sits",
        ),
        ("webhook_gateway/auth.py", "import smvue.cli  # noqa", "The composition root sits"),
        ("smvue_pipeline/jobs.py", "import webhook_gateway.app  # noqa", "The composition root sits"),
        ("calendar_emulator/clock.py", "import smvue_core.settings  # noqa", "The emulator stands alone"),
    ],
)
def test_a_wrong_arrow_breaks_a_contract(tmp_path, module, line, broken):
    tree = copy_tree(tmp_path)
    add_import(tree / module, line)
    result = lint_imports(tree)
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    assert f"{broken}" in report and "BROKEN" in report, report
    assert module.removesuffix(".py").replace("/", ".") in report, report

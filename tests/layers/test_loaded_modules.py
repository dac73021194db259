"""The core is plain Python: the gateway, the write-back worker and every `smvue_core` module load
without Dagster (and the core without the web stack), each checked in a fresh interpreter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.processes import run

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "smvue_core"
DAGSTER = ("dagster",)  # dagster, dagster_dbt, dagster_duckdb, dagster_webserver, ...
WEB = ("fastapi", "starlette", "uvicorn")

# Imports the listed modules, then prints the loaded modules whose names start with a prefix.
CHILD = """
import importlib, json, sys
modules, prefixes = json.loads(sys.argv[1]), tuple(json.loads(sys.argv[2]))
for name in modules:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(prefixes))))
"""


def core_modules() -> list[str]:
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def loaded_after_importing(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    result = run(
        [sys.executable, "-c", CHILD, json.dumps(modules), json.dumps(prefixes)], timeout=60, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("modules", "forbidden"),
    [
        (["webhook_gateway.app"], DAGSTER),
        (["smvue_core.writeback.worker"], DAGSTER + WEB),
        (core_modules(), DAGSTER + WEB),
    ],
    ids=["gateway", "writeback_worker", "every_core_module"],
)
def test_importing_loads_no_forbidden_package(modules, forbidden):
    assert len(modules) >= 1
    assert loaded_after_importing(modules, forbidden) == []


def test_the_check_sees_dagster_when_it_is_loaded():
    """The child reports what it loads: importing the Dagster layer is seen."""
    assert "dagster" in loaded_after_importing(["smvue_pipeline.resources.calendars"], DAGSTER)


# Lists every import statement under the given folder, function bodies included: (file, line, module).
# In its own interpreter like the others: CPython 3.11 keeps the AST constructor's recursion counter
# per interpreter, and a thread an earlier test left behind parsing at the same time made
# ast.parse raise "AST constructor recursion depth mismatch" here once.
IMPORTS_CHILD = """
import ast, json, sys
from pathlib import Path
root = Path(sys.argv[1])
found = []
for path in sorted(root.rglob("*.py")):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(str(path.relative_to(root.parent)), node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((str(path.relative_to(root.parent)), node.lineno, node.module))
print(json.dumps(found))
"""


def imports_under(folder: Path) -> list[tuple[str, int, str]]:
    result = run([sys.executable, "-c", IMPORTS_CHILD, str(folder)], timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    return [tuple(item) for item in json.loads(result.stdout.strip().splitlines()[-1])]


def test_the_import_listing_sees_imports_inside_functions():
    """The write-back worker imports its providers inside main(): the listing must see that."""
    listed = imports_under(CORE)
    assert ("smvue_core/writeback/worker.py", "smvue_core.providers.factory") in {
        (path, module) for path, _, module in listed
    }


def test_no_core_source_imports_dagster_or_the_web_stack():
    """Also imports inside functions, which importing a module does not run."""
    offenders = [
        f"{path}:{line} {name}"
        for path, line, name in imports_under(CORE)
        if name.split(".")[0].startswith(DAGSTER) or name.split(".")[0] in WEB
    ]
    assert offenders == []

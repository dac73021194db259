"""The emulator's module layering: no import cycles (counting imports under TYPE_CHECKING and
inside functions), the shared state knows no provider, and a provider's state model imports
neither HTTP shapes nor routes."""

from __future__ import annotations

import ast
from pathlib import Path

import calendar_emulator

ROOT = Path(calendar_emulator.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = ("calendar_emulator", *path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
        edges[name] = {t for t in targets if t in modules and t not in (name, "calendar_emulator")}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles():
    assert _cycle(_imports(_modules())) is None


def test_state_and_models_keep_their_layer():
    edges = _imports(_modules())
    providers = ("calendar_emulator.google", "calendar_emulator.microsoft")
    for shared in ("calendar_emulator.state", "calendar_emulator.backend"):
        assert not {t for t in edges[shared] if t.startswith(providers)}, shared
    for provider in providers:
        shapes = {f"{provider}.responses", f"{provider}.urls", "calendar_emulator.microsoft.serialize"}
        assert not edges[f"{provider}.models"] & shapes, provider

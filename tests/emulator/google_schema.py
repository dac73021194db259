"""Validates Google Calendar responses against the discovery document bundled with
google-api-python-client: every field a response carries must exist in the schema, with that type.

Deliberately independent of the emulator's own schema code, so the two can disagree.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path

import googleapiclient

DOCUMENT = Path(googleapiclient.__file__).parent / "discovery_cache/documents/calendar.v3.json"


@cache
def document() -> dict:
    return json.loads(DOCUMENT.read_text())


def response_schema(method_id: str) -> str | None:
    """The response schema name of a method id like `calendar.events.list`."""
    _, resource, method = method_id.split(".")
    spec = document()["resources"][resource]["methods"][method]
    return spec.get("response", {}).get("$ref")


def validate(value, schema_name: str) -> None:
    """AssertionError naming the path of the first field that does not fit the schema."""
    _check(value, document()["schemas"][schema_name], schema_name)


def _resolve(node: dict) -> dict:
    ref = node.get("$ref")
    return document()["schemas"][ref] if ref else node


def _check(value, node: dict, path: str) -> None:
    node = _resolve(node)
    kind = node.get("type")
    if "properties" in node or "additionalProperties" in node:
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        properties = node.get("properties", {})
        for key, item in value.items():
            if key in properties:
                child = _resolve(properties[key])
                if key == "kind" and "default" in child:
                    assert item == child["default"], f"{path}.kind: {item!r} != {child['default']!r}"
                _check(item, child, f"{path}.{key}")
            elif "additionalProperties" in node:
                _check(item, node["additionalProperties"], f"{path}.{key}")
            else:
                raise AssertionError(f"{path}.{key}: not in the schema")
        return
    if kind == "array":
        assert isinstance(value, list), f"{path}: expected array, got {value!r}"
        for index, item in enumerate(value):
            _check(item, node.get("items", {}), f"{path}[{index}]")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
        if node.get("format") == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif node.get("format") == "int64":
            int(value)
        elif node.get("format") == "date":
            datetime.strptime(value, "%Y-%m-%d")
        if "enum" in node:
            assert value in node["enum"], f"{path}: {value!r} not in {node['enum']}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected boolean, got {value!r}"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), (
            f"{path}: expected integer, got {value!r}"
        )
    elif kind == "number":
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: expected number"
    elif kind == "object":
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
    # "any" and untyped nodes accept anything

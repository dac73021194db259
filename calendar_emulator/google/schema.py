"""The Calendar v3 discovery document bundled with google-api-python-client, used as the emulator's
schema: request bodies are type-checked against it and `fields=` selections are validated with it."""

from __future__ import annotations

import importlib.resources
from functools import cache

import orjson

DISCOVERY_PATH = "discovery_cache/documents/calendar.v3.json"


@cache
def discovery() -> dict:
    # Only the JSON data file is read; no client code is imported into the emulator's request path.
    return orjson.loads(importlib.resources.files("googleapiclient").joinpath(DISCOVERY_PATH).read_bytes())


def schema(name: str) -> dict:
    return discovery()["schemas"][name]


def resolve(prop: dict) -> dict:
    """A property's own schema, following `$ref`."""
    ref = prop.get("$ref")
    return schema(ref) if ref else prop


def child(node: dict, name: str) -> dict | None:
    """The schema of field `name` inside object schema `node` (arrays resolve to their items)."""
    props = node.get("properties")
    if props is not None and name in props:
        found = resolve(props[name])
    elif "additionalProperties" in node:
        found = resolve(node["additionalProperties"])
    else:
        return None
    while found.get("type") == "array":
        found = resolve(found.get("items", {}))
    return found


def is_object(node: dict) -> bool:
    return "properties" in node or "additionalProperties" in node or node.get("type") in ("object", "any")


class SchemaError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def check(value, node: dict, path: str) -> None:
    """Raise SchemaError when `value` does not fit `node` (null is accepted everywhere: it clears)."""
    if value is None:
        return
    kind = node.get("type")
    if "properties" in node or "additionalProperties" in node:
        if not isinstance(value, dict):
            raise SchemaError(path, f"Invalid value at '{path}': expected an object.")
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                check(item, resolve(props[key]), f"{path}.{key}")
            elif extra is not None:
                check(item, resolve(extra), f"{path}.{key}")
            else:
                raise SchemaError(
                    path,
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{path}': Cannot find field.",
                )
    elif kind == "array":
        if not isinstance(value, list):
            raise SchemaError(path, f"Invalid value at '{path}': expected a list.")
        items = resolve(node.get("items", {}))
        for index, item in enumerate(value):
            if item is None:
                raise SchemaError(path, f"Invalid value at '{path}[{index}]': null is not allowed in a list.")
            check(item, items, f"{path}[{index}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise SchemaError(
                path, f"Invalid value at '{path}' (TYPE_STRING), {orjson.dumps(value).decode()}"
            )
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise SchemaError(path, f"Invalid value at '{path}' (TYPE_BOOL), {orjson.dumps(value).decode()}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(path, f"Invalid value at '{path}' (TYPE_INT32), {orjson.dumps(value).decode()}")
    elif kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise SchemaError(path, f"Invalid value at '{path}' (TYPE_DOUBLE), {orjson.dumps(value).decode()}")

"""Google partial responses: parsing, validating and applying a `fields=` selector.

The syntax (https://developers.google.com/calendar/api/guides/performance#partial): a comma list of
field paths; `a/b` selects b inside a; `a(b,c)` selects b and c inside a; `*` selects every field at
its level. Selections inside arrays apply to each element. A selection is a tree: {name: subtree},
where a subtree of None keeps the whole value.
"""

from __future__ import annotations

from calendar_emulator.google import schema as gschema

Tree = dict[str, "Tree | None"]
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@*")


class FieldMaskError(ValueError):
    """An unparsable selector, or one naming a field the resource does not have."""


def parse(expression: str) -> Tree:
    text = "".join(expression.split())  # whitespace is not significant
    if not text:
        raise FieldMaskError("Invalid field selection: empty")
    tree, end = _parse_list(text, 0)
    if end != len(text):
        raise FieldMaskError(f"Invalid field selection: unexpected {text[end]!r} at {end}")
    return tree


def _parse_list(text: str, pos: int) -> tuple[Tree, int]:
    tree: Tree = {}
    while True:
        path, pos = _parse_path(text, pos)
        sub: Tree | None = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _parse_list(text, pos + 1)
            if pos >= len(text) or text[pos] != ")":
                raise FieldMaskError("Invalid field selection: unbalanced parentheses")
            pos += 1
        _merge_path(tree, path, sub)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return tree, pos


def _parse_path(text: str, pos: int) -> tuple[list[str], int]:
    names: list[str] = []
    while True:
        start = pos
        while pos < len(text) and text[pos] in NAME_CHARS:
            pos += 1
        if pos == start:
            raise FieldMaskError(f"Invalid field selection: expected a field name at {start}")
        names.append(text[start:pos])
        if pos < len(text) and text[pos] == "/":
            pos += 1
            continue
        return names, pos


def _merge_path(tree: Tree, path: list[str], sub: Tree | None) -> None:
    node = tree
    for name in path[:-1]:
        if name in node and node[name] is None:
            return  # the whole field is already selected
        node = node.setdefault(name, {})  # type: ignore[assignment]
    last = path[-1]
    if last not in node:
        node[last] = sub
    else:
        node[last] = _merge(node[last], sub)


def _merge(left: Tree | None, right: Tree | None) -> Tree | None:
    if left is None or right is None:
        return None
    merged = dict(left)
    for key, value in right.items():
        merged[key] = _merge(merged[key], value) if key in merged else value
    return merged


def validate(tree: Tree, schema_name: str) -> None:
    """Every named field must exist in the response schema (names are case-sensitive)."""
    _validate(tree, gschema.schema(schema_name))


def _validate(tree: Tree, node: dict) -> None:
    for name, sub in tree.items():
        if name == "*":
            continue
        found = gschema.child(node, name)
        if found is None:
            raise FieldMaskError(f"Invalid field selection {name}")
        if sub is not None:
            if not gschema.is_object(found):
                raise FieldMaskError(f"Invalid field selection {name}")
            _validate(sub, found)


def apply(value, tree: Tree | None):
    """The value reduced to the selected fields."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [apply(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    star = "*" in tree
    out = {}
    for key, item in value.items():
        if key in tree:
            out[key] = apply(item, tree[key])
        elif star:
            out[key] = apply(item, tree["*"])
    return out

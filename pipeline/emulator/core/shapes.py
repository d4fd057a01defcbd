"""JSON types of the request members the emulator reads, checked before it reads them.

A spec maps a key path to the JSON type Azure's deserializer expects there; `[]` steps into every item of an
array: `{"properties.upgradePolicy": dict, "properties.upgradePolicy.mode": str, "x.items[].id": str}`.
A member of the wrong type is `400 InvalidRequestContent` worded as Azure's deserializer words it (never a
crash further in). Members the spec does not name are stored as sent.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import InvalidRequestContent

TYPE_NAMES = {dict: "Object", list: "Array", str: "String", bool: "Boolean", int: "Int32"}


def _nodes(value: Any, steps: list[str], path: str):
    """(path, node, expected array?) for every node at `steps` under `value`; missing or null nodes are
    skipped; an array step over something that is not an array yields that thing, flagged."""
    if value is None:
        return
    if not steps:
        yield path, value, False
        return
    step, rest = steps[0], steps[1:]
    name = step.removesuffix("[]")
    child = value.get(name) if isinstance(value, dict) else None
    where = f"{path}.{name}" if path else name
    if not step.endswith("[]"):
        yield from _nodes(child, rest, where)
    elif isinstance(child, list):
        for i, item in enumerate(child):
            yield from _nodes(item, rest, f"{where}[{i}]")
    elif child is not None:
        yield where, child, True


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_shapes(body: Any, spec: dict[str, type]) -> None:
    for pattern in sorted(spec, key=lambda p: p.count(".") + p.count("[]")):
        for where, node, array_expected in _nodes(body, pattern.split("."), ""):
            expected = list if array_expected else spec[pattern]
            if not _is(node, expected):
                raise InvalidRequestContent(
                    f"The request content was invalid and could not be deserialized: 'Error converting value "
                    f"{json.dumps(node)[:100]} to type '{TYPE_NAMES.get(expected, expected.__name__)}'. Path "
                    f"'{where}'.'.")

"""What the installed Azure SDK models say about a REST body: which properties exist and which are read-only.

azure-mgmt-compute 39, -network 33 and -resource 26 are generated from TypeSpec: each model class declares its
REST fields (`rest_field(name=..., visibility=[...])`, read-only when the visibility is only "read"), nested
the way the REST body nests them ("properties" is a field holding a *PropertiesFormat model). One walk over a
body and its model therefore answers both questions the project asks:

    findings(model, body)  -> [("readonly" | "unknown", "properties.backendAddressPools[].etag"), ...]
    writable(model, body)  -> the body without read-only and unknown members (what a PUT may carry)

Used by the pipeline (pipeline/azure/writable.py: bodies it sends) and by the local cloud's contract guard
(pipeline/emulator/core/contract.py: bodies it receives). Pure: no clients, no I/O. Field tables are built
once per model class and cached.
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

READONLY = "readonly"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Field:
    readonly: bool
    model: type | None          # the model class of the value, of each list item or of each dict value
    container: str | None       # None (one value), "list" or "dict"


def _is_model(annotation: Any) -> bool:
    """A generated model class (they share the `_calculated` registry of model_base.Model)."""
    return isinstance(annotation, type) and hasattr(annotation, "_calculated")


def _shape(annotation: Any) -> tuple[type | None, str | None]:
    """(model class, container) of an annotation such as Optional[list["_models.BackendAddressPool"]]."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union:
        for arg in args:
            model, container = _shape(arg)
            if model is not None:
                return model, container
        return None, None
    if origin is list and args:
        model, _ = _shape(args[0])
        return model, ("list" if model is not None else None)
    if origin is dict and len(args) == 2:
        model, _ = _shape(args[1])
        return model, ("dict" if model is not None else None)
    if isinstance(annotation, type) and _is_model(annotation):
        return annotation, None
    return None, None


@lru_cache(maxsize=None)
def fields(model: type) -> dict[str, Field]:
    """{REST name: Field} of a model class (cached)."""
    if "_attr_to_rest_field" not in model.__dict__:
        model()  # the generated Model computes its field table on first construction
    module = sys.modules[model.__module__]
    package = sys.modules[model.__module__.rsplit(".", 1)[0]]
    hints: dict[str, Any] = {}
    for klass in reversed(model.__mro__):
        if "__annotations__" not in klass.__dict__:
            continue
        own = sys.modules.get(klass.__module__, module)
        namespace = {**vars(own), "_models": sys.modules.get(klass.__module__.rsplit(".", 1)[0], package)}
        for attr, annotation in klass.__dict__["__annotations__"].items():
            try:
                hints[attr] = typing._eval_type(  # type: ignore[attr-defined]
                    typing.ForwardRef(annotation) if isinstance(annotation, str) else annotation, namespace, None)
            except Exception:  # noqa: BLE001 - an annotation we cannot resolve is a leaf, not an error
                hints[attr] = None
    out = {}
    for attr, rest in model._attr_to_rest_field.items():
        child, container = _shape(hints.get(attr))
        out[rest._rest_name] = Field(readonly=getattr(rest, "_visibility", None) == ["read"], model=child,
                                     container=container)
    return out


def _concrete(model: type, value: dict) -> type:
    """A polymorphic model's subclass named by the body's discriminator value, else the model itself."""
    mapping = getattr(model, "__mapping__", None)
    if not mapping:
        return model
    fields(model)  # makes sure the field table (with the discriminator) is built
    for rest in model._attr_to_rest_field.values():
        if getattr(rest, "_is_discriminator", False):
            return mapping.get(value.get(rest._rest_name), model)
    return model


def findings(model: type, body: Any, path: str = "") -> list[tuple[str, str]]:
    """Every read-only or unknown member of `body` (REST JSON) for `model`, as (kind, dotted path)."""
    out: list[tuple[str, str]] = []
    _walk(model, body, path, out)
    return out


def writable(model: type, body: Any) -> Any:
    """`body` without the members `model` marks read-only and those it does not know (a new structure)."""
    return _walk(model, body, "", None)


def _walk(model: type, body: Any, path: str, out: list | None) -> Any:
    if not isinstance(body, dict):
        return body
    model = _concrete(model, body)
    table = fields(model)
    kept: dict[str, Any] = {}
    for name, value in body.items():
        where = f"{path}.{name}" if path else name
        field = table.get(name)
        if field is None:
            if out is not None:
                out.append((UNKNOWN, where))
            continue
        if field.readonly:
            if out is not None:
                out.append((READONLY, where))
            continue
        kept[name] = _value(field, value, where, out)
    return kept


def _value(field: Field, value: Any, where: str, out: list | None) -> Any:
    if field.model is None or value is None:
        return value
    if field.container == "list" and isinstance(value, list):
        return [_walk(field.model, item, f"{where}[]", out) for item in value]
    if field.container == "dict" and isinstance(value, dict):
        return {k: _walk(field.model, v, f"{where}.{{}}", out) for k, v in value.items()}
    if field.container is None:
        return _walk(field.model, value, where, out)
    return value

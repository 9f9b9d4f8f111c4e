"""Unknown-field detection against a kind's schema (``fieldValidation=Strict|Warn``).

Mirrors what upstream's strict decoding reports (apimachinery
``pkg/runtime/serializer/json`` with ``DisallowUnknownFields``, and
``fieldmanager``'s messages): the dotted path of every field the schema does
not know, with list indexes (``spec.template.spec.containers[0].foo``). Maps
(``additionalProperties``) and free-form objects (no ``properties``) accept
any key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.api.strategicpatch import Schema

MAX_REPORTED = 100


def unknown_fields(obj: Any, schema: Schema) -> list[str]:
    out: list[str] = []
    _walk(obj, schema, "", out)
    return out


def _node(schema: Schema) -> Mapping[str, Any]:
    return schema._resolve(schema.node)


def _walk(value: Any, schema: Schema, path: str, out: list[str]) -> None:
    if len(out) >= MAX_REPORTED:
        return
    node = _node(schema)
    if isinstance(value, dict):
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if isinstance(props, Mapping) and props:
            for k, v in value.items():
                child_path = f"{path}.{k}" if path else k
                if k not in props:
                    if path == "" and k in ("apiVersion", "kind"):
                        continue
                    out.append(child_path)
                    continue
                sub, _ = schema.field(k)
                if sub is not None:
                    _walk(v, sub, child_path, out)
        elif isinstance(extra, Mapping):
            sub = Schema(schema._resolve(extra), schema.defs)
            for k, v in value.items():
                _walk(v, sub, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        items = schema.items()
        if items is None:
            return
        for i, v in enumerate(value):
            _walk(v, items, f"{path}[{i}]", out)

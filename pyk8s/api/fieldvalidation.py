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


class _Node:
    """What the walk needs of one schema node, resolved once: its properties (with the
    schema of each, found on first use), its additionalProperties and its items."""

    __slots__ = ("children", "extra", "items", "props", "schema")

    def __init__(self, schema: Schema) -> None:
        node = schema._resolve(schema.node)
        props = node.get("properties")
        extra = node.get("additionalProperties")
        self.schema = schema
        self.props: Mapping[str, Any] | None = (
            props if isinstance(props, Mapping) and props else None
        )
        self.extra = (
            Schema(schema._resolve(extra), schema.defs) if isinstance(extra, Mapping) else None
        )
        self.items = schema.items()
        self.children: dict[str, Schema | None] = {}

    def child(self, key: str) -> Schema | None:
        try:
            return self.children[key]
        except KeyError:
            sub, _ = self.schema.field(key)
            self.children[key] = sub
            return sub


# (id of a schema node, id of its definitions) -> (the node, what it compiles to); the node
# kept beside guards against a reused id
_NODES: dict[tuple[int, int], tuple[Mapping[str, Any], _Node]] = {}


def _node(schema: Schema) -> _Node:
    key = (id(schema.node), id(schema.defs))
    hit = _NODES.get(key)
    if hit is not None and hit[0] is schema.node:
        return hit[1]
    found = _Node(schema)
    _NODES[key] = (schema.node, found)
    return found


def _walk(value: Any, schema: Schema, path: str, out: list[str]) -> None:
    if len(out) >= MAX_REPORTED:
        return
    node = _node(schema)
    if isinstance(value, dict):
        props = node.props
        if props is not None:
            for k, v in value.items():
                if k not in props:
                    if path == "" and k in ("apiVersion", "kind"):
                        continue
                    out.append(f"{path}.{k}" if path else k)
                    continue
                if isinstance(v, dict | list):  # a scalar has nothing below it to check
                    sub = node.child(k)
                    if sub is not None:
                        _walk(v, sub, f"{path}.{k}" if path else k, out)
        elif node.extra is not None:
            sub = node.extra
            for k, v in value.items():
                if isinstance(v, dict | list):
                    _walk(v, sub, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        items = node.items
        if items is None:
            return
        for i, v in enumerate(value):
            if isinstance(v, dict | list):
                _walk(v, items, f"{path}[{i}]", out)


def duplicate_fields(raw: bytes) -> list[str]:
    """The dotted paths of the keys a JSON document repeats within one object (what
    upstream's strict JSON decoding reports as ``duplicate field "data.a"``); [] for a
    document without repeats or one that does not parse. Cheap when there is no repeat:
    the document is parsed a second time only then."""
    import json

    seen_dup = False

    def pairs(items: list[tuple[str, Any]]) -> Any:
        nonlocal seen_dup
        out = dict(items)
        if len(out) != len(items):
            seen_dup = True
        return out

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except ValueError:
        return []
    if not seen_dup:
        return []
    found: list[str] = []

    class _Pairs(list[tuple[str, Any]]):
        """An object's members, in order, repeats kept."""

    def keep(items: list[tuple[str, Any]]) -> Any:
        return _Pairs(items)

    def walk(value: Any, path: str) -> None:
        if isinstance(value, _Pairs):
            keys: set[str] = set()
            for k, v in value:
                sub = f"{path}.{k}" if path else k
                if k in keys:
                    found.append(sub)
                keys.add(k)
                walk(v, sub)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(json.loads(raw, object_pairs_hook=keep), "")
    return found[:MAX_REPORTED]

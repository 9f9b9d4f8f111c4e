"""Server-side apply: field sets, ownership conflicts and the apply merge.

A reduced form of sigs.k8s.io/structured-merge-diff (``fieldpath.Set``,
``merge.Updater.Apply``) as kube-apiserver uses it (``fieldmanager``): the
fields an applied configuration sets are a set of paths, built with the
schema's list types (``x-kubernetes-list-type: map`` items are named by their
``x-kubernetes-list-map-keys`` as ``k:{...}``, ``set`` items by value as
``v:...``, anything else is atomic). Applying takes the fields, reports as
conflicts those that another manager owns and whose value would change
(unless forced), drops fields the manager applied before and no longer
applies (when nobody else owns them), and merges the configuration in.

Pure: objects are dicts, schemas are :class:`~pyk8s.api.strategicpatch.Schema`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api.strategicpatch import Schema

PathElement = tuple[str, str]  # ("f", name) | ("k", json keys) | ("v", json value)
Path = tuple[PathElement, ...]

_SKIP_TOP = ("apiVersion", "kind", "status")
_SKIP_META = frozenset(
    ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
     "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name")
)  # fmt: skip


def _key_json(item: Mapping[str, Any], keys: list[str]) -> str:
    return orjson.dumps({k: item.get(k) for k in keys if k in item}).decode()


def _list_info(prop: Mapping[str, Any]) -> tuple[str, list[str]]:
    kind = str(prop.get("x-kubernetes-list-type", ""))
    keys = prop.get("x-kubernetes-list-map-keys") or []
    if not kind and prop.get("x-kubernetes-patch-merge-key"):
        kind, keys = "map", [prop["x-kubernetes-patch-merge-key"]]
    return kind, list(keys)


def field_set(obj: Mapping[str, Any], schema: Schema | None) -> set[Path]:
    """The paths ``obj`` sets: every leaf and every list-map/set item node."""
    out: set[Path] = set()
    top = {k: v for k, v in obj.items() if k not in _SKIP_TOP}
    md = top.get("metadata")
    if isinstance(md, Mapping):
        top["metadata"] = {k: v for k, v in md.items() if k not in _SKIP_META}
        if not top["metadata"]:
            del top["metadata"]
    _collect(top, schema, (), out)
    return out


def _collect(value: Any, schema: Schema | None, path: Path, out: set[Path]) -> None:
    if isinstance(value, Mapping):
        node = schema._resolve(schema.node) if schema is not None else {}
        if node.get("x-kubernetes-map-type") == "atomic" or (path and not value):
            out.add(path)
            return
        for k, v in value.items():
            sub, prop = schema.field(k) if schema is not None else (None, {})
            if sub is None and schema is not None:
                extra = node.get("additionalProperties")
                if isinstance(extra, Mapping):
                    sub = Schema(schema._resolve(extra), schema.defs)
            child = (*path, ("f", k))
            if isinstance(v, list):
                _collect_list(v, sub, prop, child, out)
            else:
                _collect(v, sub, child, out)
        return
    out.add(path)


def _collect_list(
    items: list[Any], schema: Schema | None, prop: Mapping[str, Any], path: Path, out: set[Path]
) -> None:
    kind, keys = _list_info(prop)
    item_schema = schema.items() if schema is not None else None
    if kind == "map" and keys and all(isinstance(i, Mapping) for i in items):
        for item in items:
            item_path = (*path, ("k", _key_json(item, keys)))
            out.add(item_path)
            _collect(item, item_schema, item_path, out)
    elif kind == "set":
        for item in items:
            out.add((*path, ("v", orjson.dumps(item).decode())))
    else:
        out.add(path)


# -- FieldsV1 <-> path sets


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for i, (kind, name) in enumerate(path):
            key = f"{kind}:{name}"
            node = node.setdefault(key, {})
            if kind in ("k", "v") and i < len(path) - 1:
                node.setdefault(".", {})
        if path and path[-1][0] == "k":
            node.setdefault(".", {})
    return root


def from_fields_v1(fields: Mapping[str, Any] | None) -> set[Path]:
    out: set[Path] = set()

    def walk(node: Mapping[str, Any], path: Path) -> None:
        children = [k for k in node if k != "."]
        if path and ("." in node or not children):
            out.add(path)
        for k in children:
            kind, _, name = k.partition(":")
            v = node[k]
            walk(v if isinstance(v, Mapping) else {}, (*path, (kind, name)))

    walk(fields or {}, ())
    return out


# -- reading and editing values at paths


_MISSING = object()


def get(obj: Any, path: Path) -> Any:
    cur = obj
    for kind, name in path:
        if kind == "f":
            if not isinstance(cur, Mapping) or name not in cur:
                return _MISSING
            cur = cur[name]
        elif kind == "k":
            want = orjson.loads(name)
            if not isinstance(cur, list):
                return _MISSING
            cur = next(
                (
                    i
                    for i in cur
                    if isinstance(i, Mapping) and all(i.get(k) == v for k, v in want.items())
                ),
                _MISSING,
            )
            if cur is _MISSING:
                return _MISSING
        else:
            want = orjson.loads(name)
            if not isinstance(cur, list) or want not in cur:
                return _MISSING
            cur = want
    return cur


def remove(obj: Any, path: Path) -> None:
    if not path:
        return
    parent = get(obj, path[:-1]) if len(path) > 1 else obj
    kind, name = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif kind == "k" and isinstance(parent, list):
        want = orjson.loads(name)
        parent[:] = [
            i
            for i in parent
            if not (isinstance(i, Mapping) and all(i.get(k) == v for k, v in want.items()))
        ]
    elif kind == "v" and isinstance(parent, list):
        value = orjson.loads(name)
        parent[:] = [i for i in parent if i != value]


def merge(live: Any, applied: Any, schema: Schema | None) -> Any:
    """``applied`` merged into ``live``: maps field by field, list-maps by key,
    sets by value, the rest replaced."""
    if not isinstance(applied, Mapping) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    node = schema._resolve(schema.node) if schema is not None else {}
    if node.get("x-kubernetes-map-type") == "atomic":
        return copy.deepcopy(dict(applied))
    out = live
    for k, v in applied.items():
        sub, prop = schema.field(k) if schema is not None else (None, {})
        if sub is None and schema is not None:
            extra = node.get("additionalProperties")
            if isinstance(extra, Mapping):
                sub = Schema(schema._resolve(extra), schema.defs)
        current = out.get(k)
        if isinstance(v, list) and isinstance(current, list):
            kind, keys = _list_info(prop)
            item_schema = sub.items() if sub is not None else None
            if kind == "map" and keys:
                merged = list(current)
                for item in v:
                    if not isinstance(item, Mapping):
                        merged = copy.deepcopy(v)
                        break
                    kj = _key_json(item, keys)
                    idx = next(
                        (
                            n
                            for n, c in enumerate(merged)
                            if isinstance(c, Mapping) and _key_json(c, keys) == kj
                        ),
                        None,
                    )
                    if idx is None:
                        merged.append(copy.deepcopy(dict(item)))
                    else:
                        merged[idx] = merge(merged[idx], item, item_schema)
                out[k] = merged
            elif kind == "set":
                out[k] = list(current) + [copy.deepcopy(i) for i in v if i not in current]
            else:
                out[k] = copy.deepcopy(v)
        elif isinstance(v, Mapping) and isinstance(current, dict):
            out[k] = merge(current, v, sub)
        else:
            out[k] = copy.deepcopy(v)
    return out


@dataclass(frozen=True)
class Conflict:
    manager: str
    api_version: str
    path: Path

    def field(self) -> str:
        parts = []
        for kind, name in self.path:
            parts.append(f".{name}" if kind == "f" else f"[{kind}={name}]" if kind == "v" else (
                "[" + ",".join(f"{k}={v!s}" for k, v in orjson.loads(name).items()) + "]"
            ))  # fmt: skip
        return "".join(parts)


def conflicts(
    live: Any,
    applied: Any,
    applied_paths: set[Path],
    others: Iterable[tuple[str, str, set[Path]]],
) -> list[Conflict]:
    """Paths this apply sets to a new value that another manager owns."""
    out: list[Conflict] = []
    for manager, api_version, owned in others:
        for path in sorted(applied_paths & owned):
            if not path or path[-1][0] == "k":
                continue  # list item nodes: their fields decide
            want = get(applied, path)
            if isinstance(want, Mapping) and want:
                continue
            if get(live, path) != want:
                out.append(Conflict(manager, api_version, path))
    return out

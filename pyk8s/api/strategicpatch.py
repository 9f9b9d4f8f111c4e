"""Strategic merge patch, driven by the schema's patch strategies and merge keys.

Mirrors apimachinery ``pkg/util/strategicpatch/patch.go`` (``StrategicMergePatch``,
``mergeMap``, ``mergeSlice``): maps merge recursively and ``null`` deletes; a
list whose schema says ``x-kubernetes-patch-strategy: merge`` merges element by
element (maps by ``x-kubernetes-patch-merge-key``, primitives as a set); every
other list is replaced. Directives: ``$patch: replace|delete|merge``,
``$retainKeys``, ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``.

Pure: the caller passes a :class:`Schema` view (``None`` where no schema is
known, which makes lists atomic as in a JSON merge patch).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    """A patch that cannot be applied (bad directive, wrong shape), in apimachinery
    ``mergepatch``'s words; ``code`` is what upstream answers: 400 for the errors it
    knows as bad requests, 500 for the plain errors it passes through."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def _go(value: Any) -> str:
    from pyk8s.api import decoding  # decoding imports this module

    return decoding.go_format(value)


@dataclass(frozen=True)
class Schema:
    """One node of an OpenAPI/JSON schema, with ``$ref`` resolution over ``defs``."""

    node: Mapping[str, Any]
    defs: Mapping[str, Any]

    def _resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while True:
            ref = node.get("$ref")
            if ref is None and node.get("allOf"):
                ref = node["allOf"][0].get("$ref")
            if not isinstance(ref, str) or seen > 32:
                return node
            target = self.defs.get(ref.rsplit("/", 1)[-1])
            if target is None:
                return node
            node = target
            seen += 1

    def field(self, name: str) -> tuple[Schema | None, Mapping[str, Any]]:
        """The schema of property ``name`` and the property node itself (for extensions)."""
        props = self._resolve(self.node).get("properties") or {}
        prop = props.get(name)
        if not isinstance(prop, Mapping):
            return None, {}
        return Schema(self._resolve(prop), self.defs), prop

    def items(self) -> Schema | None:
        node = self._resolve(self.node)
        items = node.get("items")
        if not isinstance(items, Mapping):
            return None
        return Schema(self._resolve(items), self.defs)


def apply(original: Any, patch: Any, schema: Schema | None) -> Any:
    """``original`` with ``patch`` applied; neither argument is changed."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    if not isinstance(original, dict):
        original = {}
    return _merge_map(copy.deepcopy(original), patch, schema)


def _strip(value: Any, schema: Schema | None) -> Any:
    """A patch value that lands where nothing was: merge it into emptiness."""
    if isinstance(value, dict):
        if value.get(PATCH) == "delete":
            return None
        return _merge_map({}, value, schema)
    return copy.deepcopy(value)


def _merge_map(original: dict[str, Any], patch: Mapping[str, Any], schema: Schema | None) -> Any:
    directive = patch.get(PATCH)
    if directive == "replace":
        return {k: _strip(v, None) for k, v in patch.items() if k != PATCH}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch type: {directive} in map: {_go(dict(patch))}", 500)
    retain = patch.get(RETAIN_KEYS)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("invalid patch format of retainKeys")
        keep = set(retain)
        for k in list(original):
            if k not in keep:
                del original[k]
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in (PATCH, RETAIN_KEYS):
            continue
        if key.startswith(SET_ORDER):
            if not isinstance(value, list):
                raise PatchError("invalid patch format of setElementOrder list")
            orders[key[len(SET_ORDER) :]] = value
            continue
        if key.startswith(DELETE_PRIMITIVE):
            field = key[len(DELETE_PRIMITIVE) :]
            if not isinstance(value, list):
                raise PatchError("invalid patch format of primitive list")
            current = original.get(field)
            if isinstance(current, list):
                original[field] = [v for v in current if v not in value]
            continue
        sub, prop = schema.field(key) if schema is not None else (None, {})
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        strategy = str(prop.get("x-kubernetes-patch-strategy", ""))
        if isinstance(value, dict):
            if isinstance(current, dict):
                merged = _merge_map(current, value, sub)
            else:
                merged = _strip(value, sub)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list) and "merge" in strategy.split(","):
            merge_key = prop.get("x-kubernetes-patch-merge-key")
            items_schema = sub.items() if sub is not None else None
            original[key] = _merge_list(
                current if isinstance(current, list) else [],
                value,
                merge_key if isinstance(merge_key, str) else None,
                items_schema,
            )
        elif isinstance(value, list):
            original[key] = [_strip(v, sub.items() if sub else None) for v in value]
        else:
            original[key] = copy.deepcopy(value)
    for field, order in orders.items():
        current = original.get(field)
        if isinstance(current, list):
            sub, prop = schema.field(field) if schema is not None else (None, {})
            mk = prop.get("x-kubernetes-patch-merge-key")
            original[field] = _reorder(current, order, mk if isinstance(mk, str) else None)
    return original


def _merge_list(
    original: list[Any], patch: list[Any], merge_key: str | None, items: Schema | None
) -> list[Any]:
    if not patch and not original:
        return []
    if any(isinstance(p, dict) and p.get(PATCH) == "replace" for p in patch):
        return [
            _strip({k: v for k, v in p.items() if k != PATCH}, items)
            for p in patch
            if not (isinstance(p, dict) and set(p) == {PATCH})
        ]
    maps = any(isinstance(p, dict) for p in patch) or any(isinstance(o, dict) for o in original)
    if not maps:
        out = list(original)
        for p in patch:
            if p not in out:
                out.append(p)
        return out
    if merge_key is None:
        raise PatchError("a list of maps with patch strategy merge needs a merge key")
    out = list(original)
    for p in patch:
        if not isinstance(p, dict):
            raise PatchError("cannot mix maps and primitives in a merged list")
        if merge_key not in p:
            raise PatchError(f"map: {_go(p)} does not contain declared merge key: {merge_key}", 500)
        idx = next(
            (
                i
                for i, o in enumerate(out)
                if isinstance(o, dict) and o.get(merge_key) == p[merge_key]
            ),
            None,
        )
        directive = p.get(PATCH)
        if directive == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            merged = _strip(p, items)
            if merged is not None:
                out.append(merged)
        else:
            merged = _merge_map(out[idx], p, items)
            if merged is None:
                del out[idx]
            else:
                out[idx] = merged
    return out


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    """``$setElementOrder``: the listed elements in that order, then the others as they were."""

    def ident(x: Any) -> Any:
        if merge_key is not None and isinstance(x, dict):
            return x.get(merge_key)
        return x

    wanted = [ident(o) for o in order]
    placed: list[Any] = []
    rest: list[Any] = []
    by_id: dict[Any, list[Any]] = {}
    for it in items:
        key = ident(it)
        try:
            if key in wanted:
                by_id.setdefault(_hashable(key), []).append(it)
                continue
        except TypeError:
            pass
        rest.append(it)
    for w in wanted:
        bucket = by_id.get(_hashable(w))
        if bucket:
            placed.append(bucket.pop(0))
    return placed + rest


def _hashable(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in x.items()))
    if isinstance(x, list):
        return tuple(_hashable(v) for v in x)
    return x

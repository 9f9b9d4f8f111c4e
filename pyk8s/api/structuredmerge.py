"""Server-side apply's typed values: field sets, comparison, merge and pruning.

Our reduced form of sigs.k8s.io/structured-merge-diff as kube-apiserver uses it:
``typed.ToFieldSet`` (:func:`field_set`), ``typed.Compare`` (:func:`compare`),
``typed.Merge`` (:func:`merge`), ``RemoveItems`` (:func:`remove`), and
``fieldpath.Path.String`` / the FieldsV1 encoding. The schema gives each list
its kind: ``x-kubernetes-list-type: map`` items are named by their
``x-kubernetes-list-map-keys`` (``k:{"name":"a"}``), ``set`` items by value
(``v:"x"``), any other list is atomic (one leaf); ``x-kubernetes-map-type:
atomic`` maps are leaves too. Without a schema, lists are atomic and maps
are walked field by field.

Pure: objects are dicts, schemas are :class:`~pyk8s.api.strategicpatch.Schema`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyk8s.api.strategicpatch import Schema

PathElement = tuple[str, str]  # ("f", name) | ("k", json keys) | ("v", json value)
Path = tuple[PathElement, ...]

_SKIP_TOP = ("apiVersion", "kind", "status")
# stripMetaManager: the server's own metadata is nobody's field.
_SKIP_META = frozenset(
    ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
     "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name")
)  # fmt: skip
# Keys the OpenAPI schema defaults (``+default="TCP"``): an item that leaves them out
# is the same item as the stored, defaulted one.
_KEY_DEFAULTS = {"protocol": "TCP"}

_MISSING: Any = object()


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _node(schema: Schema | None) -> Mapping[str, Any]:
    return schema._resolve(schema.node) if schema is not None else {}


Child = tuple[Schema | None, Mapping[str, Any], bool]
# (id of a schema node, key) -> (that node, its child): schema nodes live as long as the
# loaded definitions, and the node kept beside the answer guards against a reused id.
_CHILDREN: dict[tuple[int, str], tuple[Mapping[str, Any], Child]] = {}
_ITEMS: dict[int, tuple[Mapping[str, Any], Schema | None]] = {}


def _child(schema: Schema | None, key: str) -> Child:
    """Schema of ``key`` in a map, its property node, and whether it is a named field."""
    if schema is None:
        return None, {}, False
    ck = (id(schema.node), key)
    hit = _CHILDREN.get(ck)
    if hit is not None and hit[0] is schema.node:
        return hit[1]
    found = _find_child(schema, key)
    _CHILDREN[ck] = (schema.node, found)
    return found


ZERO_KEY = "x-pyk8s-zero"
"""In a definition: the properties its Go zero value holds (no ``omitempty``, or a
non-pointer struct), derived at build time from k8s.io/api's Go sources
(``pyk8s.apiserver.openapi_enums.derive_zero_fields``) and set by the server."""


def _zero(schema: Schema | None) -> Any:
    """The zero-present properties of ``schema``'s definition; None when unknown."""
    return _node(schema).get(ZERO_KEY)


def _own_node(schema: Schema | None, key: str, value: Any, parent_present: bool) -> bool:
    """Whether a named field added with ``value`` (a non-empty map or list) is a node of
    its own, as structured-merge-diff finds it comparing with the old object: it is,
    unless the field already existed there (the parent existed and the Go zero value
    holds the field). Without the build-time facts, named fields are never nodes."""
    zero = _zero(schema)
    if zero is None or not isinstance(value, dict | list) or not value:
        return False
    return not (parent_present and key in zero)


def _items(schema: Schema | None) -> Schema | None:
    if schema is None:
        return None
    hit = _ITEMS.get(id(schema.node))
    if hit is not None and hit[0] is schema.node:
        return hit[1]
    found = schema.items()
    _ITEMS[id(schema.node)] = (schema.node, found)
    return found


def _find_child(schema: Schema, key: str) -> Child:
    sub, prop = schema.field(key)
    if sub is not None:
        return sub, prop, True
    extra = _node(schema).get("additionalProperties")
    if isinstance(extra, dict):
        return Schema(schema._resolve(extra), schema.defs), extra, False
    return None, {}, False


def _list_info(prop: Mapping[str, Any]) -> tuple[str, list[str]]:
    kind = str(prop.get("x-kubernetes-list-type", ""))
    keys = list(prop.get("x-kubernetes-list-map-keys") or [])
    if not kind and prop.get("x-kubernetes-patch-strategy", "").startswith("merge"):
        merge_key = prop.get("x-kubernetes-patch-merge-key")
        kind, keys = ("map", [merge_key]) if merge_key else ("set", [])
    if kind == "map" and not keys:
        kind = "atomic"
    return kind or "atomic", keys


def _atomic_map(schema: Schema | None) -> bool:
    return _node(schema).get("x-kubernetes-map-type") == "atomic"


def item_element(item: Any, kind: str, keys: list[str]) -> PathElement | None:
    """The path element naming one item of a list-map or set (None: not nameable)."""
    if kind == "map":
        if not isinstance(item, dict):
            return None
        named = {}
        for k in keys:
            if k in item:
                named[k] = item[k]
            elif k in _KEY_DEFAULTS:
                named[k] = _KEY_DEFAULTS[k]
        return ("k", _dumps(named))
    if kind == "set":
        return ("v", _dumps(item))
    return None


Index = tuple[list[PathElement], dict[PathElement, Any]]


def _index(items: list[Any], kind: str, keys: list[str]) -> Index | None:
    order: list[PathElement] = []
    seen: dict[PathElement, Any] = {}
    for item in items:
        pe = item_element(item, kind, keys)
        if pe is None:
            return None
        if pe not in seen:
            seen[pe] = item
            order.append(pe)
    return order, seen


# -- field sets


def strip(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an object that managers own: no apiVersion/kind/status, no server metadata."""
    top = {k: v for k, v in obj.items() if k not in _SKIP_TOP}
    md = top.get("metadata")
    if isinstance(md, dict):
        kept = {k: v for k, v in md.items() if k not in _SKIP_META}
        if kept:
            top["metadata"] = kept
        else:
            del top["metadata"]
    return top


def field_set(obj: Mapping[str, Any], schema: Schema | None) -> set[Path]:
    """The paths an applied configuration sets (``ToFieldSet``): leaves, map entries, list items."""
    out: set[Path] = set()
    _collect(strip(obj), schema, (), out)
    return out


def _collect(value: Any, schema: Schema | None, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if path and (not value or _atomic_map(schema)):
            out.add(path)
            return
        for k, v in value.items():
            sub, prop, named = _child(schema, k)
            child = (*path, ("f", k))
            if not named and schema is not None:
                out.add(child)
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
    indexed = _index(items, kind, keys) if kind != "atomic" and items else None
    if indexed is None:
        out.add(path)
        return
    item_schema = _items(schema)
    for pe, item in indexed[1].items():
        item_path = (*path, pe)
        out.add(item_path)
        if kind == "map":
            _collect(item, item_schema, item_path, out)


# -- comparison


@dataclass
class Comparison:
    """What changed from one object to another (``typed.Comparison``)."""

    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)

    def empty(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def changed(self) -> set[Path]:
        return self.added | self.modified


def compare(lhs: Mapping[str, Any], rhs: Mapping[str, Any], schema: Schema | None) -> Comparison:
    """Leaves and nodes added, modified and removed from ``lhs`` to ``rhs``.

    Maps of named struct fields are not nodes of their own (as Go's non-pointer
    structs, which exist empty in any object); map entries and list items are.
    """
    c = Comparison()
    _compare(strip(lhs), strip(rhs), schema, {}, (), c, True)
    return c


def _leaf(lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    if lhs is _MISSING:
        c.added.add(path)
    elif rhs is _MISSING:
        c.removed.add(path)
    elif lhs != rhs:
        c.modified.add(path)


def _compare(
    lhs: Any,
    rhs: Any,
    schema: Schema | None,
    prop: Mapping[str, Any],
    path: Path,
    c: Comparison,
    present: bool,
) -> None:
    """``present``: whether ``lhs`` exists in the old object (as a Go zero value may)."""
    ldict, rdict = isinstance(lhs, dict), isinstance(rhs, dict)
    llist, rlist = isinstance(lhs, list), isinstance(rhs, list)
    if (ldict or lhs is _MISSING) and (rdict or rhs is _MISSING) and (ldict or rdict):
        ld = {} if lhs is _MISSING else lhs
        rd = {} if rhs is _MISSING else rhs
        if not path or not (_atomic_map(schema) or (not ld and not rd)):
            _compare_map(ld, rd, schema, path, c, present or lhs is not _MISSING)
            return
    elif (llist or lhs is _MISSING) and (rlist or rhs is _MISSING) and (llist or rlist):
        kind, keys = _list_info(prop)
        ll = [] if lhs is _MISSING else lhs
        rl = [] if rhs is _MISSING else rhs
        if kind != "atomic" and (ll or rl) and _compare_list(ll, rl, schema, kind, keys, path, c):
            return
    _leaf(lhs, rhs, path, c)


def _compare_map(
    lhs: Mapping[str, Any],
    rhs: Mapping[str, Any],
    schema: Schema | None,
    path: Path,
    c: Comparison,
    present: bool = True,
) -> None:
    zero = _zero(schema)
    for k in {**lhs, **rhs}:
        lv, rv = lhs.get(k, _MISSING), rhs.get(k, _MISSING)
        if lv is not _MISSING and rv is not _MISSING and lv == rv:
            continue  # equal subtrees differ nowhere (most of an update)
        sub, prop, named = _child(schema, k)
        child = (*path, ("f", k))
        held = lv is not _MISSING or (present and zero is not None and k in zero)
        _compare(lv, rv, sub, prop, child, c, held)
        if not named and (isinstance(lv, dict | list) or isinstance(rv, dict | list)):
            _node_hook(lv, rv, child, c)
        elif (
            named
            and lv is _MISSING
            and _own_node(schema, k, rv, present)
            and _is_node(rv, sub, prop)
        ):
            c.added.add(child)


def _node_hook(lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    if lhs is _MISSING:
        c.added.add(path)
    elif rhs is _MISSING:
        c.removed.add(path)


def _compare_list(
    lhs: list[Any],
    rhs: list[Any],
    schema: Schema | None,
    kind: str,
    keys: list[str],
    path: Path,
    c: Comparison,
) -> bool:
    li, ri = _index(lhs, kind, keys), _index(rhs, kind, keys)
    if li is None or ri is None:
        return False
    item_schema = _items(schema)
    for pe in {**li[1], **ri[1]}:
        lv, rv = li[1].get(pe, _MISSING), ri[1].get(pe, _MISSING)
        if lv is not _MISSING and rv is not _MISSING and lv == rv:
            continue
        child = (*path, pe)
        if kind == "map":
            _compare(lv, rv, item_schema, {}, child, c, lv is not _MISSING)
            _node_hook(lv, rv, child, c)
        else:
            _leaf(lv, rv, child, c)
    return True


def added_fields_v1(obj: Mapping[str, Any], schema: Schema | None) -> dict[str, Any]:
    """``to_fields_v1(compare({}, obj, schema).changed())`` built in one walk: what a
    create gives its manager, without the path set in between."""
    return _sorted_node(_added_map(strip(obj), schema, True))


def _is_node(value: Any, schema: Schema | None, prop: Mapping[str, Any]) -> bool:
    """A map or list compared field by field (not a leaf: atomic, or empty)."""
    if isinstance(value, dict):
        return bool(value) and not _atomic_map(schema)
    if isinstance(value, list):
        kind, keys = _list_info(prop)
        return kind != "atomic" and bool(value) and _index(value, kind, keys) is not None
    return False


def _added_map(
    value: Mapping[str, Any], schema: Schema | None, present: bool = False
) -> dict[str, Any]:
    """``present``: the map exists in a create's old object (the Go zero value)."""
    out: dict[str, Any] = {}
    zero = _zero(schema)
    for k, v in value.items():
        sub, prop, named = _child(schema, k)
        held = present and zero is not None and k in zero
        member, children = _added_value(v, sub, prop, held)
        if not named and isinstance(v, dict | list):
            member = True  # a map entry or list item is a node of its own
        elif named and _own_node(schema, k, v, present) and _is_node(v, sub, prop):
            member = True
        out["f:" + k] = _fields_node(member, children)
    return out


def _added_value(
    value: Any, schema: Schema | None, prop: Mapping[str, Any], present: bool = False
) -> tuple[bool, dict[str, Any] | None]:
    """(whether the value's own path is a member, its children's FieldsV1), as
    ``_compare(_MISSING, value, ...)`` below a non-root path adds them."""
    if isinstance(value, dict):
        if not value or _atomic_map(schema):
            return True, None
        return False, _added_map(value, schema, present)
    if isinstance(value, list):
        kind, keys = _list_info(prop)
        indexed = _index(value, kind, keys) if kind != "atomic" and value else None
        if indexed is None:
            return True, None
        item_schema = _items(schema)
        children: dict[str, Any] = {}
        for pe, item in indexed[1].items():
            if kind == "map":
                _member, grand = _added_value(item, item_schema, {})
                children[f"{pe[0]}:{pe[1]}"] = _fields_node(True, grand)
            else:
                children[f"{pe[0]}:{pe[1]}"] = {}
        return False, children
    return True, None


def _fields_node(member: bool, children: dict[str, Any] | None) -> dict[str, Any]:
    if not children:
        return {}
    if member:
        children["."] = {}
    return children


def _sorted_node(node: dict[str, Any]) -> dict[str, Any]:
    """FieldsV1 keys in upstream's order ("." first, then sorted), all the way down."""
    return {k: _sorted_node(node[k]) if node[k] else {} for k in sorted(node, key=_fv_order)}


def _fv_order(key: str) -> tuple[bool, str]:
    return (key != ".", key)


def insert_fields_v1(fields: Mapping[str, Any], paths: Iterable[Path]) -> dict[str, Any]:
    """``to_fields_v1(from_fields_v1(fields) | set(paths))`` without decoding ``fields``:
    the nodes on each new path are copied, the rest is shared with ``fields``."""
    out = dict(fields)
    for path in paths:
        if path:
            out = _insert(out, path, 0)
    return out


def _insert(node: Mapping[str, Any], path: Path, i: int) -> dict[str, Any]:
    kind, name = path[i]
    key = f"{kind}:{name}"
    child = node.get(key)
    if i == len(path) - 1:
        if child is None:
            new_child: dict[str, Any] = {}
        elif child and "." not in child:
            new_child = {".": {}, **child}  # a node with children becomes a member too
        else:
            return dict(node)  # already a member
    elif child is None:
        new_child = _insert({}, path, i + 1)
    elif not child:
        new_child = _insert({".": {}}, path, i + 1)  # a leaf member gains children
    else:
        new_child = _insert(child, path, i + 1)
    out = dict(node)
    out[key] = new_child
    return {k: out[k] for k in sorted(out, key=_fv_order)}


# -- merge


def merge(live: Any, applied: Any, schema: Schema | None) -> Any:
    """``applied`` merged into a copy of ``live``: maps field by field, list-maps by key,
    sets by value, the rest replaced; items keep live's order, new ones follow the
    applied order (``typed.Merge``)."""
    return _merge(live, applied, schema, {})


def _merge(live: Any, applied: Any, schema: Schema | None, prop: Mapping[str, Any]) -> Any:
    if isinstance(applied, dict) and isinstance(live, dict) and not _atomic_map(schema):
        out = dict(live)
        for k, v in applied.items():
            sub, sprop, _named = _child(schema, k)
            out[k] = _merge(live.get(k, _MISSING), v, sub, sprop)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        kind, keys = _list_info(prop)
        if kind != "atomic":
            merged = _merge_list(live, applied, schema, kind, keys)
            if merged is not None:
                return merged
    return copy.deepcopy(applied)


def _merge_list(
    live: list[Any], applied: list[Any], schema: Schema | None, kind: str, keys: list[str]
) -> list[Any] | None:
    li, ai = _index(live, kind, keys), _index(applied, kind, keys)
    if li is None or ai is None:
        return None
    item_schema = _items(schema)
    lorder, litems = li
    aorder, aitems = ai
    # Live items stay where they are relative to the applied ones; applied items come
    # in the applied order, each merged with its live counterpart.
    out: list[Any] = []
    done: set[PathElement] = set()
    shared = [pe for pe in aorder if pe in litems]
    nxt = 0  # index in shared of the next shared item due
    lpos = rpos = 0
    while lpos < len(lorder) or rpos < len(aorder):
        if lpos < len(lorder):
            lpe = lorder[lpos]
            if lpe in done:
                lpos += 1
                continue
            if lpe not in aitems:
                out.append(copy.deepcopy(litems[lpe]))
                done.add(lpe)
                lpos += 1
                continue
            if rpos >= len(aorder) or (nxt < len(shared) and shared[nxt] != lpe):
                lpos += 1  # a shared item whose turn comes later
                continue
        if rpos < len(aorder):
            ape = aorder[rpos]
            if kind == "map":
                out.append(_merge(litems.get(ape, _MISSING), aitems[ape], item_schema, {}))
            else:
                out.append(copy.deepcopy(aitems[ape]))
            done.add(ape)
            if nxt < len(shared) and shared[nxt] == ape:
                nxt += 1
            rpos += 1
    return out


# -- reading and removing values at paths


def get(obj: Any, path: Path) -> Any:
    cur = obj
    for kind, name in path:
        if kind == "f":
            if not isinstance(cur, dict) or name not in cur:
                return _MISSING
            cur = cur[name]
            continue
        if not isinstance(cur, list):
            return _MISSING
        want = orjson.loads(name)
        if kind == "k":
            cur = next((i for i in cur if _key_matches(i, want)), _MISSING)
        else:
            cur = want if want in cur else _MISSING
        if cur is _MISSING:
            return _MISSING
    return cur


def exists(obj: Any, path: Path) -> bool:
    return get(obj, path) is not _MISSING


def _key_matches(item: Any, want: Mapping[str, Any]) -> bool:
    if not isinstance(item, dict):
        return False
    return all(item.get(k, _KEY_DEFAULTS.get(k)) == v for k, v in want.items())


def remove(obj: Any, paths: Iterable[Path], keep: set[Path] | None = None) -> None:
    """Remove the values at ``paths`` from ``obj`` in place, shallowest first; a path with a
    descendant in ``keep`` (owned by someone else) stays."""
    keep_prefixes: set[Path] = set()
    for p in keep or ():
        for n in range(1, len(p)):
            keep_prefixes.add(p[:n])
    for path in sorted(paths, key=len):
        if not path or path in keep_prefixes:
            continue
        parent = get(obj, path[:-1]) if len(path) > 1 else obj
        kind, name = path[-1]
        if kind == "f" and isinstance(parent, dict):
            parent.pop(name, None)
        elif kind in ("k", "v") and isinstance(parent, list):
            want = orjson.loads(name)
            if kind == "k":
                parent[:] = [i for i in parent if not _key_matches(i, want)]
            else:
                parent[:] = [i for i in parent if i != want]


# -- FieldsV1 and path strings


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """The FieldsV1 tree of a set of paths (``"."`` marks a member that has children)."""
    root: dict[str, Any] = {}
    members = set(paths)
    for path in sorted(members):
        node = root
        for kind, name in path:
            node = node.setdefault(f"{kind}:{name}", {})
    _mark(root, (), members)
    return root


def _mark(node: dict[str, Any], path: Path, members: set[Path]) -> None:
    for key, child in node.items():
        if key == ".":
            continue
        kind, _, name = key.partition(":")
        sub = (*path, (kind, name))
        if child:
            if sub in members:
                child["."] = {}
            _mark(child, sub, members)
    # FieldsV1 keys are sorted with "." first, as upstream serialises them
    items = sorted(node.items(), key=lambda kv: (kv[0] != ".", kv[0]))
    node.clear()
    node.update(items)


def from_fields_v1(fields: Mapping[str, Any] | None) -> set[Path]:
    out: set[Path] = set()

    def walk(node: Mapping[str, Any], path: Path) -> None:
        children = [k for k in node if k != "."]
        if path and ("." in node or not children):
            out.add(path)
        for k in children:
            kind, _, name = k.partition(":")
            v = node[k]
            walk(v if isinstance(v, dict) else {}, (*path, (kind, name)))

    walk(fields or {}, ())
    return out


def _value_string(value: Any) -> str:
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_value_string(v)}" for k, v in value.items())
    return str(value)


def path_string(path: Path) -> str:
    """``fieldpath.Path.String``: ``.spec.containers[name="a"].image``, ``[="x"]`` for sets."""
    parts = []
    for kind, name in path:
        if kind == "f":
            parts.append("." + name)
        elif kind == "k":
            keys = orjson.loads(name)
            parts.append("[" + ",".join(f"{k}={_value_string(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            parts.append(f"[={_value_string(orjson.loads(name))}]")
        else:
            parts.append(f"[{name}]")
    return "".join(parts)

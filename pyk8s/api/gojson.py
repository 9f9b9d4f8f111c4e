"""Objects of the built-in kinds shaped as kube-apiserver's Go JSON encoding writes them.

Upstream decodes every body into Go structs and encodes the structs back: what is stored
and read back is what ``encoding/json`` writes for them. So ``hostNetwork: false``,
``nodeName: ""`` or ``null``, ``labels: {}`` and ``args: []`` disappear (``omitempty``
fields holding their zero value), while fields without ``omitempty`` are always written:
a new DaemonSet's ``status`` reads ``currentNumberScheduled: 0`` and its siblings, a pod
template's metadata reads ``creationTimestamp: null``, a Role without rules
``rules: null``, a Service's status ``loadBalancer: {}``.

How each field is encoded comes from k8s.io/api's Go sources, derived at build time
(``pyk8s.apiserver.openapi_enums.derive_go_fields``) and set on the schema's definitions
under :data:`GO_KEY` by the server; without it nothing changes. A code per property:

- ``o``: ``omitempty`` and no pointer: left out when null or empty;
- ``p``: a pointer with ``omitempty``: left out when null (``replicas: 0`` stays);
- ``P``: a pointer without ``omitempty``: written, null included;
- ``s``: a struct that is no pointer: always written, its zero value when missing
  (``{}`` filled in turn; a ``Time`` is null, an ``IntOrString`` 0, a ``Quantity`` "0");
- ``z``: any other field without ``omitempty``: always written, its zero value (``""``,
  ``0``, ``false``, null for lists and maps) when missing.

A plan per definition is computed once; the walk is in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.api.strategicpatch import Schema

GO_KEY = "x-pyk8s-go"
"""In a definition: ``{property: code}`` (see the module docstring), set by the server."""

_TIME = frozenset(
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    )
)
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

_NO_FILL = object()


class _Prop:
    __slots__ = ("code", "kind", "ref")

    def __init__(self, code: str, kind: str, ref: str | None) -> None:
        self.code = code  # o p P s z
        self.kind = kind  # obj list map str int bool time ios qty other
        self.ref = ref  # the definition of an object, of list items or of map values


class _Plan:
    __slots__ = ("fills", "props")

    def __init__(self, props: dict[str, _Prop], fills: list[tuple[str, _Prop]]) -> None:
        self.props = props
        self.fills = fills


def _ref_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    if ref is None and isinstance(node.get("allOf"), list) and node["allOf"]:
        ref = node["allOf"][0].get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type(node: Mapping[str, Any]) -> str:
    """The JSON type of a node (the schemas write nullable ones as ``[t, "null"]``)."""
    t = node.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    return t if isinstance(t, str) else ""


def _scalar_kind(node: Mapping[str, Any]) -> str:
    kinds = {"string": "str", "integer": "int", "number": "int", "boolean": "bool"}
    return kinds.get(_type(node), "other")


class _Planner:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        self.plans: dict[str, _Plan | None] = {}

    def plan(self, name: str) -> _Plan | None:
        if name in self.plans:
            return self.plans[name]
        node = self.defs.get(name)
        codes = node.get(GO_KEY) if isinstance(node, Mapping) else None
        props_node = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(codes, Mapping) or not isinstance(props_node, Mapping):
            self.plans[name] = None
            return None
        props: dict[str, _Prop] = {}
        fills: list[tuple[str, _Prop]] = []
        for key, code in codes.items():
            sub = props_node.get(key)
            if not isinstance(sub, Mapping):
                continue  # a field the 1.33 schema does not have
            prop = self._prop(str(code), sub)
            props[key] = prop
            if prop.code in ("s", "z", "P") and _zero(prop) is not _NO_FILL:
                fills.append((key, prop))
        plan = _Plan(props, fills)
        self.plans[name] = plan
        return plan

    def _kind_of_def(self, name: str) -> str:
        if name in _TIME:
            return "time"
        if name == _INT_OR_STRING:
            return "ios"
        if name == _QUANTITY:
            return "qty"
        node = self.defs.get(name)
        if not isinstance(node, Mapping):
            return "other"
        if isinstance(node.get("properties"), Mapping):
            return "obj"
        if _type(node) == "object" and isinstance(node.get("additionalProperties"), Mapping):
            return "map"
        return _scalar_kind(node)

    def _prop(self, code: str, node: Mapping[str, Any]) -> _Prop:
        ref = _ref_name(node)
        if ref is not None:
            kind = self._kind_of_def(ref)
            return _Prop(code, kind, ref if kind == "obj" else None)
        t = _type(node)
        if t == "array":
            items = node.get("items")
            item_ref = _ref_name(items) if isinstance(items, Mapping) else None
            return _Prop(code, "list", item_ref)
        extra = node.get("additionalProperties")
        if t == "object" and isinstance(extra, Mapping):
            return _Prop(code, "map", _ref_name(extra))
        return _Prop(code, _scalar_kind(node), None)


def _zero(prop: _Prop) -> Any:
    """The value Go writes for the zero value of ``prop``; ``_NO_FILL``: leave it missing."""
    kind = prop.kind
    if prop.code == "s":
        if kind == "time":
            return None
        if kind == "ios":
            return 0
        if kind == "qty":
            return "0"
        return {} if kind == "obj" else _NO_FILL
    if prop.code == "P":
        return None
    if prop.code == "z":
        return {"str": "", "int": 0, "bool": False, "list": None, "map": None, "time": None}.get(
            kind, {} if kind == "obj" else _NO_FILL
        )
    return _NO_FILL


def _empty(value: Any) -> bool:
    if value is None or value is False or value == "":
        return True
    if isinstance(value, (list, dict)):
        return not value
    return type(value) in (int, float) and value == 0


class _Walker:
    def __init__(self, planner: _Planner, fill: bool) -> None:
        self.planner = planner
        self.fill = fill

    def obj(self, value: dict[str, Any], name: str) -> None:
        plan = self.planner.plan(name)
        if plan is None:
            return
        props = plan.props
        fill = self.fill
        dropped: list[str] | None = None
        for key, v in value.items():
            prop = props.get(key)
            if prop is None:
                continue
            code = prop.code
            if v is None:
                if code in ("o", "p"):
                    dropped = dropped or []
                    dropped.append(key)
                elif fill and code in ("s", "z"):
                    zero = _zero(prop)
                    if zero is not _NO_FILL and zero is not None:
                        value[key] = zero  # an existing key: no resize while iterating
                        if prop.ref is not None:
                            self.descend(zero, prop)
                continue
            if code == "o" and prop.kind != "obj" and _empty(v):
                dropped = dropped or []
                dropped.append(key)
                continue
            if prop.ref is not None:
                self.descend(v, prop)
        if dropped:
            for key in dropped:
                del value[key]
        if fill:
            for key, prop in plan.fills:
                if key not in value:
                    zero = _zero(prop)
                    value[key] = zero
                    if isinstance(zero, dict) and prop.ref is not None:
                        self.descend(zero, prop)

    def descend(self, value: Any, prop: _Prop) -> None:
        ref = prop.ref
        assert ref is not None
        kind = prop.kind
        if kind == "obj":
            if type(value) is dict:
                self.obj(value, ref)
        elif kind == "list":
            if type(value) is list:
                for item in value:
                    if type(item) is dict:
                        self.obj(item, ref)
        elif kind == "map" and type(value) is dict:
            for item in value.values():
                if type(item) is dict:
                    self.obj(item, ref)


_PLANNERS: dict[int, _Planner] = {}


def _def_of(schema: Schema) -> str | None:
    node = schema.node
    name = _ref_name(node)
    if name is not None:
        return name
    gvks = node.get("x-kubernetes-group-version-kind")
    if isinstance(gvks, list):
        # the kind's own definition: find its name (once per node, cached by the planner)
        for key, value in schema.defs.items():
            if value is node:
                return str(key)
    return None


_NAMES: dict[int, tuple[Mapping[str, Any], str | None]] = {}


def _same_kind(obj: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is of the definition's kind: a store that keeps another version
    (events.k8s.io Events are stored as core Events) is handed the served version's schema."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    gvks = node.get("x-kubernetes-group-version-kind")
    if not api_version or not kind or not isinstance(gvks, list):
        return True
    for gvk in gvks:
        group, version = gvk.get("group", ""), gvk.get("version", "")
        if gvk.get("kind") == kind and (f"{group}/{version}" if group else version) == api_version:
            return True
    return False


def normalize(obj: dict[str, Any], schema: Schema | None, *, fill: bool = True) -> None:
    """Rewrites ``obj`` (a whole object of ``schema``'s kind) in place as Go would encode
    it; ``fill=False`` only leaves out what Go leaves out (as decoding a body does)."""
    if schema is None:
        return
    hit = _NAMES.get(id(schema.node))
    if hit is None or hit[0] is not schema.node:
        hit = (schema.node, _def_of(schema))
        _NAMES[id(schema.node)] = hit
    name = hit[1]
    if name is None or not _same_kind(obj, schema.node):
        return
    planner = _PLANNERS.get(id(schema.defs))
    if planner is None or planner.defs is not schema.defs:
        planner = _PLANNERS[id(schema.defs)] = _Planner(schema.defs)
    _Walker(planner, fill).obj(obj, name)

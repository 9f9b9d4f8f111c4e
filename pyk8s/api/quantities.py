"""Every ``Quantity`` of an object written in its canonical form, as kube-apiserver stores it.

Upstream decodes a body into Go structs, where a quantity becomes a ``resource.Quantity``,
and encodes it back with ``Quantity.String()``: ``cpu: 0.5`` is stored and read back as
``"500m"``, ``memory: 1024Mi`` as ``"1Gi"``, a JSON number ``1`` as the string ``"1"``.
The quantity fields are found through the kind's schema (properties whose ``$ref`` is
``io.k8s.apimachinery.pkg.api.resource.Quantity``, directly, as map values or as list
items); a plan per definition is computed once. Values that are not quantities are left
alone: validation reports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.api import resource
from pyk8s.api.strategicpatch import Schema

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# A plan: "q" (a quantity), ("map", plan) (values), ("list", plan) (items),
# ("obj", {property: plan}).
Plan = Any


def _ref(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    if ref is None and isinstance(node.get("allOf"), list) and node["allOf"]:
        ref = node["allOf"][0].get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


class _Planner:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        self.plans: dict[str, Plan] = {}
        self.busy: set[str] = set()

    def definition(self, name: str) -> Plan:
        if name == QUANTITY:
            return "q"
        if name in self.plans:
            return self.plans[name]
        if name in self.busy:
            return None  # recursive types (JSONSchemaProps) carry no quantities
        self.busy.add(name)
        node = self.defs.get(name)
        plan = self.node(node) if isinstance(node, Mapping) else None
        self.busy.discard(name)
        self.plans[name] = plan
        return plan

    def node(self, node: Mapping[str, Any]) -> Plan:
        ref = _ref(node)
        if ref is not None:
            return self.definition(ref)
        props = node.get("properties")
        if isinstance(props, Mapping):
            found = {}
            for key, sub in props.items():
                if isinstance(sub, Mapping):
                    plan = self.node(sub)
                    if plan is not None:
                        found[key] = plan
            return ("obj", found) if found else None
        for key, kind in (("additionalProperties", "map"), ("items", "list")):
            sub = node.get(key)
            if isinstance(sub, Mapping):
                plan = self.node(sub)
                return (kind, plan) if plan is not None else None
        return None


_PLANNERS: dict[int, _Planner] = {}


def plan_for(schema: Schema) -> Plan:
    """The plan of ``schema``'s node (definitions planned once per set of definitions)."""
    planner = _PLANNERS.get(id(schema.defs))
    if planner is None or planner.defs is not schema.defs:
        planner = _PLANNERS[id(schema.defs)] = _Planner(schema.defs)
    return planner.node(schema.node)


def _apply(value: Any, plan: Plan) -> Any:
    if plan == "q":
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                return resource.canonical(value)
            except resource.QuantityError:
                return value
        return value
    kind, sub = plan
    if kind == "obj" and isinstance(value, dict):
        for key, p in sub.items():
            if key in value:
                value[key] = _apply(value[key], p)
    elif kind == "map" and isinstance(value, dict):
        for key in value:
            value[key] = _apply(value[key], sub)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = _apply(item, sub)
    return value


def canonicalize(obj: dict[str, Any], schema: Schema | None) -> None:
    """Rewrites the quantities of ``obj`` (a whole object of ``schema``'s kind) in place."""
    if schema is None:
        return
    plan = plan_for(schema)
    if plan is not None:
        _apply(obj, plan)


FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
"""``resource.ErrFormatWrong``: what decoding a body says of a quantity that does not parse."""


def _first_invalid(value: Any, plan: Plan) -> bool:
    if plan == "q":
        if value is None:
            return False
        try:
            resource.parse_quantity(value)
        except resource.QuantityError:
            return True
        return False
    kind, sub = plan
    if kind == "obj" and isinstance(value, dict):
        return any(key in value and _first_invalid(value[key], p) for key, p in sub.items())
    if kind == "map" and isinstance(value, dict):
        return any(_first_invalid(v, sub) for v in value.values())
    if kind == "list" and isinstance(value, list):
        return any(_first_invalid(v, sub) for v in value)
    return False


def invalid(obj: dict[str, Any], schema: Schema | None) -> str | None:
    """:data:`FORMAT_ERROR` when a quantity of ``obj`` does not parse, else None."""
    if schema is None:
        return None
    plan = plan_for(schema)
    if plan is not None and _first_invalid(obj, plan):
        return FORMAT_ERROR
    return None

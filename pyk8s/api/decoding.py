"""Wrong JSON types, reported as the Go decoders of kube-apiserver report them.

Upstream decodes every body into Go structs, and a value of the wrong JSON type
fails there, before any validation, with the decoder's own words. Three
decoders meet bodies, and each has its message:

- ``encoding/json`` (sigs.k8s.io/json), for create, update, JSON patch and merge
  patch: ``json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32`` (:func:`unmarshal_error`);
- the unstructured converter (apimachinery ``runtime/converter.go``
  ``fromUnstructured``), for the result of a strategic merge patch:
  ``cannot restore map from string`` (:func:`converter_error`);
- structured-merge-diff's typed values (``typed/validate.go``), for a
  server-side apply configuration: ``.spec.replicas: expected numeric (int or
  float), got string`` (:func:`apply_error`).

The Go type of a field comes from the schema (``format: int32`` is ``int32``,
``$ref`` ``io.k8s.api.apps.v1.DeploymentSpec`` is ``v1.DeploymentSpec``). Types
with their own decoders (quantities, int-or-string, times, raw extensions)
accept anything here; their validation speaks for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.api.strategicpatch import Schema

_CUSTOM = frozenset(
    (
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Duration",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
    )
)


@dataclass(frozen=True)
class GoType:
    """What a schema node decodes into: a Go kind and the type's printed name."""

    kind: str  # struct map slice string int float bool any
    name: str
    node: Mapping[str, Any]
    schema: Schema | None


def _types(node: Mapping[str, Any]) -> list[str]:
    t = node.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if x != "null"]
    return []


def _def_name(schema: Schema, node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    if ref is None and node.get("allOf"):
        ref = node["allOf"][0].get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


# id of a property node -> (that node, its Go type); the node guards against a reused id
_TYPES: dict[int, tuple[Mapping[str, Any], GoType]] = {}


def go_type(schema: Schema, node: Mapping[str, Any]) -> GoType:
    """The Go type a property node (before ``$ref`` resolution) decodes into."""
    hit = _TYPES.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    found = _go_type(schema, node)
    _TYPES[id(node)] = (node, found)
    return found


def _go_type(schema: Schema, node: Mapping[str, Any]) -> GoType:
    ref = _def_name(schema, node)
    if ref is not None:
        if ref in _CUSTOM:
            return GoType("any", "", {}, None)
        target = schema.defs.get(ref)
        if not isinstance(target, Mapping):
            return GoType("any", "", {}, None)
        parts = ref.split(".")
        name = f"{parts[-2]}.{parts[-1]}" if len(parts) > 1 else ref
        inner = _go_type(
            Schema(target, schema.defs), {k: v for k, v in target.items() if k != "$ref"}
        )
        if inner.kind == "struct":
            return GoType("struct", name, target, Schema(target, schema.defs))
        return GoType(inner.kind, name if inner.kind in ("string", "int", "bool") else inner.name,
                      inner.node, inner.schema)  # fmt: skip
    types = _types(node)
    if not types:
        return GoType("any", "", {}, None)
    t = types[0]
    if t == "object":
        if isinstance(node.get("properties"), Mapping) and node["properties"]:
            return GoType("struct", "", node, Schema(node, schema.defs))
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            elem = go_type(schema, extra)
            if elem.kind == "any" and not elem.name:
                return GoType("any", "", {}, None)
            return GoType("map", f"map[string]{elem.name}", node, Schema(extra, schema.defs))
        return GoType("any", "", {}, None)
    if t == "array":
        items = node.get("items")
        if not isinstance(items, Mapping):
            return GoType("any", "", {}, None)
        elem = go_type(schema, items)
        if elem.kind == "any" and not elem.name:
            return GoType("any", "", {}, None)
        return GoType("slice", f"[]{elem.name}", node, Schema(items, schema.defs))
    if t == "string":
        if node.get("format") == "byte":
            return GoType("slice", "[]uint8", node, None)
        return GoType("string", "string", node, None)
    if t == "integer":
        return GoType("int", "int32" if node.get("format") == "int32" else "int64", node, None)
    if t == "number":
        return GoType("float", "float64", node, None)
    if t == "boolean":
        return GoType("bool", "bool", node, None)
    return GoType("any", "", {}, None)


def _fields(t: GoType) -> Mapping[str, Any]:
    props = t.node.get("properties") if t.schema is not None else None
    return props if isinstance(props, Mapping) else {}


# (id of a struct's node, id of its definitions) -> (the node, its fields' Go types so far)
_FIELD_TYPES: dict[tuple[int, int], tuple[Mapping[str, Any], dict[str, GoType | None]]] = {}


def _field_types(t: GoType) -> dict[str, GoType | None]:
    """The cache of a struct's field types by name (filled by :func:`_field_type`)."""
    key = (id(t.node), id(t.schema.defs) if t.schema is not None else 0)
    hit = _FIELD_TYPES.get(key)
    if hit is not None and hit[0] is t.node:
        return hit[1]
    found: dict[str, GoType | None] = {}
    _FIELD_TYPES[key] = (t.node, found)
    return found


def _field_type(t: GoType, name: str) -> GoType | None:
    prop = _fields(t).get(name)
    if not isinstance(prop, Mapping) or t.schema is None:
        return None
    return go_type(t.schema, prop)


def _elem(t: GoType) -> GoType:
    assert t.schema is not None
    return go_type(t.schema, t.schema.node)


# -- encoding/json


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def unmarshal_error(obj: Mapping[str, Any], schema: Schema, struct: str) -> str | None:
    """The first ``json: cannot unmarshal`` error decoding ``obj`` into the kind ``struct``."""
    node = schema._resolve(schema.node)
    return _unmarshal(obj, GoType("struct", struct, node, Schema(node, schema.defs)), struct, [])


def _unmarshal(value: Any, t: GoType, struct: str, path: list[str]) -> str | None:
    if value is None or t.kind == "any":
        return None
    bad: str | None = None
    if t.kind == "struct":
        if not isinstance(value, Mapping):
            bad = _json_kind(value)
        else:
            types = _field_types(t)
            me = t.name.rsplit(".", 1)[-1] or struct
            for k, v in value.items():
                try:
                    ft = types[k]
                except KeyError:
                    ft = types[k] = _field_type(t, k)
                if ft is None or v is None or (ft.kind == "string" and type(v) is str):
                    continue
                err = _unmarshal(v, ft, me, [*path, k])
                if err:
                    return err
            return None
    elif t.kind == "map":
        if not isinstance(value, Mapping):
            bad = _json_kind(value)
        else:
            elem = _elem(t)
            for v in value.values():
                err = _unmarshal(v, elem, struct, path)
                if err:
                    return err
            return None
    elif t.kind == "slice":
        if t.name == "[]uint8" and isinstance(value, str):
            return None
        if not isinstance(value, list):
            bad = _json_kind(value)
        else:
            if t.schema is None:
                return None
            elem = _elem(t)
            for v in value:
                err = _unmarshal(v, elem, struct, path)
                if err:
                    return err
            return None
    elif t.kind == "string":
        bad = None if isinstance(value, str) else _json_kind(value)
    elif t.kind == "bool":
        bad = None if isinstance(value, bool) else _json_kind(value)
    elif t.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float):
            bad = _json_kind(value)
        else:
            limit = 2**31 if t.name == "int32" else 2**63
            if isinstance(value, float) or not -limit <= value < limit:
                bad = f"number {_go_number(value)}"
    elif t.kind == "float":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        bad = None if number else _json_kind(value)
    if bad is None:
        return None
    if not path:
        return f"json: cannot unmarshal {bad} into Go value of type {t.name}"
    return (
        f"json: cannot unmarshal {bad} into Go struct field {struct}.{'.'.join(path)} "
        f"of type {t.name}"
    )


def _go_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


# -- runtime.DefaultUnstructuredConverter.FromUnstructured


def _go_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    return "map"


def converter_error(obj: Mapping[str, Any], schema: Schema) -> str | None:
    """The first error converting the unstructured ``obj`` into the kind's Go struct."""
    node = schema._resolve(schema.node)
    return _convert(obj, GoType("struct", "", node, Schema(node, schema.defs)))


def _convert(value: Any, t: GoType) -> str | None:
    if value is None or t.kind == "any":
        return None
    if t.kind == "struct":
        if not isinstance(value, Mapping):
            return f"cannot restore struct from: {_go_kind(value)}"
        fields = _fields(t)
        for k, v in value.items():
            prop = fields.get(k)
            if isinstance(prop, Mapping) and t.schema is not None:
                err = _convert(v, go_type(t.schema, prop))
                if err:
                    return err
        return None
    if t.kind == "map":
        if not isinstance(value, Mapping):
            return f"cannot restore map from {_go_kind(value)}"
        elem = _elem(t)
        for v in value.values():
            err = _convert(v, elem)
            if err:
                return err
        return None
    if t.kind == "slice":
        if isinstance(value, str) and t.name == "[]uint8":
            return None
        if not isinstance(value, list):
            return f"cannot restore slice from {_go_kind(value)}"
        if t.schema is None:
            return None
        elem = _elem(t)
        for v in value:
            err = _convert(v, elem)
            if err:
                return err
        return None
    kind = _go_kind(value)
    want = {"string": "string", "bool": "bool", "float": "float64"}.get(t.kind, t.name)
    if t.kind == "string":
        if kind == "string":
            return None
        if kind in ("int64", "float64"):
            return f"cannot convert {kind} to {t.name}"
    elif t.kind == "int":
        if kind == "int64" or (kind == "float64" and float(value).is_integer()):
            return None
        if kind == "float64":
            return f"cannot convert float64 to {t.name}"
    elif t.kind == "float":
        if kind in ("int64", "float64"):
            return None
    elif t.kind == "bool" and kind == "bool":
        return None
    return f"unrecognized type: {want if t.kind != 'int' else t.name}"


# -- structured-merge-diff (server-side apply)


def apply_error(obj: Mapping[str, Any], schema: Schema) -> str | None:
    """The first type error or unknown field of an apply configuration, as
    ``ObjectToTyped`` words it (apply is strict whatever ``fieldValidation`` says)."""
    node = schema._resolve(schema.node)
    return _typed(obj, GoType("struct", "", node, Schema(node, schema.defs)), "")


def _typed(value: Any, t: GoType, path: str) -> str | None:
    if value is None or t.kind == "any":
        return None
    if t.kind in ("struct", "map"):
        if not isinstance(value, Mapping):
            return f"{path}: expected map, got {_smd_value(value)}"
        fields = _fields(t)
        for k, v in value.items():
            if t.kind == "struct":
                prop = fields.get(k)
                if t.schema is None or (not path and k in ("apiVersion", "kind")):
                    continue
                if not isinstance(prop, Mapping):
                    return f"{path}.{k}: field not declared in schema"
                sub = go_type(t.schema, prop)
            else:
                sub = _elem(t)
            err = _typed(v, sub, f"{path}.{k}")
            if err:
                return err
        return None
    if t.kind == "slice":
        if t.name == "[]uint8" and isinstance(value, str):
            return None
        if not isinstance(value, list):
            return f"{path}: expected list, got {_smd_value(value)}"
        if t.schema is None:
            return None
        elem = _elem(t)
        for i, v in enumerate(value):
            err = _typed(v, elem, f"{path}[{i}]")
            if err:
                return err
        return None
    if t.kind in ("int", "float"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None
        return f"{path}: expected numeric (int or float), got {_go_type_name(value)}"
    if t.kind == "string" and not isinstance(value, str):
        return f"{path}: expected string, got {_smd_value(value)}"
    if t.kind == "bool" and not isinstance(value, bool):
        return f"{path}: expected boolean, got {_smd_value(value)}"
    return None


def _go_type_name(value: Any) -> str:
    """The Go type a JSON value decodes to, as Go prints it (``_go_kind`` names the kind)."""
    kind = _go_kind(value)
    return {"slice": "[]interface {}", "map": "map[string]interface {}"}.get(kind, kind)


def _smd_value(value: Any) -> str:
    # structured-merge-diff prints the offending value with Go's %v
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_smd_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_smd_value(v)}" for k, v in sorted(value.items())) + "]"
    return _go_number(value)


def go_format(value: Any) -> str:
    """Go's ``%+v`` of a decoded JSON value (how upstream prints a patch map in errors)."""
    if value is None:
        return "<nil>"
    return _smd_value(value)

"""A CRD version's ``openAPIV3Schema`` applied to a custom resource: validation,
pruning of unknown fields and defaulting.

Mirrors ``apiextensions-apiserver/pkg/apiserver/validation`` (the kube-openapi
schema validator's checks and its messages, turned into field errors by
``ValidateCustomResource``), ``pkg/apiserver/schema/pruning/algorithm.go`` and
``pkg/apiserver/schema/defaulting/algorithm.go``. Schemas are the CRD's JSON
(plain dicts); values are decoded JSON.
"""

from __future__ import annotations

import base64
import copy
import datetime
import ipaddress
import math
import re
import uuid
from collections.abc import Mapping, Sized
from functools import lru_cache
from typing import Any

import orjson

from pyk8s.api import errors
from pyk8s.api.errors import FieldError

Schema = Mapping[str, Any]

IN = "body"
ROOT_KEYS = ("apiVersion", "kind", "metadata")
"""What every resource (and every embedded resource) keeps whatever its schema says."""


# -- types ---------------------------------------------------------------------------------


def json_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a value that has the wrong type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value == int(value)


def _type_ok(t: str, value: Any) -> bool:
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return _is_integer(value)
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    return True


# -- formats (kube-openapi strfmt.Default, the ones CRDs use) -------------------------------

_HOSTNAME = re.compile(
    r"^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}"
    r"[a-zA-Z0-9])?)*\.?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAC = re.compile(
    r"^([0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DURATION = re.compile(r"^(-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


def _valid_ip(value: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(value).version == version
    except ValueError:
        return False


def _format_ok(fmt: str, value: str) -> bool:
    """False when ``value`` breaks a known string format (unknown formats pass)."""
    if fmt == "date-time":
        if not _DATETIME.match(value):
            return False
        try:
            datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if fmt == "date":
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return False
        return bool(_DATE.match(value))
    if fmt == "ipv4":
        return _valid_ip(value, 4)
    if fmt == "ipv6":
        return _valid_ip(value, 6)
    if fmt == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return "/" in value
    if fmt == "hostname":
        return len(value) <= 255 and bool(_HOSTNAME.match(value))
    if fmt == "email":
        return bool(_EMAIL.match(value))
    if fmt == "mac":
        return bool(_MAC.match(value))
    if fmt in ("uuid", "uuid3", "uuid4", "uuid5"):
        if not _UUID.match(value):
            return False
        if fmt == "uuid":
            return True
        try:
            return uuid.UUID(value).version == int(fmt[-1])
        except ValueError:
            return False
    if fmt == "byte":
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            return False
        return True
    if fmt == "duration":
        return bool(_DURATION.match(value))
    return True


# -- validation ------------------------------------------------------------------------------


def _go_number(v: Any) -> str:
    """A bound as Go's ``%v`` prints it (5, 2.5, 1e+06)."""
    if isinstance(v, float) and v == int(v) and abs(v) < 1e21:
        return str(int(v))
    return str(v)


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _enum_values(values: list[Any]) -> list[str]:
    out = []
    for v in values:
        out.append(v if isinstance(v, str) else orjson.dumps(v).decode())
    return out


def _field(path: str) -> str:
    return path


def _invalid(path: str, value: Any, detail: str) -> FieldError:
    return errors.invalid_value(_field(path), "" if value is None else value, detail)


def _type_invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueTypeInvalid", _field(path), detail, value)


def validate(value: Any, schema: Schema | None, path: str = "") -> list[FieldError]:
    """Field errors for ``value`` against ``schema`` (``path`` names the value; "" = root)."""
    out: list[FieldError] = []
    if schema:
        _validate(value, schema, path, out, root=not path)
    return out


def _name(path: str) -> str:
    return path or "."


def _validate(value: Any, s: Schema, path: str, out: list[FieldError], *, root: bool) -> None:
    name = _name(path)
    if value is None:
        preserve = s.get("x-kubernetes-preserve-unknown-fields") and not s.get("type")
        if s.get("nullable") or preserve:
            return
        t = s.get("type")
        if t or s.get("x-kubernetes-int-or-string"):
            want = t or "integer,string"
            out.append(
                _type_invalid(path, "null", f'{name} in {IN} must be of type {want}: "null"')
            )
        return
    if s.get("x-kubernetes-int-or-string"):
        if not (_is_integer(value) or isinstance(value, str)):
            got = json_type(value)
            out.append(
                _type_invalid(path, got, f'{name} in {IN} must be of type integer,string: "{got}"')
            )
            return
    else:
        t = s.get("type")
        if isinstance(t, str) and t and not _type_ok(t, value):
            got = json_type(value)
            out.append(_type_invalid(path, got, f'{name} in {IN} must be of type {t}: "{got}"'))
            return
    fmt = s.get("format")
    if isinstance(value, str) and isinstance(fmt, str) and fmt and not _format_ok(fmt, value):
        out.append(_type_invalid(path, value, f'{name} in {IN} must be of type {fmt}: "{value}"'))
    enum = s.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        out.append(errors.not_supported(path, value, _enum_values(enum)))
    for sub in s.get("allOf") or []:
        _validate(value, sub, path, out, root=root)
    any_of = s.get("anyOf")
    if isinstance(any_of, list) and any_of and all(validate(value, sub, path) for sub in any_of):
        out.append(
            _invalid(path, value, f"{name} in {IN} must validate at least one schema (anyOf)")
        )
    one_of = s.get("oneOf")
    if isinstance(one_of, list) and one_of:
        passing = sum(1 for sub in one_of if not validate(value, sub, path))
        if passing != 1:
            out.append(
                _invalid(
                    path, value, f"{name} in {IN} must validate one and only one schema (oneOf)"
                )
            )
    not_ = s.get("not")
    if isinstance(not_, Mapping) and not validate(value, not_, path):
        out.append(_invalid(path, value, f"{name} in {IN} must not validate the schema (not)"))
    if isinstance(value, str):
        _validate_string(value, s, path, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, s, path, out)
    elif isinstance(value, list):
        _validate_array(value, s, path, out)
    elif isinstance(value, dict):
        _validate_object(value, s, path, out, root=root)


def _validate_string(value: str, s: Schema, path: str, out: list[FieldError]) -> None:
    name = _name(path)
    max_len = s.get("maxLength")
    if isinstance(max_len, int) and len(value) > max_len:
        out.append(
            FieldError(
                "FieldValueTooLong",
                path,
                f"may not be more than {max_len} bytes",
                value,
                show_value=False,
            )
        )
    min_len = s.get("minLength")
    if isinstance(min_len, int) and len(value) < min_len:
        out.append(_invalid(path, value, f"{name} in {IN} should be at least {min_len} chars long"))
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        rx = _regex(pattern)
        if rx is not None and not rx.search(value):
            out.append(_invalid(path, value, f"{name} in {IN} should match '{pattern}'"))


def _validate_number(value: float, s: Schema, path: str, out: list[FieldError]) -> None:
    name = _name(path)
    mult = s.get("multipleOf")
    if isinstance(mult, int | float) and mult > 0:
        q = value / mult
        if abs(q - round(q)) > 1e-9:
            out.append(
                _invalid(path, value, f"{name} in {IN} should be a multiple of {_go_number(mult)}")
            )
    mx = s.get("maximum")
    if isinstance(mx, int | float):
        if s.get("exclusiveMaximum") and value >= mx:
            out.append(
                _invalid(path, value, f"{name} in {IN} should be less than {_go_number(mx)}")
            )
        elif value > mx:
            out.append(
                _invalid(
                    path, value, f"{name} in {IN} should be less than or equal to {_go_number(mx)}"
                )
            )
    mn = s.get("minimum")
    if isinstance(mn, int | float):
        if s.get("exclusiveMinimum") and value <= mn:
            out.append(
                _invalid(path, value, f"{name} in {IN} should be greater than {_go_number(mn)}")
            )
        elif value < mn:
            out.append(
                _invalid(
                    path,
                    value,
                    f"{name} in {IN} should be greater than or equal to {_go_number(mn)}",
                )
            )


def _too_many(value: Sized, limit: Any, path: str, out: list[FieldError]) -> None:
    """``maxItems`` and ``maxProperties``: kube-openapi words both as items."""
    if isinstance(limit, int) and len(value) > limit:
        out.append(
            FieldError(
                "FieldValueTooMany",
                path,
                f"{len(value)}: must have at most {limit} items",
                show_value=False,
            )
        )


def _validate_array(value: list[Any], s: Schema, path: str, out: list[FieldError]) -> None:
    name = _name(path)
    _too_many(value, s.get("maxItems"), path, out)
    mn = s.get("minItems")
    if isinstance(mn, int) and len(value) < mn:
        out.append(_invalid(path, value, f"{name} in {IN} should have at least {mn} items"))
    if s.get("uniqueItems"):
        seen = set()
        for v in value:
            k = orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
            if k in seen:
                out.append(_invalid(path, value, f"{name} in {IN} shouldn't contain duplicates"))
                break
            seen.add(k)
    items = s.get("items")
    if isinstance(items, Mapping):
        for i, v in enumerate(value):
            _validate(v, items, f"{path}[{i}]", out, root=False)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _validate_object(
    value: dict[str, Any], s: Schema, path: str, out: list[FieldError], *, root: bool
) -> None:
    name = _name(path)
    _too_many(value, s.get("maxProperties"), path, out)
    mn = s.get("minProperties")
    if isinstance(mn, int) and len(value) < mn:
        out.append(_invalid(path, value, f"{name} in {IN} should have at least {mn} properties"))
    for key in s.get("required") or []:
        if key not in value:
            out.append(errors.required(_child(path, key)))
    props = s.get("properties") or {}
    extra = s.get("additionalProperties")
    for key, v in value.items():
        embedded = root or s.get("x-kubernetes-embedded-resource")
        if embedded and key in ROOT_KEYS and (key == "metadata" or key not in props):
            continue
        sub = props.get(key)
        if isinstance(sub, Mapping):
            _validate(v, sub, _child(path, key), out, root=False)
        elif isinstance(extra, Mapping):
            _validate(v, extra, _child(path, key), out, root=False)
        elif extra is False and props:
            out.append(_invalid(path, key, f"{name}.{key} in {IN} is a forbidden property"))
    if s.get("x-kubernetes-embedded-resource") and isinstance(value, dict):
        _validate_embedded(value, path, out)


def _validate_embedded(value: dict[str, Any], path: str, out: list[FieldError]) -> None:
    """``schema/objectmeta``: an embedded resource names its apiVersion and kind."""
    if not value:
        return
    if not value.get("kind"):
        out.append(errors.required(_child(path, "kind"), "must not be empty"))
    if not value.get("apiVersion"):
        out.append(errors.required(_child(path, "apiVersion"), "must not be empty"))
    md = value.get("metadata")
    if md is not None and not isinstance(md, dict):
        out.append(_type_invalid(_child(path, "metadata"), json_type(md), "must be an object"))


# -- list types (x-kubernetes-list-type set / map) -------------------------------------------


def validate_list_types(value: Any, s: Schema | None, path: str = "") -> list[FieldError]:
    """``structurallisttype.ValidateListSetsAndMaps``: no duplicates in sets and maps."""
    out: list[FieldError] = []
    if s:
        _list_types(value, s, path, out)
    return out


def _list_types(value: Any, s: Schema, path: str, out: list[FieldError]) -> None:
    if isinstance(value, dict):
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k)
            if not isinstance(sub, Mapping) and isinstance(extra, Mapping):
                sub = extra
            if isinstance(sub, Mapping):
                _list_types(v, sub, _child(path, k), out)
    elif isinstance(value, list):
        items = s.get("items")
        lt = s.get("x-kubernetes-list-type")
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen: dict[bytes, int] = {}
        for i, v in enumerate(value):
            ident: Any = None
            if lt == "set":
                ident = v
            elif lt == "map" and isinstance(v, dict):
                ident = {k: v.get(k) for k in keys}
            if ident is not None:
                k = orjson.dumps(ident, option=orjson.OPT_SORT_KEYS)
                if k in seen:
                    shown = (
                        v
                        if lt == "set"
                        else errors.Raw(
                            "map["
                            + " ".join(f"{mk}:{_go_value(v.get(mk))}" for mk in sorted(keys))
                            + "]"
                        )
                    )
                    out.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", "", shown))
                seen[k] = i
            if isinstance(items, Mapping):
                _list_types(v, items, f"{path}[{i}]", out)


def _go_value(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    return orjson.dumps(v).decode()


# -- pruning -----------------------------------------------------------------------------------


def prune(obj: Any, schema: Schema | None, *, root: bool = True) -> list[str]:
    """Drop the fields ``schema`` does not specify (in place); returns their paths."""
    pruned: list[str] = []
    if schema is None:
        return pruned
    _prune(obj, schema, "", pruned, root=root)
    return pruned


def _prune(value: Any, s: Schema, path: str, pruned: list[str], *, root: bool) -> None:
    if isinstance(value, dict):
        embedded = root or bool(s.get("x-kubernetes-embedded-resource"))
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
        for key in list(value):
            child = _child(path, key)
            if embedded and key in ROOT_KEYS:
                if key == "metadata" and isinstance(value[key], dict):
                    _prune_metadata(value[key], child, pruned)
                continue
            sub = props.get(key)
            if isinstance(sub, Mapping):
                _prune(value[key], sub, child, pruned, root=False)
            elif isinstance(extra, Mapping):
                _prune(value[key], extra, child, pruned, root=False)
            elif extra is True or preserve:
                continue
            else:
                pruned.append(child)
                del value[key]
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, Mapping):
            for i, v in enumerate(value):
                _prune(v, items, f"{path}[{i}]", pruned, root=False)


OBJECT_META_FIELDS = frozenset(
    {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
        "annotations", "ownerReferences", "finalizers", "managedFields",
    }
)  # fmt: skip


def _prune_metadata(md: dict[str, Any], path: str, pruned: list[str]) -> None:
    """ObjectMeta keeps only its own fields (upstream decodes it into the Go struct)."""
    for key in list(md):
        if key not in OBJECT_META_FIELDS:
            pruned.append(_child(path, key))
            del md[key]


# -- defaulting --------------------------------------------------------------------------------


def default(obj: Any, schema: Schema | None) -> None:
    """Fill in ``default:`` values for missing (or null, when not nullable) fields, in place."""
    if schema is not None:
        _default(obj, schema)


def _default(value: Any, s: Schema) -> None:
    if isinstance(value, dict):
        props = s.get("properties") or {}
        for key, sub in props.items():
            if not isinstance(sub, Mapping):
                continue
            if "default" in sub and (
                key not in value or (value[key] is None and not sub.get("nullable"))
            ):
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default(value[key], sub)
        extra = s.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key, v in value.items():
                if key not in props:
                    _default(v, extra)
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, Mapping):
            for v in value:
                _default(v, items)


def drop_nulls(value: Any, s: Schema | None) -> None:
    """Null values of non-nullable fields that have a default go before defaulting
    (``pruning``'s null handling): the default then applies."""
    if s is None or not isinstance(value, dict):
        return
    props = s.get("properties") or {}
    for key in list(value):
        sub = props.get(key)
        if not isinstance(sub, Mapping):
            continue
        if value[key] is None and not sub.get("nullable") and "default" in sub:
            del value[key]
        elif isinstance(value[key], dict):
            drop_nulls(value[key], sub)

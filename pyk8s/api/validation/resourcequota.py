"""Semantic validation of ResourceQuotas and LimitRanges (core/v1).

Mirrors ``pkg/apis/core/validation/validation.go``: ``ValidateResourceQuotaSpec``
(standard quota resource names or qualified extended ones, non-negative values,
whole numbers for object counts, known scopes) and ``ValidateLimitRange`` (a
limit type once each, no defaults for Pod limits, and min <= default
request <= default <= max for every resource).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pyk8s.api import meta, resource
from pyk8s.api.errors import (
    FieldError,
    Raw,
    forbidden,
    invalid_value,
    not_supported,
    required,
)

Obj = dict[str, Any]

QUOTA_RESOURCES = frozenset(
    ("pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
     "persistentvolumeclaims", "services.nodeports", "services.loadbalancers", "requests.cpu",
     "requests.memory", "requests.storage", "requests.ephemeral-storage", "limits.cpu",
     "limits.memory", "limits.ephemeral-storage", "cpu", "memory", "ephemeral-storage")
)  # fmt: skip
COUNTED = frozenset(
    ("pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
     "persistentvolumeclaims", "services.nodeports", "services.loadbalancers")
)  # fmt: skip
SCOPES = ["BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating",
          "PriorityClass", "Terminating", "VolumeAttributesClass"]  # fmt: skip


def _parse(value: Any) -> Fraction | None:
    try:
        return resource.parse_quantity(value)
    except (resource.QuantityError, TypeError, ValueError):
        return None


def _quota_name(name: str, path: str) -> list[FieldError]:
    errs = [invalid_value(path, name, m) for m in meta.qualified_name(name)]
    if errs:
        return errs
    standard = "/" not in name or name.startswith("kubernetes.io/")
    extended = name.startswith(("count/", "requests.hugepages-", "hugepages-", "requests."))
    if standard and "/" not in name and name not in QUOTA_RESOURCES and not extended:
        return [invalid_value(path, name, "must be a standard resource for quota")]
    return []


def resource_quota(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    hard = spec.get("hard") or {}
    for name, value in hard.items() if isinstance(hard, dict) else []:
        path = f"spec.hard[{name}]"
        errs += _quota_name(str(name), path)
        q = _parse(value)
        if q is None:
            continue
        if q < 0:
            errs.append(invalid_value(path, Raw(str(value)), "must be greater than or equal to 0"))
        elif (name in COUNTED or str(name).startswith("count/")) and q.denominator != 1:
            errs.append(invalid_value(path, Raw(str(value)), "must be an integer"))
    for scope in spec.get("scopes") or []:
        if scope not in SCOPES:
            errs.append(not_supported("spec.scopes", scope, SCOPES))
    return errs


def limit_range(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, raw in enumerate(spec.get("limits") or []):
        item = raw if isinstance(raw, dict) else {}
        path = f"spec.limits[{i}]"
        kind = item.get("type") or ""
        if not kind:
            errs.append(required(f"{path}.type"))
        elif kind in seen:
            errs.append(FieldError("FieldValueDuplicate", f"{path}.type", "", kind))
        seen.add(kind)
        values = {
            k: {r: v for r, v in (item.get(k) or {}).items()}
            for k in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
        }
        if kind == "Pod":
            for k in ("default", "defaultRequest"):
                if values[k]:
                    errs.append(forbidden(f"{path}.{k}", "may not be specified when `type` is 'Pod'"))  # noqa: E501  # fmt: skip
        for r in sorted({r for v in values.values() for r in v}):
            q = {k: _parse(v[r]) if r in v else None for k, v in values.items()}
            shown = {k: str(v[r]) for k, v in values.items() if r in v}
            pairs = (
                ("min", "max", "min value {a} is greater than max value {b}"),
                ("defaultRequest", "default", "default request value {a} is greater than default limit value {b}"),  # noqa: E501
                ("defaultRequest", "max", "default request value {a} is greater than max value {b}"),  # noqa: E501
                ("min", "defaultRequest", "min value {a} is greater than default request value {b}"),  # noqa: E501
                ("default", "max", "default value {a} is greater than max value {b}"),
                ("min", "default", "min value {a} is greater than default value {b}"),
            )  # fmt: skip
            for lo, hi, msg in pairs:
                a, b = q[lo], q[hi]
                if a is not None and b is not None and a > b:
                    field = f"{path}.{lo}[{r}]" if lo != "defaultRequest" else f"{path}.defaultRequest[{r}]"  # noqa: E501  # fmt: skip
                    errs.append(invalid_value(field, Raw(shown[lo]), msg.format(a=shown[lo], b=shown[hi])))  # noqa: E501  # fmt: skip
    return errs

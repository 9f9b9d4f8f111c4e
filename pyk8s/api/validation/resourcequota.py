"""Semantic validation of ResourceQuotas and LimitRanges (core/v1).

Mirrors ``pkg/apis/core/validation/validation.go``: ``ValidateResourceQuotaSpec``
(standard quota resource names or qualified extended ones, non-negative values,
whole numbers for object counts, known scopes) and ``ValidateLimitRange`` (standard
or qualified limit types, once each; resource names that suit the type; no defaults for
Pod limits; storage bounds for PVC limits; min <= default request <= default <= max,
ratios of at least 1 and within max/min; no overcommit of extended resources).
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
    names = sorted(str(k) for k in hard) if isinstance(hard, dict) else []
    errs += _scopes(spec.get("scopes"), names)
    if spec.get("scopeSelector") is not None:
        errs += _scope_selector(spec.get("scopeSelector"), names)
    return errs


POD_COUNT = frozenset(("pods",))
POD_COMPUTE = frozenset(
    ("cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory")
)
CONFLICTING = (("BestEffort", "NotBestEffort"), ("NotTerminating", "Terminating"))
EXISTS_ONLY = ("BestEffort", "NotBestEffort", "Terminating", "NotTerminating",
               "CrossNamespacePodAffinity")  # fmt: skip


def _scope_fits(scope: str, name: str) -> bool:
    """``IsResourceQuotaScopeValidForResource``."""
    if scope in ("Terminating", "NotTerminating", "NotBestEffort", "PriorityClass",
                 "CrossNamespacePodAffinity"):  # fmt: skip
        return name in POD_COUNT or name in POD_COMPUTE
    if scope == "BestEffort":
        return name in POD_COUNT
    if scope == "VolumeAttributesClass":
        return name in ("persistentvolumeclaims", "requests.storage")
    return True


def _go_strings(type_: str, values: list[Any] | None) -> str:
    if values is None:
        return f"[]{type_}(nil)"
    return f"[]{type_}{{" + ", ".join(_go_quote(v) for v in values) + "}"


def _go_quote(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _go_selector(selector: Obj) -> Raw:
    """A ScopeSelector as upstream prints it in a field error (``%#v``)."""
    reqs = []
    for raw in selector.get("matchExpressions") or []:
        r = raw if isinstance(raw, dict) else {}
        values = r.get("values")
        reqs.append(
            "core.ScopedResourceSelectorRequirement{"
            f"ScopeName:{_go_quote(r.get('scopeName') or '')}, "
            f"Operator:{_go_quote(r.get('operator') or '')}, "
            f"Values:{_go_strings('string', values if isinstance(values, list) else None)}}}"
        )
    inner = (
        "[]core.ScopedResourceSelectorRequirement{" + ", ".join(reqs) + "}"
        if selector.get("matchExpressions") is not None
        else "[]core.ScopedResourceSelectorRequirement(nil)"
    )
    return Raw(f"core.ScopeSelector{{MatchExpressions:{inner}}}")


def _scopes(value: Any, names: list[str]) -> list[FieldError]:
    """``validateResourceQuotaScopes``: known scopes, valid for every hard resource, no
    conflicting pair; the value shown is the whole list."""
    scopes = value if isinstance(value, list) else []
    if not scopes:
        return []
    shown = Raw(_go_strings("core.ResourceQuotaScope", scopes))
    errs: list[FieldError] = []
    for scope in scopes:
        if scope not in SCOPES:
            errs.append(invalid_value("spec.scopes", shown, "unsupported scope"))
        for name in names:
            if name in QUOTA_RESOURCES and not _scope_fits(str(scope), name):
                errs.append(invalid_value("spec.scopes", shown, "unsupported scope applied to resource"))  # noqa: E501  # fmt: skip
    for pair in CONFLICTING:
        if all(p in scopes for p in pair):
            errs.append(invalid_value("spec.scopes", shown, "conflicting scopes"))
    return errs


def _scope_selector(value: Any, names: list[str]) -> list[FieldError]:
    """``validateScopedResourceSelectorRequirement``."""
    selector = value if isinstance(value, dict) else {}
    shown = _go_selector(selector)
    path = "spec.scopeSelector.matchExpressions"
    errs: list[FieldError] = []
    seen: set[str] = set()
    for raw in selector.get("matchExpressions") or []:
        req = raw if isinstance(raw, dict) else {}
        scope = str(req.get("scopeName") or "")
        op = str(req.get("operator") or "")
        values = req.get("values") or []
        if scope not in SCOPES:
            errs.append(invalid_value(f"{path}.scopeName", scope, "unsupported scope"))
        for name in names:
            if name in QUOTA_RESOURCES and not _scope_fits(scope, name):
                errs.append(invalid_value(path, shown, "unsupported scope applied to resource"))
        if scope in EXISTS_ONLY and op != "Exists":
            errs.append(invalid_value(f"{path}.operator", op, "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))  # noqa: E501  # fmt: skip
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{path}.values", "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))  # noqa: E501  # fmt: skip
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(invalid_value(f"{path}.values", Raw(_go_strings("string", values)), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))  # noqa: E501  # fmt: skip
        else:
            errs.append(invalid_value(f"{path}.operator", op, "not a valid selector operator"))
        seen.add(scope)
    for pair in CONFLICTING:
        if all(p in seen for p in pair):
            errs.append(invalid_value(path, shown, "conflicting scopes"))
    return errs


LIMIT_TYPES = ("Container", "PersistentVolumeClaim", "Pod")
CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
STANDARD_RESOURCES = frozenset(
    ("cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
     "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
     "pods", "quotas", "services", "replicationcontrollers", "secrets", "persistentvolumeclaims",
     "configmaps", "services.nodeports", "services.loadbalancers", "storage", "requests.storage")
)  # fmt: skip
_LIMIT_KINDS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


def _native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _resource_name(name: str, path: str) -> list[FieldError]:
    """``validateResourceName``: qualified, and standard unless it has a domain."""
    errs = [invalid_value(path, name, m) for m in meta.qualified_name(name)]
    if errs:
        return errs
    hugepages = name.startswith(("hugepages-", "requests.hugepages-"))
    if "/" not in name and name not in STANDARD_RESOURCES and not hugepages:
        return [invalid_value(path, name, "must be a standard resource type or fully qualified")]
    return []


def container_resource_name(name: str, path: str) -> list[FieldError]:
    """``validateContainerResourceName``."""
    errs = _resource_name(name, path)
    if "/" not in name:
        if name not in CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid_value(path, name, "must be a standard resource for containers"))
    elif not _native(name) and (
        name.startswith("requests.") or meta.qualified_name("requests." + name)
    ):
        errs.append(invalid_value(path, name, "doesn't follow extended resource name standard"))
    return errs


def _overcommit_allowed(name: str) -> bool:
    return _native(name) and not name.startswith("hugepages-")


def _q(value: Any) -> tuple[Fraction | None, str]:
    """A quantity's value and its canonical text (``Quantity.String()``)."""
    try:
        return resource.parse_quantity(value), resource.canonical(value)
    except (resource.QuantityError, TypeError, ValueError):
        return None, str(value)


def limit_range(obj: Obj) -> list[FieldError]:
    """``ValidateLimitRange``: every rule, with upstream's paths; a quantity shown as its
    canonical text (upstream prints the Go struct)."""
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, raw in enumerate(spec.get("limits") or []):
        item = raw if isinstance(raw, dict) else {}
        path = f"spec.limits[{i}]"
        kind = str(item.get("type") or "")
        bad_type = [invalid_value(f"{path}.type", kind, m) for m in meta.qualified_name(kind)]
        if not bad_type and "/" not in kind and kind not in LIMIT_TYPES:
            bad_type = [
                invalid_value(
                    f"{path}.type", kind, "must be a standard limit type or fully qualified"
                )
            ]
        errs += bad_type
        if kind in seen:
            errs.append(FieldError("FieldValueDuplicate", f"{path}.type", "", kind))
        seen.add(kind)
        check_name = container_resource_name if kind in ("Pod", "Container") else _resource_name
        values: dict[str, dict[str, tuple[Fraction | None, str]]] = {k: {} for k in _LIMIT_KINDS}
        for k in _LIMIT_KINDS:
            given = item.get(k) or {}
            if not isinstance(given, dict):
                continue
            if kind == "Pod" and k in ("default", "defaultRequest"):
                if given:
                    errs.append(
                        forbidden(f"{path}.{k}", "may not be specified when `type` is 'Pod'")
                    )
                continue
            for r in sorted(given):
                errs += check_name(str(r), f"{path}.{k}[{r}]")
                values[k][str(r)] = _q(given[r])
        if kind == "PersistentVolumeClaim" and not (
            "storage" in (item.get("min") or {}) or "storage" in (item.get("max") or {})
        ):
            errs.append(
                required(
                    f"{path}.limits",
                    "either minimum or maximum storage value is required, but neither was provided",
                )
            )
        for r in sorted({r for v in values.values() for r in v}):
            errs += _limit_values(path, r, {k: v[r] for k, v in values.items() if r in v})
    return errs


def _limit_values(
    path: str, r: str, found: dict[str, tuple[Fraction | None, str]]
) -> list[FieldError]:
    def get(k: str) -> tuple[Fraction, str] | None:
        v = found.get(k)
        return (v[0], v[1]) if v is not None and v[0] is not None else None

    low, high = get("min"), get("max")
    default, request, ratio = get("default"), get("defaultRequest"), get("maxLimitRequestRatio")
    errs: list[FieldError] = []

    def bad(field: str, shown: str, msg: str) -> None:
        errs.append(invalid_value(f"{path}.{field}[{r}]", Raw(shown), msg))

    if low and high and low[0] > high[0]:
        bad("min", low[1], f"min value {low[1]} is greater than max value {high[1]}")
    if request and low and low[0] > request[0]:
        bad(
            "defaultRequest",
            request[1],
            f"min value {low[1]} is greater than default request value {request[1]}",
        )
    if request and high and request[0] > high[0]:
        bad(
            "defaultRequest",
            request[1],
            f"default request value {request[1]} is greater than max value {high[1]}",
        )
    if request and default and request[0] > default[0]:
        bad(
            "defaultRequest",
            request[1],
            f"default request value {request[1]} is greater than default limit value {default[1]}",
        )
    if default and low and low[0] > default[0]:
        bad("default", low[1], f"min value {low[1]} is greater than default value {default[1]}")
    if default and high and default[0] > high[0]:
        bad("default", high[1], f"default value {default[1]} is greater than max value {high[1]}")
    if ratio and ratio[0] < 1:
        bad("maxLimitRequestRatio", ratio[1], f"ratio {ratio[1]} is less than 1")
    if ratio and low and high and low[0] > 0:
        limit = float(high[0] / low[0])
        if float(ratio[0]) > limit:
            bad(
                "maxLimitRequestRatio",
                ratio[1],
                f"ratio {ratio[1]} is greater than max/min = {limit:f}",
            )
    if not _overcommit_allowed(r) and default and request and default[0] != request[0]:
        bad(
            "defaultRequest",
            request[1],
            f"default value {default[1]} must equal to defaultRequest value {request[1]} in {r}",
        )
    return errs

"""Semantic validation of autoscaling/v2 HorizontalPodAutoscalers.

Mirrors ``pkg/apis/autoscaling/validation/validation.go``
(``ValidateHorizontalPodAutoscalerSpec``, ``ValidateCrossVersionObjectReference``,
``validateMetricSpec``): ``minReplicas`` at least 1, ``maxReplicas`` above 0 and
not below ``minReplicas``, a target with a kind and a name, and every metric as
``validateMetricSpec`` checks it: a known source type whose source (and only it) is
filled in, metric names, targets of a known type with positive values, resource names,
containers.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta, resource
from pyk8s.api.errors import FieldError, Raw, forbidden, invalid_value, not_supported, required
from pyk8s.api.validation.resourcequota import container_resource_name

Obj = dict[str, Any]

METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]


def _ref(ref: Any, path: str) -> list[FieldError]:
    ref = ref if isinstance(ref, dict) else {}
    errs: list[FieldError] = []
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(required(f"{path}.{key}"))
        else:
            errs += [
                invalid_value(f"{path}.{key}", value, m) for m in meta.path_segment_name(value)
            ]
    return errs


def horizontal_pod_autoscaler(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    low = spec.get("minReplicas")
    high = spec.get("maxReplicas") or 0
    if isinstance(low, int) and low < 1:
        errs.append(invalid_value("spec.minReplicas", low, "must be greater than or equal to 1"))
    if isinstance(high, int) and high < 1:
        errs.append(invalid_value("spec.maxReplicas", high, "must be greater than 0"))
    if isinstance(low, int) and isinstance(high, int) and high < low:
        errs.append(
            invalid_value(
                "spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"
            )
        )
    errs += _ref(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    for i, metric in enumerate(spec.get("metrics") or []):
        errs += _metric(metric if isinstance(metric, dict) else {}, f"spec.metrics[{i}]")
    return errs


SOURCE_FIELDS = {
    "Object": "object",
    "External": "external",
    "Pods": "pods",
    "Resource": "resource",
    "ContainerResource": "containerResource",
}
TARGET_TYPES = ("Utilization", "Value", "AverageValue")


def _metric(metric: Obj, path: str) -> list[FieldError]:
    """``validateMetricSpec``: a known type, its source filled in, no other source."""
    errs: list[FieldError] = []
    kind = metric.get("type") or ""
    if not kind:
        errs.append(required(f"{path}.type", "must specify a metric source type"))
    if kind not in METRIC_TYPES:
        errs.append(not_supported(f"{path}.type", kind, METRIC_TYPES))
    present = [f for f in SOURCE_FIELDS.values() if metric.get(f) is not None]
    checks = {"object": _object, "external": _external, "pods": _pods,
              "resource": _resource, "containerResource": _container_resource_source}  # fmt: skip
    for name in present[:1]:
        errs += checks[name](_dict(metric[name]), f"{path}.{name}")
    expected = SOURCE_FIELDS.get(kind)
    if expected is None:
        errs.append(not_supported(f"{path}.type", kind, METRIC_TYPES))
    elif metric.get(expected) is None:
        errs.append(required(f"{path}.{expected}", "must populate information for the given metric source"))  # noqa: E501  # fmt: skip
    if len(present) != 1:
        for name in sorted(set(present) - {expected}):
            errs.append(forbidden(f"{path}.{name}", "must populate the given metric source only"))
    return errs


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _positive(value: Any) -> bool:
    try:
        return resource.parse_quantity(value) > 0
    except (resource.QuantityError, TypeError, ValueError):
        return True  # not a quantity: the decoder's business


def _shown(value: Any) -> Any:
    try:
        return Raw(resource.canonical(value))
    except (resource.QuantityError, TypeError, ValueError):
        return value


def _target(target: Obj, path: str) -> list[FieldError]:
    """``validateMetricTarget``."""
    errs: list[FieldError] = []
    kind = target.get("type") or ""
    if not kind:
        errs.append(required(f"{path}.type", "must specify a metric target type"))
    if kind not in TARGET_TYPES:
        errs.append(invalid_value(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue"))  # noqa: E501  # fmt: skip
    for key in ("value", "averageValue"):
        if target.get(key) is not None and not _positive(target[key]):
            errs.append(invalid_value(f"{path}.{key}", _shown(target[key]), "must be positive"))
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        errs.append(invalid_value(f"{path}.averageUtilization", utilization, "must be greater than 0"))  # noqa: E501  # fmt: skip
    return errs


def _identifier(metric: Obj, path: str) -> list[FieldError]:
    name = metric.get("name") or ""
    if not name:
        return [required(f"{path}.name", "must specify a metric name")]
    return [invalid_value(f"{path}.name", name, m) for m in meta.path_segment_name(str(name))]


def _object(src: Obj, path: str) -> list[FieldError]:
    target = _dict(src.get("target"))
    errs = _ref(src.get("describedObject"), f"{path}.describedObject")
    errs += _identifier(_dict(src.get("metric")), f"{path}.metric")
    errs += _target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue", "must set either a target value or averageValue"))  # noqa: E501  # fmt: skip
    return errs


def _external(src: Obj, path: str) -> list[FieldError]:
    target = _dict(src.get("target"))
    errs = _identifier(_dict(src.get("metric")), f"{path}.metric")
    errs += _target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue", "must set either a target value for metric or a per-pod target"))  # noqa: E501  # fmt: skip
    if target.get("value") is not None and target.get("averageValue") is not None:
        errs.append(forbidden(f"{path}.target.value", "may not set both a target value for metric and a per-pod target"))  # noqa: E501  # fmt: skip
    return errs


def _pods(src: Obj, path: str) -> list[FieldError]:
    target = _dict(src.get("target"))
    errs = _identifier(_dict(src.get("metric")), f"{path}.metric")
    errs += _target(target, f"{path}.target")
    if target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue", "must specify a positive target averageValue"))  # noqa: E501  # fmt: skip
    return errs


def _resource(src: Obj, path: str) -> list[FieldError]:
    target = _dict(src.get("target"))
    errs: list[FieldError] = []
    name = str(src.get("name") or "")
    if not name:
        errs.append(required(f"{path}.name", "must specify a resource name"))
    else:
        errs += container_resource_name(name, f"{path}.name")
    errs += _target(target, f"{path}.target")
    utilization, average = target.get("averageUtilization"), target.get("averageValue")
    if utilization is None and average is None:
        errs.append(required(f"{path}.target.averageUtilization", "must set either a target raw value or a target utilization"))  # noqa: E501  # fmt: skip
    if utilization is not None and average is not None:
        errs.append(forbidden(f"{path}.target.averageValue", "may not set both a target raw value and a target utilization"))  # noqa: E501  # fmt: skip
    return errs


def _container_resource_source(src: Obj, path: str) -> list[FieldError]:
    errs = _resource(src, path)
    container = str(src.get("container") or "")
    if not container:
        errs.append(required(f"{path}.container", "must specify a container"))
    else:
        errs += [invalid_value(f"{path}.container", container, m) for m in meta.dns1123_label(container)]  # noqa: E501  # fmt: skip
    return errs

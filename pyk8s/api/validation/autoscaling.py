"""Semantic validation of autoscaling/v2 HorizontalPodAutoscalers.

Mirrors ``pkg/apis/autoscaling/validation/validation.go``
(``ValidateHorizontalPodAutoscalerSpec``, ``ValidateCrossVersionObjectReference``,
``validateMetricSpec``): ``minReplicas`` at least 1, ``maxReplicas`` above 0 and
not below ``minReplicas``, a target with a kind and a name, metrics of a known
source type.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.api.errors import FieldError, invalid_value, not_supported, required

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
        path = f"spec.metrics[{i}]"
        kind = metric.get("type") if isinstance(metric, dict) else None
        if not kind:
            errs.append(required(f"{path}.type", "must specify a metric source type"))
        if kind not in METRIC_TYPES:
            errs.append(not_supported(f"{path}.type", kind or "", METRIC_TYPES))
    return errs

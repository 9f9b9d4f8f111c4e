"""Conversion between ``autoscaling/v1`` and ``autoscaling/v2`` HorizontalPodAutoscalers.

Both versions serve one store (v2 is the storage version here). Mirrors the shape of
``pkg/apis/autoscaling/v1/conversion.go``: v1's ``targetCPUUtilizationPercentage`` is a v2
``Resource`` metric on ``cpu`` with an ``Utilization`` target, and
``currentCPUUtilizationPercentage`` its current value. What v1 cannot express travels in
annotations, as upstream does: the other metrics (``autoscaling.alpha.kubernetes.io/metrics``,
``.../current-metrics``), ``behavior`` (``.../behavior``) and status conditions
(``.../conditions``), each as JSON. Upstream writes the metric annotations in the old v2beta1
shape; pyk8s writes the v2 shape and reads it back unchanged.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Obj = dict[str, Any]

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"


def _is_cpu_utilization(m: Any) -> bool:
    res = m.get("resource") if isinstance(m, dict) else None
    return (
        isinstance(res, dict)
        and m.get("type") == "Resource"
        and res.get("name") == "cpu"
        and (res.get("target") or {}).get("type") == "Utilization"
    )


def _load(annotations: dict[str, Any], key: str) -> Any:
    raw = annotations.pop(key, None)
    if not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def to_v2(obj: Obj) -> Obj:
    """A v1 HorizontalPodAutoscaler as v2 (what is stored)."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    out["kind"] = "HorizontalPodAutoscaler"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics: list[Any] = []
        cpu = spec.pop("targetCPUUtilizationPercentage", None)
        if cpu is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu},
                    },
                }
            )
        extra = _load(annotations, METRICS)
        if isinstance(extra, list):
            metrics += extra
        if metrics:
            spec["metrics"] = metrics
        behavior = _load(annotations, BEHAVIOR)
        if isinstance(behavior, dict):
            spec["behavior"] = behavior
    status = out.get("status")
    current = _load(annotations, CURRENT_METRICS)
    conditions = _load(annotations, CONDITIONS)
    if isinstance(status, dict):
        now: list[Any] = []
        cpu_now = status.pop("currentCPUUtilizationPercentage", None)
        if cpu_now is not None:
            now.append(
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": cpu_now}},
                }
            )
        if isinstance(current, list):
            now += current
        if now:
            status["currentMetrics"] = now
        if isinstance(conditions, list):
            status["conditions"] = conditions
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def from_v2(obj: Obj) -> Obj:
    """A stored (v2) HorizontalPodAutoscaler as v1."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    out["kind"] = "HorizontalPodAutoscaler"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics = spec.pop("metrics", None) or []
        rest = []
        for m in metrics:
            if _is_cpu_utilization(m) and "targetCPUUtilizationPercentage" not in spec:
                value = m["resource"]["target"].get("averageUtilization")
                if value is not None:
                    spec["targetCPUUtilizationPercentage"] = value
                    continue
            rest.append(m)
        if rest:
            annotations[METRICS] = json.dumps(rest, separators=(",", ":"))
        behavior = spec.pop("behavior", None)
        if behavior:
            annotations[BEHAVIOR] = json.dumps(behavior, separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        rest = []
        for m in status.pop("currentMetrics", None) or []:
            res = m.get("resource") if isinstance(m, dict) else None
            util = ((res or {}).get("current") or {}).get("averageUtilization")
            if (
                m.get("type") == "Resource"
                and (res or {}).get("name") == "cpu"
                and util is not None
                and "currentCPUUtilizationPercentage" not in status
            ):
                status["currentCPUUtilizationPercentage"] = util
                continue
            rest.append(m)
        if rest:
            annotations[CURRENT_METRICS] = json.dumps(rest, separators=(",", ":"))
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[CONDITIONS] = json.dumps(conditions, separators=(",", ":"))
    if annotations:
        meta["annotations"] = annotations
    return out

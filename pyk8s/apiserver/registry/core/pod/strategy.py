"""Pod strategy: status starts Pending, graceful deletion by grace period.

Mirrors ``pkg/registry/core/pod/strategy.go`` (``podStrategy``:
``PrepareForCreate`` sets phase Pending, QOS class and, for a pod with scheduling
gates, ``PodScheduled=False`` reason ``SchedulingGated``, and folds pod affinity
terms' ``matchLabelKeys``/``mismatchLabelKeys`` into their selectors; ``CheckGracefulDelete``
takes the pod's ``terminationGracePeriodSeconds`` unless the request names
one, and deletes unscheduled or finished pods at once; ``podStatusStrategy``).
Defaulting and full validation are issue [openapi]'s.
"""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api.errors import FieldError
from pyk8s.api.validation import core as core_validation
from pyk8s.apiserver.registry.generic.strategy import Obj, StatusStrategy, Strategy

DEFAULT_GRACE_PERIOD = 30


def qos_class(pod: Obj) -> str:
    """``GetPodQOS``: Guaranteed when every container's requests equal limits for cpu and
    memory, BestEffort when none sets any, Burstable otherwise."""
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req = dict(res.get("limits") or {}) | dict(res.get("requests") or {})
        lim = res.get("limits") or {}
        if any(k in ("cpu", "memory") for k in req):
            any_set = True
        for k in ("cpu", "memory"):
            if k not in lim or str(req.get(k)) != str(lim.get(k)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def apply_scheduling_gated_condition(pod: Obj) -> None:
    """A pod created with scheduling gates says so in PodScheduled
    (``applySchedulingGatedCondition``); kubectl shows it as ``SchedulingGated``."""
    if not (pod.get("spec") or {}).get("schedulingGates"):
        return
    status = pod.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    if any(c.get("type") == "PodScheduled" for c in conditions):
        return
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
        }
    )


def mutate_pod_affinity(pod: Obj) -> None:
    """``mutatePodAffinity`` (MatchLabelKeysInPodAffinity): each pod (anti-)affinity term's
    ``matchLabelKeys`` become ``key In (the pod's value)`` and its ``mismatchLabelKeys``
    ``key NotIn (value)`` in the term's labelSelector, so the scheduler needs only that."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section = affinity.get(kind) or {}
        terms = list(section.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [
            w.get("podAffinityTerm") or {}
            for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
        for term in terms:
            selector = term.get("labelSelector")
            if not isinstance(selector, dict):
                continue  # a nil selector matches nothing: nothing to narrow
            for field, operator in (("matchLabelKeys", "In"), ("mismatchLabelKeys", "NotIn")):
                for key in term.get(field) or ():
                    if key in labels:
                        selector.setdefault("matchExpressions", []).append(
                            {"key": key, "operator": operator, "values": [labels[key]]}
                        )


class PodStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Pending", "qosClass": qos_class(obj)}

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {}
        super().prepare_for_create(obj)
        obj.setdefault("status", self.initial_status(obj))
        apply_scheduling_gated_condition(obj)
        mutate_pod_affinity(obj)

    def check_graceful_delete(self, obj: Obj, grace_period: int | None) -> int | None:
        spec = obj.get("spec") or {}
        period = grace_period
        if period is None:
            period = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
        if not spec.get("nodeName"):
            return 0
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Failed", "Succeeded"):
            return 0
        return max(int(period or 0), 0)


class PodStatusStrategy(StatusStrategy):
    pass


class PodEphemeralContainersStrategy(Strategy):
    """``podEphemeralContainersStrategy``: only ``spec.ephemeralContainers`` of the request
    is taken (``dropNonEphemeralContainerUpdates``); the rest stays as stored."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        kept = copy.deepcopy(old)
        md, new_md = kept.setdefault("metadata", {}), obj.get("metadata") or {}
        for key in ("name", "namespace", "resourceVersion", "uid"):
            if key in new_md:
                md[key] = new_md[key]
        spec = kept.setdefault("spec", {})
        ephemeral = (obj.get("spec") or {}).get("ephemeralContainers")
        if ephemeral:
            spec["ephemeralContainers"] = ephemeral
        else:
            spec.pop("ephemeralContainers", None)
        obj.clear()
        obj.update(kept)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return core_validation.ephemeral_containers_update(obj, old)

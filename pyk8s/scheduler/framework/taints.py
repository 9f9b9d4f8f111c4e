"""Taints and tolerations (``pkg/apis/core/v1/helper/helpers.go``, ``Toleration.ToleratesTaint``).

A toleration with an empty effect matches every effect, an empty key with
``Exists`` matches every taint, and ``Equal`` (the default operator) compares values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Obj = Mapping[str, Any]

TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerations_tolerate_taint(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def do_not_schedule_taints(taint: Obj) -> bool:
    """NoSchedule and NoExecute taints keep pods off a node (``DoNotScheduleTaintsFilterFunc``)."""
    return taint.get("effect") in (NO_SCHEDULE, NO_EXECUTE)


def find_matching_untolerated_taint(
    taints: Sequence[Obj], tolerations: Sequence[Obj], keep: Callable[[Obj], bool] | None = None
) -> Obj | None:
    """The first taint (after ``keep``) that no toleration tolerates, or None."""
    for taint in taints:
        if keep is not None and not keep(taint):
            continue
        if not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def node_taints(node: Obj) -> list[Obj]:
    taints: list[Obj] = (node.get("spec") or {}).get("taints") or []
    return taints


def pod_tolerations(pod: Obj) -> list[Obj]:
    tolerations: list[Obj] = (pod.get("spec") or {}).get("tolerations") or []
    return tolerations

"""Which nodes a DaemonSet's pods belong on, and how its pods are pinned to them.

Mirrors ``pkg/controller/daemon/daemon_controller.go`` ``NodeShouldRunDaemonPod`` and
``predicates`` (node name, required node affinity with ``nodeSelector``, taints with
effect NoSchedule or NoExecute; a pod already there may stay unless a NoExecute taint
is not tolerated) and ``pkg/controller/daemon/util/daemonset_util.go``
(``AddOrUpdateDaemonPodTolerations``, ``ReplaceDaemonSetPodNodeNameNodeAffinity``,
``GetTargetNodeName``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

Object = Mapping[str, Any]
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"

_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def add_daemon_tolerations(spec: dict[str, Any]) -> None:
    """The tolerations every daemon pod gets (``AddOrUpdateDaemonPodTolerations``)."""
    wanted = list(_DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(_NETWORK_UNAVAILABLE)
    tolerations = list(spec.get("tolerations") or [])
    for key, effect in wanted:
        new = {"key": key, "operator": "Exists", "effect": effect}
        tolerations = [
            t for t in tolerations if not (t.get("key") == key and t.get("effect") == effect)
        ]
        tolerations.append(new)
    spec["tolerations"] = tolerations


def pin_to_node(spec: dict[str, Any], node_name: str) -> None:
    """Require ``metadata.name In [node]`` (``ReplaceDaemonSetPodNodeNameNodeAffinity``)."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault(REQUIRED, {})
    required["nodeSelectorTerms"] = [term]


def target_node(pod: Object) -> str:
    """The node a daemon pod is for: its nodeName, else the node its affinity pins."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if len(terms) == 1:
        fields = terms[0].get("matchFields") or []
        if len(fields) == 1:
            f = fields[0]
            values = f.get("values") or []
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return ""


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op = expr.get("key", ""), expr.get("operator", "")
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and len(values) == 1 and key in labels:
        try:
            actual, bound = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return actual > bound if op == "Gt" else actual < bound
    return False


def _field_matches(expr: Mapping[str, Any], name: str) -> bool:
    values = [str(v) for v in expr.get("values") or []]
    if expr.get("key") != "metadata.name":
        return False
    if expr.get("operator") == "In":
        return name in values
    if expr.get("operator") == "NotIn":
        return name not in values
    return False


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str], name: str) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    return all(_expression_matches(e, labels) for e in exprs) and all(
        _field_matches(f, name) for f in fields
    )


def fits_affinity(spec: Object, node: Object) -> bool:
    """``spec.nodeSelector`` and the required node affinity terms (one of them) match."""
    md = node.get("metadata") or {}
    labels: Mapping[str, str] = md.get("labels") or {}
    name = md.get("name", "")
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(_term_matches(t, labels, name) for t in required.get("nodeSelectorTerms") or [])


def tolerates(toleration: Object, taint: Object) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
        return False
    if (toleration.get("operator") or "Equal") == "Exists":
        return True
    return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated(
    taints: Sequence[Object], tolerations: Sequence[Object], effects: set[str]
) -> bool:
    return any(
        t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations)
        for t in taints
    )


def should_run(ds: Object, node: Object) -> tuple[bool, bool]:
    """(should run a new daemon pod here, should keep one that runs here)."""
    spec: dict[str, Any] = copy.deepcopy(
        dict(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    )
    name = (node.get("metadata") or {}).get("name", "")
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    add_daemon_tolerations(spec)
    if not fits_affinity(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = spec.get("tolerations") or []
    if _untolerated(taints, tolerations, {"NoSchedule", "NoExecute"}):
        return False, not _untolerated(taints, tolerations, {"NoExecute"})
    return True, True

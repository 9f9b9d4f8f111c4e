"""What controllers ask of pods: active, ready, available, and which to delete first.

Mirrors ``pkg/controller/controller_utils.go`` (``FilterActivePods``,
``IsPodActive``, ``ActivePodsWithRanks`` and its ``Less``, ``GetPodFromTemplate``)
and ``pkg/api/v1/pod/util.go`` (``IsPodReady``, ``IsPodAvailable``).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import meta

Object = Mapping[str, Any]

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_active(pod: Object) -> bool:
    """Not finished and not being deleted (``IsPodActive``)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def is_terminating(pod: Object) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and bool(pod["metadata"].get("deletionTimestamp"))


def ready_condition(pod: Object) -> Mapping[str, Any] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond  # type: ignore[no-any-return]
    return None


def is_ready(pod: Object) -> bool:
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Object) -> datetime.datetime | None:
    cond = ready_condition(pod)
    if cond is None or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    return meta.parse_time(cond["lastTransitionTime"])


def is_available(pod: Object, min_ready_seconds: int, now: datetime.datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (``IsPodAvailable``)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) <= now


def restarts(pod: Object) -> int:
    return sum(
        int(cs.get("restartCount") or 0)
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    )


def deletion_order(pods: Sequence[Object], related: Sequence[Object]) -> list[Object]:
    """``pods`` sorted so the least useful come first (``ActivePodsWithRanks``).

    Unscheduled before scheduled; Pending before Unknown before Running; not ready
    before ready; pods sharing a node with more related pods first; more recently
    ready first; more restarts first; newer first.
    """
    per_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName")
        if node and is_active(p):
            per_node[node] = per_node.get(node, 0) + 1
    far_past = datetime.datetime.min.replace(tzinfo=datetime.UTC)

    def key(p: Object) -> tuple[Any, ...]:
        node = (p.get("spec") or {}).get("nodeName") or ""
        phase = (p.get("status") or {}).get("phase") or "Pending"
        ready = is_ready(p)
        since = ready_since(p) or far_past
        created = p["metadata"].get("creationTimestamp") or ""
        return (
            1 if node else 0,
            _PHASE_RANK.get(phase, 0),
            1 if ready else 0,
            -per_node.get(node, 0),
            -since.timestamp() if ready else 0.0,
            -restarts(p),
            _neg_text(created),
        )

    return sorted(pods, key=key)


def _neg_text(s: str) -> tuple[int, ...]:
    """Sorts RFC 3339 timestamps newest first."""
    return tuple(-ord(c) for c in s)


def from_template(
    template: Object, namespace: str, generate_name: str, owner_ref: Mapping[str, Any]
) -> dict[str, Any]:
    """A pod for ``template`` owned by ``owner_ref`` (``GetPodFromTemplate``)."""
    tmeta = template.get("metadata") or {}
    md: dict[str, Any] = {"generateName": generate_name, "namespace": namespace}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            md[field] = copy.deepcopy(tmeta[field])
    md["ownerReferences"] = [dict(owner_ref)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }

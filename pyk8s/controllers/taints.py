"""Taints and tolerations as the node controllers compare and change them.

Mirrors ``pkg/util/taints/taints.go`` (``TaintExists``, ``TaintSetDiff``,
``AddOrUpdateTaint``, ``RemoveTaint``: taints are the same when key and effect
are), ``staging/src/k8s.io/api/core/v1/toleration.go`` (``ToleratesTaint``),
``pkg/apis/core/v1/helper/helpers.go`` (``GetMatchingTolerations``) and
``pkg/controller/controller_utils.go`` (``AddOrUpdateTaintOnNode``,
``RemoveTaintOffNode``: a patch of ``spec.taints`` guarded by the node's
resourceVersion, retried on conflicts with a fresh read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.controllers.resources import NODES

Object = Mapping[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
UPDATE_RETRIES = 5


def same(a: Object, b: Object) -> bool:
    """``MatchTaint``: one key and effect."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def exists(taints: Iterable[Object], taint: Object) -> bool:
    return any(same(t, taint) for t in taints)


def of(node: Object) -> list[Object]:
    return list((node.get("spec") or {}).get("taints") or [])


def no_execute(node: Object) -> list[Object]:
    return [t for t in of(node) if t.get("effect") == "NoExecute"]


def diff(want: Sequence[Object], have: Sequence[Object]) -> tuple[list[Object], list[Object]]:
    """``TaintSetDiff``: what to add to ``have`` and what to remove from it."""
    add = [t for t in want if not exists(have, t)]
    remove = [t for t in have if not exists(want, t)]
    return add, remove


def tolerates(toleration: Object, taint: Object) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def matching_tolerations(
    taints: Sequence[Object], tolerations: Sequence[Object]
) -> tuple[bool, list[Object]]:
    """Whether every taint is tolerated, and the first toleration used for each."""
    used: list[Object] = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return False, []
        used.append(match)
    return True, used


def _apply(current: Sequence[Object], add: Sequence[Object], remove: Sequence[Object]) -> list[Any]:
    out = [dict(t) for t in current if not exists(remove, t)]
    for taint in add:
        for i, t in enumerate(out):
            if same(t, taint):
                out[i] = dict(taint)
                break
        else:
            out.append(dict(taint))
    return out


async def update_node_taints(
    client: rest.Interface,
    node: Object,
    add: Sequence[Object] = (),
    remove: Sequence[Object] = (),
) -> Object:
    """Add (or replace) ``add`` and drop ``remove`` on the node; the stored node back.

    ``node`` is a first guess (a cached copy); on a conflict the node is read again.
    """
    name = node["metadata"]["name"]
    for attempt in range(UPDATE_RETRIES):
        current = of(node)
        taints = _apply(current, add, remove)
        if taints == [dict(t) for t in current]:
            return node
        body = {
            "metadata": {"resourceVersion": node["metadata"].get("resourceVersion")},
            "spec": {"taints": taints or None},
        }
        try:
            return await client.patch(NODES, name, body)
        except errors.Conflict:
            if attempt == UPDATE_RETRIES - 1:
                raise
            node = await client.get(NODES, name)
    return node

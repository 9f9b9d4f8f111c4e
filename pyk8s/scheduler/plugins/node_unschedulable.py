"""NodeUnschedulable: keeps pods off cordoned nodes unless they tolerate the taint.

Mirrors ``plugins/nodeunschedulable/node_unschedulable.go``: a pod that tolerates
``node.kubernetes.io/unschedulable:NoSchedule`` also tolerates ``spec.unschedulable``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework import taints
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.framework.types import NodeInfo, Obj

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_REASON_UNKNOWN_CONDITION = "node(s) had unknown conditions"

_UNSCHEDULABLE_TAINT = {"key": taints.TAINT_NODE_UNSCHEDULABLE, "effect": taints.NO_SCHEDULE}


def tolerates_unschedulable(pod: Obj) -> bool:
    return taints.tolerations_tolerate_taint(taints.pod_tolerations(pod), _UNSCHEDULABLE_TAINT)


class NodeUnschedulable:
    name = NAME

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        if not node_info.has_node:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNKNOWN_CONDITION)
        if not (node_info.node.get("spec") or {}).get("unschedulable"):
            return None
        if tolerates_unschedulable(pod):
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE)

    def filter_nodes(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> list[Status | None]:
        """``filter`` for many nodes at once: tolerations are looked at once."""
        if tolerates_unschedulable(pod):
            return [None if n.has_node else self.filter(state, pod, n) for n in nodes]
        # a NodeInfo without a node is never unschedulable: look at the flag first
        return [
            self.filter(state, pod, n) if n.unschedulable or not n.has_node else None for n in nodes
        ]

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_TAINT
                ),
                _after_node_change,
            ),
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.UNSCHEDULED_POD, fw.ActionType.UPDATE_POD_TOLERATION
                ),
            ),
        ]


def _after_node_change(pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
    if new is None:
        return fw.QueueingHint.SKIP
    was = bool(((old or {}).get("spec") or {}).get("unschedulable")) if old is not None else True
    now = bool((new.get("spec") or {}).get("unschedulable"))
    if (old is None and not now) or (was and not now):
        return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> NodeUnschedulable:
    return NodeUnschedulable()

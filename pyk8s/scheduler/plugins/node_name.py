"""NodeName: a pod with ``spec.nodeName`` fits only that node.

Mirrors ``plugins/nodename/node_name.go``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.framework.types import NodeInfo, Obj, node_name

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def fits(pod: Obj, node_info: NodeInfo) -> bool:
    wanted = node_name(pod)
    return not wanted or wanted == node_info.name


class NodeName:
    name = NAME

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        if not fits(pod, node_info):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON)
        return None

    def filter_nodes(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> list[Status | None]:
        """``filter`` for many nodes at once."""
        if not node_name(pod):
            return [None] * len(nodes)
        return [self.filter(state, pod, n) for n in nodes]

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(fw.EventResource.NODE, fw.ActionType.ADD), _after_node_add
            )
        ]


def _after_node_add(pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
    if new is None:
        return fw.QueueingHint.SKIP
    wanted = node_name(pod)
    if not wanted or wanted == (new.get("metadata") or {}).get("name"):
        return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> NodeName:
    return NodeName()

"""NodePorts: a pod's host ports must be free on the node.

Mirrors ``plugins/nodeports/node_ports.go``: PreFilter collects the wanted
(hostIP, protocol, hostPort) triples and Skips pods that want none; Filter checks
each against the node's used ports (0.0.0.0 conflicts with every address).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, PreFilterResult, Status
from pyk8s.scheduler.framework.types import NodeInfo, Obj, container_host_ports

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_PRE_FILTER_KEY = "PreFilter" + NAME

Port = tuple[str, str, int]


def fits_ports(wanted: Sequence[Port], node_info: NodeInfo) -> bool:
    used = node_info.used_ports
    return not any(used.check_conflict(ip, proto, port) for ip, proto, port in wanted)


def fits(pod: Obj, node_info: NodeInfo) -> bool:
    return fits_ports(container_host_ports(pod), node_info)


class NodePorts:
    name = NAME

    def pre_filter(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        wanted = container_host_ports(pod)
        if not wanted:
            return None, Status(Code.SKIP)
        state.write(_PRE_FILTER_KEY, wanted)
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        wanted = state.get(_PRE_FILTER_KEY)
        if wanted is None:
            wanted = container_host_ports(pod)
        if not fits_ports(wanted, node_info):
            return Status(Code.UNSCHEDULABLE, ERR_REASON)
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(fw.EventResource.ASSIGNED_POD, fw.ActionType.DELETE),
                _after_pod_deleted,
            ),
            fw.ClusterEventWithHint(fw.ClusterEvent(fw.EventResource.NODE, fw.ActionType.ADD)),
        ]


def _after_pod_deleted(pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
    if old is None or not (old.get("spec") or {}).get("nodeName"):
        return fw.QueueingHint.SKIP
    freed = {(p[1], p[2]) for p in container_host_ports(old)}
    wanted = {(p[1], p[2]) for p in container_host_ports(pod)}
    return fw.QueueingHint.QUEUE if freed & wanted else fw.QueueingHint.SKIP


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> NodePorts:
    return NodePorts()

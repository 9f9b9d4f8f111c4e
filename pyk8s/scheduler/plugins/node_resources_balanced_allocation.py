"""NodeResourcesBalancedAllocation: prefer nodes whose resource use stays balanced.

Mirrors ``plugins/noderesources/balanced_allocation.go``: the score is
``(1 - std) * 100`` of the requested/allocatable fractions after placing the pod;
best-effort pods (no requests) skip it so they do not pile onto one node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.framework.types import CPU, MAX_NODE_SCORE, MEMORY, NodeInfo, Obj
from pyk8s.scheduler.plugins import resource_allocation as ra

NAME = "NodeResourcesBalancedAllocation"
_PRE_SCORE_KEY = "PreScore" + NAME


class BalancedAllocation:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        self.resources = ra.parse_resources((args or {}).get("resources"))

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        reqs = ra.pod_request_list(pod, self.resources, True)
        if not any(reqs):
            return Status(Code.SKIP)
        state.write(_PRE_SCORE_KEY, reqs)
        return None

    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None:
            reqs = ra.pod_request_list(pod, self.resources, True)
        return ra.score_node(
            node_info, reqs, self.resources, ra.balanced_resource_scorer, True
        ), None

    def score_nodes(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> list[int]:
        """``score`` for many nodes at once; the cpu+memory case is inlined."""
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None:
            reqs = ra.pod_request_list(pod, self.resources, True)
        if [r.name for r in self.resources] != [CPU, MEMORY]:
            return [self.score(state, pod, n)[0] for n in nodes]
        pc, pm = reqs
        out: list[int] = []
        for n in nodes:
            a = n.allocatable
            ac, am = a.milli_cpu, a.memory
            if ac and am:
                u = n.requested
                fc = (u.milli_cpu + pc) / ac
                fm = (u.memory + pm) / am
                fc = fc if fc < 1.0 else 1.0  # min() without the call
                fm = fm if fm < 1.0 else 1.0
                out.append(int((1 - abs((fc - fm) / 2)) * MAX_NODE_SCORE))
            else:
                out.append(self.score(state, pod, n)[0])
        return out

    def score_extensions(self) -> None:
        return None


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> BalancedAllocation:
    return BalancedAllocation(args)

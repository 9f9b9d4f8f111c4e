"""NodeResourcesFit: the node must have room for the pod's requests; score by strategy.

Mirrors ``plugins/noderesources/fit.go``: requests include init containers,
sidecars and pod overhead (:func:`types.pod_requests`); reasons are ``Too many
pods``, ``Insufficient cpu``, ``Insufficient memory``, ``Insufficient
ephemeral-storage`` and ``Insufficient <extended resource>``. A request larger than
the node's whole allocatable is UnschedulableAndUnresolvable (preemption cannot
help). Scoring strategies: LeastAllocated (default), MostAllocated,
RequestedToCapacityRatio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import (
    Code,
    CycleState,
    PreFilterResult,
    Status,
)
from pyk8s.scheduler.framework.types import (
    CPU,
    EPHEMERAL_STORAGE,
    MAX_NODE_SCORE,
    MEMORY,
    PODS,
    NodeInfo,
    Obj,
    Resource,
    is_extended_resource_name,
    pod_requests,
)
from pyk8s.scheduler.plugins import resource_allocation as ra

NAME = "NodeResourcesFit"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"


@dataclass(frozen=True, slots=True)
class InsufficientResource:
    resource_name: str
    reason: str
    requested: int
    used: int
    capacity: int
    unresolvable: bool = False


def compute_pod_resource_request(pod: Obj) -> Resource:
    return Resource.from_list(pod_requests(pod))


def fits_request(
    request: Resource,
    node_info: NodeInfo,
    ignored_resources: frozenset[str] = frozenset(),
    ignored_groups: frozenset[str] = frozenset(),
) -> list[InsufficientResource]:
    out: list[InsufficientResource] = []
    alloc, used = node_info.allocatable, node_info.requested
    allowed = alloc.allowed_pod_number
    if len(node_info.pods) + 1 > allowed:
        out.append(InsufficientResource(PODS, "Too many pods", 1, len(node_info.pods), allowed))
    if request.is_zero():
        return out
    for name, want, have, in_use in (
        (CPU, request.milli_cpu, alloc.milli_cpu, used.milli_cpu),
        (MEMORY, request.memory, alloc.memory, used.memory),
        (
            EPHEMERAL_STORAGE,
            request.ephemeral_storage,
            alloc.ephemeral_storage,
            used.ephemeral_storage,
        ),
    ):
        if want > 0 and want > have - in_use:
            out.append(
                InsufficientResource(name, f"Insufficient {name}", want, in_use, have, want > have)
            )
    for name in sorted(request.scalar):
        want = request.scalar[name]
        if want == 0:
            continue
        if is_extended_resource_name(name) and (
            name in ignored_resources or name.split("/", 1)[0] in ignored_groups
        ):
            continue
        have = alloc.scalar.get(name, 0)
        in_use = used.scalar.get(name, 0)
        if want > have - in_use:
            out.append(
                InsufficientResource(name, f"Insufficient {name}", want, in_use, have, want > have)
            )
    return out


def fits(pod: Obj, node_info: NodeInfo) -> list[InsufficientResource]:
    return fits_request(compute_pod_resource_request(pod), node_info)


def _shape(raw: Mapping[str, Any] | None) -> list[tuple[int, int]]:
    points = ((raw or {}).get("shape")) or []
    if not points:
        raise ValueError("scoringStrategy.requestedToCapacityRatio.shape: Required value")
    out: list[tuple[int, int]] = []
    for p in points:
        u, s = int(p.get("utilization", 0)), int(p.get("score", 0))
        if not 0 <= u <= 100:
            raise ValueError(f"shape[].utilization: Invalid value: {u}: must be in range [0, 100]")
        if not 0 <= s <= 10:
            raise ValueError(f"shape[].score: Invalid value: {s}: must be in range [0, 10]")
        if out and u <= out[-1][0]:
            raise ValueError(
                "shape[].utilization: Invalid value: utilization values must be sorted "
                "in increasing order"
            )
        out.append((u, s))
    return out


class Fit:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        args = args or {}
        self.ignored_resources = frozenset(args.get("ignoredResources") or ())
        self.ignored_groups = frozenset(args.get("ignoredResourceGroups") or ())
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or LEAST_ALLOCATED
        self.resources = ra.parse_resources(strategy.get("resources"))
        if self.strategy == LEAST_ALLOCATED:
            self.scorer = ra.least_allocated_scorer(self.resources)
        elif self.strategy == MOST_ALLOCATED:
            self.scorer = ra.most_allocated_scorer(self.resources)
        elif self.strategy == REQUESTED_TO_CAPACITY_RATIO:
            self.scorer = ra.requested_to_capacity_ratio_scorer(
                self.resources, _shape(strategy.get("requestedToCapacityRatio"))
            )
        else:
            raise ValueError(f"scoring strategy {self.strategy} is not supported")

    def pre_filter(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        state.write(_PRE_FILTER_KEY, compute_pod_resource_request(pod))
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        request = state.get(_PRE_FILTER_KEY)
        if request is None:
            request = compute_pod_resource_request(pod)
        insufficient = fits_request(request, node_info, self.ignored_resources, self.ignored_groups)
        if not insufficient:
            return None
        code = (
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE
            if any(r.unresolvable for r in insufficient)
            else Code.UNSCHEDULABLE
        )
        return Status(code, *(r.reason for r in insufficient))

    def filter_nodes(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> list[Status | None]:
        """``filter`` for many nodes at once; the common no-shortage case is inlined."""
        request = state.get(_PRE_FILTER_KEY)
        if request is None:
            request = compute_pod_resource_request(pod)
        if request.scalar:
            return [self.filter(state, pod, n) for n in nodes]
        cpu, mem, eph = request.milli_cpu, request.memory, request.ephemeral_storage
        out: list[Status | None] = []
        for n in nodes:
            a, u = n.allocatable, n.requested
            if (
                len(n.pods) < a.allowed_pod_number
                and (cpu == 0 or cpu <= a.milli_cpu - u.milli_cpu)
                and (mem == 0 or mem <= a.memory - u.memory)
                and (eph == 0 or eph <= a.ephemeral_storage - u.ephemeral_storage)
            ):
                out.append(None)
            else:
                out.append(self.filter(state, pod, n))
        return out

    def score_nodes(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> list[int]:
        """``score`` for many nodes at once; cpu+memory Least/MostAllocated is inlined."""
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None:
            reqs = ra.pod_request_list(pod, self.resources, False)
        if self.strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED) or [
            r.name for r in self.resources
        ] != [CPU, MEMORY]:
            return [self.score(state, pod, n)[0] for n in nodes]
        pc, pm = reqs
        wc, wm = self.resources[0].weight, self.resources[1].weight
        wsum = wc + wm
        least = self.strategy == LEAST_ALLOCATED
        one = ra.least_requested_score if least else ra.most_requested_score
        out: list[int] = []
        append = out.append
        for n in nodes:
            a, nz = n.allocatable, n.non_zero_requested
            ac, am = a.milli_cpu, a.memory
            if ac > 0 and am > 0 and wsum > 0:
                # least_requested_score / most_requested_score inlined for both resources
                rc, rm = nz.milli_cpu + pc, nz.memory + pm
                if least:
                    sc = (ac - rc) * MAX_NODE_SCORE // ac if rc <= ac else 0
                    sm = (am - rm) * MAX_NODE_SCORE // am if rm <= am else 0
                else:
                    sc = (rc if rc < ac else ac) * MAX_NODE_SCORE // ac
                    sm = (rm if rm < am else am) * MAX_NODE_SCORE // am
                append((sc * wc + sm * wm) // wsum)
                continue
            total = weights = 0
            if ac:
                total += one(nz.milli_cpu + pc, ac) * wc
                weights += wc
            if am:
                total += one(nz.memory + pm, am) * wm
                weights += wm
            append(total // weights if weights else 0)
        return out

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        state.write(_PRE_SCORE_KEY, ra.pod_request_list(pod, self.resources, False))
        return None

    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None:
            reqs = ra.pod_request_list(pod, self.resources, False)
        return ra.score_node(node_info, reqs, self.resources, self.scorer, False), None

    def score_extensions(self) -> None:
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(fw.EventResource.ASSIGNED_POD, fw.ActionType.DELETE),
            ),
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_ALLOCATABLE
                ),
                _after_node_change,
            ),
        ]


def _after_node_change(pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
    if new is None or fits(pod, NodeInfo(new)):
        return fw.QueueingHint.SKIP  # it still would not fit there
    if old is not None and NodeInfo(old).allocatable == NodeInfo(new).allocatable:
        return fw.QueueingHint.SKIP  # nothing the pod asks for grew
    return fw.QueueingHint.QUEUE


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> Fit:
    return Fit(args)

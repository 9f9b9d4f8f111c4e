"""Resource scoring shared by NodeResourcesFit and NodeResourcesBalancedAllocation.

Mirrors ``plugins/noderesources/resource_allocation.go``, ``least_allocated.go``,
``most_allocated.go``, ``requested_to_capacity_ratio.go`` and
``balanced_allocation.go``'s scorer. Requested amounts are the node's plus the
pod's; Fit counts pods without requests as 100m / 200Mi (``NonZeroRequested``),
BalancedAllocation counts what is really requested. An extended resource the pod
does not request is left out of the score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.scheduler.framework.types import (
    CPU,
    EPHEMERAL_STORAGE,
    MAX_NODE_SCORE,
    MEMORY,
    NodeInfo,
    Obj,
    is_scalar_resource_name,
    pod_requests,
)
from pyk8s.scheduler.plugins import helper

MAX_CUSTOM_PRIORITY_SCORE = 10
MAX_UTILIZATION = 100

Scorer = Callable[[Sequence[int], Sequence[int]], int]


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    weight: int = 1


DEFAULT_RESOURCES = (ResourceSpec(CPU, 1), ResourceSpec(MEMORY, 1))


def parse_resources(raw: Sequence[Mapping[str, Any]] | None) -> tuple[ResourceSpec, ...]:
    if raw is None:
        return DEFAULT_RESOURCES
    out = []
    for r in raw:
        name = r.get("name")
        if not name:
            raise ValueError("resources[].name: Required value")
        weight = int(r.get("weight") or 0)
        if not 1 <= weight <= 100:
            raise ValueError(
                f"resources[].weight: Invalid value: {weight}: must be in range [1, 100]"
            )
        out.append(ResourceSpec(str(name), weight))
    return tuple(out)


def pod_request_list(pod: Obj, resources: Sequence[ResourceSpec], use_requested: bool) -> list[int]:
    reqs = pod_requests(pod, non_missing=not use_requested)
    return [reqs.get(r.name, 0) for r in resources]


def _allocatable_and_requested(
    node_info: NodeInfo, name: str, pod_request: int, use_requested: bool
) -> tuple[int, int]:
    requested = node_info.requested if use_requested else node_info.non_zero_requested
    if pod_request == 0 and is_scalar_resource_name(name):
        return 0, 0
    if name == CPU:
        return node_info.allocatable.milli_cpu, requested.milli_cpu + pod_request
    if name == MEMORY:
        return node_info.allocatable.memory, requested.memory + pod_request
    if name == EPHEMERAL_STORAGE:
        return (
            node_info.allocatable.ephemeral_storage,
            node_info.requested.ephemeral_storage + pod_request,
        )
    if name in node_info.allocatable.scalar:
        return (
            node_info.allocatable.scalar[name],
            node_info.requested.scalar.get(name, 0) + pod_request,
        )
    return 0, 0


def score_node(
    node_info: NodeInfo,
    pod_requests_list: Sequence[int],
    resources: Sequence[ResourceSpec],
    scorer: Scorer,
    use_requested: bool,
) -> int:
    requested = [0] * len(resources)
    allocatable = [0] * len(resources)
    for i, r in enumerate(resources):
        alloc, req = _allocatable_and_requested(
            node_info, r.name, pod_requests_list[i], use_requested
        )
        if alloc == 0:
            continue
        allocatable[i] = alloc
        requested[i] = req
    return scorer(requested, allocatable)


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    requested = min(requested, capacity)  # pods without requests count minimum values
    return requested * MAX_NODE_SCORE // capacity


def _weighted(resources: Sequence[ResourceSpec], one: Callable[[int, int], int]) -> Scorer:
    def scorer(requested: Sequence[int], allocatable: Sequence[int]) -> int:
        total = weights = 0
        for i, alloc in enumerate(allocatable):
            if alloc == 0:
                continue
            total += one(requested[i], alloc) * resources[i].weight
            weights += resources[i].weight
        return total // weights if weights else 0

    return scorer


def least_allocated_scorer(resources: Sequence[ResourceSpec]) -> Scorer:
    return _weighted(resources, least_requested_score)


def most_allocated_scorer(resources: Sequence[ResourceSpec]) -> Scorer:
    return _weighted(resources, most_requested_score)


def requested_to_capacity_ratio_scorer(
    resources: Sequence[ResourceSpec], shape: Sequence[tuple[int, int]]
) -> Scorer:
    """``shape``: (utilization 0-100, score 0-10) points, scaled here to 0-100 scores."""
    points = [(u, s * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE)) for u, s in shape]
    raw = helper.broken_linear_function(points)

    def one(requested: int, capacity: int) -> int:
        if capacity == 0 or requested > capacity:
            return raw(MAX_UTILIZATION)
        return raw(requested * MAX_UTILIZATION // capacity)

    def scorer(requested: Sequence[int], allocatable: Sequence[int]) -> int:
        total = weights = 0
        for i, alloc in enumerate(allocatable):
            if alloc == 0:
                continue
            s = one(requested[i], alloc)
            if s > 0:
                total += s * resources[i].weight
                weights += resources[i].weight
        return math.floor(total / weights + 0.5) if weights else 0

    return scorer


def balanced_resource_scorer(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    """Higher when the node's cpu and memory (etc.) fractions are closer together."""
    fractions = []
    for i, alloc in enumerate(allocatable):
        if alloc == 0:
            continue
        fractions.append(min(requested[i] / alloc, 1.0))
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)

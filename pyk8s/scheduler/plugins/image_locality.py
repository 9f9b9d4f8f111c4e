"""ImageLocality: prefer nodes that already have the pod's images, weighted by spread.

Mirrors ``plugins/imagelocality/image_locality.go``: each image present on the
node adds ``size * (nodes having it / all nodes)``; the sum is clamped between
23 MiB and 1000 MiB per container and scaled to 0-100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import CycleState, Status
from pyk8s.scheduler.framework.types import MAX_NODE_SCORE, NodeInfo, Obj

NAME = "ImageLocality"
_PRE_SCORE_KEY = "PreScore" + NAME
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """Add ``:latest`` to an image reference without a tag."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def _containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    return list(spec.get("initContainers") or ()) + list(spec.get("containers") or ())


def sum_image_scores(node_info: NodeInfo, pod: Obj, total_num_nodes: int) -> int:
    total = 0
    for c in _containers(pod):
        state = node_info.image_states.get(normalized_image_name(c.get("image", "")))
        if state is not None and total_num_nodes:
            total += int(state.size * (state.num_nodes / total_num_nodes))
    return total


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = max(MIN_THRESHOLD, min(sum_scores, max_threshold))
    if max_threshold <= MIN_THRESHOLD:
        return 0
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME

    def __init__(self, handle: fw.Handle) -> None:
        self.handle = handle

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        # computed once per cycle rather than per node; the values are upstream's
        state.write(_PRE_SCORE_KEY, (len(self.handle.snapshot().list()), len(_containers(pod))))
        return None

    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        pre = state.get(_PRE_SCORE_KEY)
        total, containers = pre or (len(self.handle.snapshot().list()), len(_containers(pod)))
        if not node_info.image_states:
            return calculate_priority(0, containers), None
        score = sum_image_scores(node_info, pod, total)
        return calculate_priority(score, containers), None

    def score_nodes(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> list[int]:
        """``score`` for many nodes at once: nodes without images all score the minimum."""
        pre = state.get(_PRE_SCORE_KEY)
        _, containers = pre or (0, len(_containers(pod)))
        empty = calculate_priority(0, containers)
        return [self.score(state, pod, n)[0] if n.image_states else empty for n in nodes]

    def score_extensions(self) -> None:
        return None


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> ImageLocality:
    return ImageLocality(handle)

"""PrioritySort: higher priority first, then the earlier-queued pod.

Mirrors ``plugins/queuesort/priority_sort.go``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.types import QueuedPodInfo, pod_priority

NAME = "PrioritySort"


class PrioritySort:
    name = NAME

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = pod_priority(a.pod), pod_priority(b.pod)
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> PrioritySort:
    return PrioritySort()

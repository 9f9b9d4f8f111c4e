"""Why a pod fits no node, and the FailedScheduling message built from it.

Mirrors ``framework/types.go`` (``NodeToStatus``, ``Diagnosis``, ``FitError.Error``):
the message counts each reason over all nodes, sorts the ``"<count> <reason>"``
strings, and appends what PreFilter or PostFilter (preemption) said, e.g.
``0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/
control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3
Preemption is not helpful for scheduling.``
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pyk8s.scheduler.framework.interface import Code, NodeToStatus, Status

NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"


@dataclass(slots=True)
class Diagnosis:
    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, status: Status) -> None:
        if not status.plugin:
            return
        if status.code == Code.PENDING:
            self.pending_plugins.add(status.plugin)
        elif status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)


def reasons_histogram(node_to_status: NodeToStatus, num_all_nodes: int) -> list[str]:
    """``"<n> <reason>"`` for each reason over all nodes, sorted as strings."""
    counts: Counter[str] = Counter()
    for _, status in node_to_status.items():
        for reason in status.reasons:
            counts[reason] += 1
    absent = num_all_nodes - len(node_to_status)
    if absent > 0:
        for reason in node_to_status.absent_nodes_status().reasons:
            counts[reason] += absent
    return sorted(f"{n} {reason}" for reason, n in counts.items())


class FitError(Exception):
    """No node fits the pod; ``str()`` is the FailedScheduling message."""

    def __init__(self, pod_name: str, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__(pod_name)
        self.pod_name = pod_name
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        msg = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        d = self.diagnosis
        if d.pre_filter_msg:
            msg += f" {d.pre_filter_msg}."
        else:
            histogram = reasons_histogram(d.node_to_status, self.num_all_nodes)
            if histogram:
                msg += f" {', '.join(histogram)}."
        if d.post_filter_msg:
            # A nested FitError (preemption's) already ends with a period; one is enough.
            msg += f" {d.post_filter_msg.removesuffix('.')}."
        return msg

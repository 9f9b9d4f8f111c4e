"""SchedulingGates: a pod with ``spec.schedulingGates`` stays out of the active queue.

Mirrors ``plugins/schedulinggates/scheduling_gates.go``; the gates are only ever
removed, and that pod update moves the pod on (the UpdatePodSchedulingGatesEliminated
event).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, Status
from pyk8s.scheduler.framework.types import Obj

NAME = "SchedulingGates"


class SchedulingGates:
    name = NAME

    def pre_enqueue(self, pod: Obj) -> Status | None:
        gates = (pod.get("spec") or {}).get("schedulingGates") or ()
        if not gates:
            return None
        names = " ".join(g.get("name", "") for g in gates)
        return Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"waiting for scheduling gates: [{names}]"
        )

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.UNSCHEDULED_POD,
                    fw.ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED,
                ),
                _is_schedulable_after_update,
            )
        ]


def _is_schedulable_after_update(pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
    if new is None:
        return fw.QueueingHint.SKIP
    same = (new.get("metadata") or {}).get("uid") == (pod.get("metadata") or {}).get("uid")
    if same and not (new.get("spec") or {}).get("schedulingGates"):
        return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> SchedulingGates:
    return SchedulingGates()

"""TaintToleration: filter out untolerated NoSchedule/NoExecute taints; prefer fewer
untolerated PreferNoSchedule taints.

Mirrors ``plugins/tainttoleration/taint_toleration.go``; the score is the count of
intolerable PreferNoSchedule taints, normalized in reverse (fewer is better).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework import taints
from pyk8s.scheduler.framework.interface import Code, CycleState, NodeScore, Status
from pyk8s.scheduler.framework.types import MAX_NODE_SCORE, NodeInfo, Obj
from pyk8s.scheduler.plugins import helper

NAME = "TaintToleration"
_PRE_SCORE_KEY = "PreScore" + NAME


def untolerated_taint_reason(taint: Obj) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"


def count_intolerable_taints_prefer_no_schedule(
    node_taints: Sequence[Obj], tolerations: Sequence[Obj]
) -> int:
    return sum(
        1
        for t in node_taints
        if t.get("effect") == taints.PREFER_NO_SCHEDULE
        and not taints.tolerations_tolerate_taint(tolerations, t)
    )


class TaintToleration:
    name = NAME

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        taint = taints.find_matching_untolerated_taint(
            taints.node_taints(node_info.node),
            taints.pod_tolerations(pod),
            taints.do_not_schedule_taints,
        )
        if taint is None:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, untolerated_taint_reason(taint))

    def filter_nodes(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> list[Status | None]:
        """``filter`` for many nodes at once: untainted nodes are passed straight away."""
        return [self.filter(state, pod, n) if n.taints else None for n in nodes]

    def score_nodes(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> list[int]:
        """``score`` for many nodes at once."""
        return [self.score(state, pod, n)[0] if n.taints else 0 for n in nodes]

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        prefer = [
            t
            for t in taints.pod_tolerations(pod)
            if not t.get("effect") or t.get("effect") == taints.PREFER_NO_SCHEDULE
        ]
        state.write(_PRE_SCORE_KEY, prefer)
        return None

    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        prefer = state.get(_PRE_SCORE_KEY)
        if prefer is None:
            prefer = [
                t
                for t in taints.pod_tolerations(pod)
                if not t.get("effect") or t.get("effect") == taints.PREFER_NO_SCHEDULE
            ]
        return count_intolerable_taints_prefer_no_schedule(
            taints.node_taints(node_info.node), prefer
        ), None

    def score_extensions(self) -> TaintToleration:
        return self

    def normalize_score(
        self, state: CycleState, pod: Obj, scores: list[NodeScore]
    ) -> Status | None:
        helper.default_normalize_score(MAX_NODE_SCORE, True, scores)
        return None

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> list[int]:
        """``normalize_score`` over plain scores, in the same order."""
        return helper.default_normalize_scores(MAX_NODE_SCORE, True, scores)

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
    tols = taints.pod_tolerations(pod)
    was_untolerated = (
        old is None
        or taints.find_matching_untolerated_taint(
            taints.node_taints(old), tols, taints.do_not_schedule_taints
        )
        is not None
    )
    now_untolerated = (
        taints.find_matching_untolerated_taint(
            taints.node_taints(new), tols, taints.do_not_schedule_taints
        )
        is not None
    )
    if was_untolerated and not now_untolerated:
        return fw.QueueingHint.QUEUE
    return fw.QueueingHint.SKIP


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> TaintToleration:
    return TaintToleration()

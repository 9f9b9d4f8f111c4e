"""NodeAffinity: ``spec.nodeSelector`` and required node affinity filter nodes;
preferred terms score them.

Mirrors ``plugins/nodeaffinity/node_affinity.go``, including the PreFilter shortcut
for terms that name nodes with ``matchFields: metadata.name In [...]`` and the
profile-wide ``addedAffinity`` from NodeAffinityArgs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import (
    Code,
    CycleState,
    NodeScore,
    PreFilterResult,
    Status,
)
from pyk8s.scheduler.framework.nodeaffinity import (
    NodeSelector,
    PreferredSchedulingTerms,
    RequiredNodeAffinity,
)
from pyk8s.scheduler.framework.types import MAX_NODE_SCORE, NodeInfo, Obj
from pyk8s.scheduler.plugins import helper

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME


def _node_affinity(pod: Obj) -> Obj:
    na: Obj = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    return na


class NodeAffinity:
    name = NAME

    def __init__(self, added_affinity: Obj | None = None) -> None:
        added = added_affinity or {}
        req = added.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.added_node_selector = NodeSelector(req) if req is not None else None
        self.added_pref = PreferredSchedulingTerms(
            added.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        )

    def pre_filter(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        node_selector = (pod.get("spec") or {}).get("nodeSelector")
        if required is None and self.added_node_selector is None and node_selector is None:
            return None, Status(Code.SKIP)
        state.write(_PRE_FILTER_KEY, RequiredNodeAffinity(pod))
        terms = (required or {}).get("nodeSelectorTerms") or ()
        if not terms:
            return None, None
        names: set[str] | None = None
        for term in terms:
            term_names: set[str] | None = None
            for r in term.get("matchFields") or ():
                if r.get("key") == "metadata.name" and r.get("operator") == "In":
                    s = set(r.get("values") or ())
                    term_names = s if term_names is None else term_names & s
            if term_names is None:
                return None, None  # this term allows any node: terms are ORed
            names = term_names if names is None else names | term_names
        if names is not None and not names:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_CONFLICT)
        return PreFilterResult(names), None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        node = node_info.node
        if self.added_node_selector is not None and not self.added_node_selector.match(node):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_ENFORCED)
        required = state.get(_PRE_FILTER_KEY)
        if required is None:
            required = RequiredNodeAffinity(pod)
        if not required.match(node):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_POD)
        return None

    def _preferred(self, pod: Obj) -> PreferredSchedulingTerms:
        return PreferredSchedulingTerms(
            _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        )

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        preferred = self._preferred(pod)
        if not preferred and not self.added_pref:
            return Status(Code.SKIP)
        state.write(_PRE_SCORE_KEY, preferred)
        return None

    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        preferred = state.get(_PRE_SCORE_KEY)
        if preferred is None:
            preferred = self._preferred(pod)
        node = node_info.node
        count = self.added_pref.score(node) if self.added_pref else 0
        return count + preferred.score(node), None

    def score_extensions(self) -> NodeAffinity:
        return self

    def normalize_score(
        self, state: CycleState, pod: Obj, scores: list[NodeScore]
    ) -> Status | None:
        helper.default_normalize_score(MAX_NODE_SCORE, False, scores)
        return None

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> list[int]:
        """``normalize_score`` over plain scores, in the same order."""
        return helper.default_normalize_scores(MAX_NODE_SCORE, False, scores)

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_LABEL
                ),
                self._after_node_change,
            ),
        ]

    def _after_node_change(self, pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
        if new is None:
            return fw.QueueingHint.SKIP
        if self.added_node_selector is not None and not self.added_node_selector.match(new):
            return fw.QueueingHint.SKIP
        required = RequiredNodeAffinity(pod)
        if not required.match(new):
            return fw.QueueingHint.SKIP
        if old is not None and required.match(old):
            return fw.QueueingHint.SKIP  # it already matched: the label change did not help
        return fw.QueueingHint.QUEUE


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> NodeAffinity:
    return NodeAffinity((args or {}).get("addedAffinity"))

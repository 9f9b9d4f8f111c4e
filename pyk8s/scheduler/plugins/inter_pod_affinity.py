"""InterPodAffinity: pod affinity and anti-affinity, required (filter) and preferred (score).

Mirrors ``plugins/interpodaffinity/{plugin,filtering,scoring}.go``. PreFilter counts,
per topology pair (key, value), the existing pods matching the incoming pod's
required terms, and the existing pods whose required anti-affinity the incoming
pod would violate; Filter then answers per node from those counts. A pod whose
required affinity matches itself may start a group when no pod matches yet.
Scoring sums term weights per topology pair (existing pods' required affinity
counts with ``hardPodAffinityWeight``) and scales min..max to 0..100.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework import selectors
from pyk8s.scheduler.framework.interface import (
    Code,
    CycleState,
    NodeScore,
    PreFilterResult,
    Status,
)
from pyk8s.scheduler.framework.types import (
    MAX_NODE_SCORE,
    AffinityTerm,
    NodeInfo,
    Obj,
    PodInfo,
    WeightedAffinityTerm,
    meta,
)

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = (
    "node(s) didn't satisfy existing pods anti-affinity rules"
)
ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

TopologyPair = tuple[str, str]


class TopologyToMatchedTermCount(dict[TopologyPair, int]):
    def update_pair(self, labels: Mapping[str, str], key: str, value: int) -> None:
        tv = labels.get(key)
        if tv is None:
            return
        pair = (key, tv)
        n = self.get(pair, 0) + value
        if n == 0:
            self.pop(pair, None)
        else:
            self[pair] = n

    def update_with_affinity_terms(
        self, terms: Sequence[AffinityTerm], pod: Obj, labels: Mapping[str, str], value: int
    ) -> None:
        if pod_matches_all_affinity_terms(terms, pod):
            for t in terms:
                self.update_pair(labels, t.topology_key, value)

    def update_with_anti_affinity_terms(
        self,
        terms: Sequence[AffinityTerm],
        pod: Obj,
        ns_labels: Mapping[str, str] | None,
        labels: Mapping[str, str],
        value: int,
    ) -> None:
        for t in terms:
            if t.matches(pod, ns_labels):
                self.update_pair(labels, t.topology_key, value)

    def clone(self) -> TopologyToMatchedTermCount:
        return TopologyToMatchedTermCount(self)


def pod_matches_all_affinity_terms(terms: Sequence[AffinityTerm], pod: Obj) -> bool:
    if not terms:
        return False
    return all(t.matches(pod, None) for t in terms)


def namespace_labels(handle: fw.Handle, namespace: str) -> Mapping[str, str]:
    ns = handle.lister("namespaces").get("", namespace)
    labels: Mapping[str, str] = meta(ns).get("labels") or {} if ns is not None else {}
    return labels


def _merge_namespaces(handle: fw.Handle, term: AffinityTerm) -> AffinityTerm:
    """Fold a term's namespaceSelector into its namespace list (done once per cycle)."""
    if term.namespace_selector.nothing:
        return term
    matched = {
        meta(ns).get("name", "")
        for ns in handle.lister("namespaces").list()
        if term.namespace_selector.matches(meta(ns).get("labels"))
    }
    return replace(term, namespaces=term.namespaces | matched, namespace_selector=selectors.NOTHING)


@dataclass
class PreFilterState:
    pod_info: PodInfo
    required_affinity: list[AffinityTerm]
    required_anti_affinity: list[AffinityTerm]
    namespace_labels: Mapping[str, str]
    existing_anti_affinity_counts: TopologyToMatchedTermCount = field(
        default_factory=TopologyToMatchedTermCount
    )
    affinity_counts: TopologyToMatchedTermCount = field(default_factory=TopologyToMatchedTermCount)
    anti_affinity_counts: TopologyToMatchedTermCount = field(
        default_factory=TopologyToMatchedTermCount
    )

    def clone(self) -> PreFilterState:
        return replace(
            self,
            existing_anti_affinity_counts=self.existing_anti_affinity_counts.clone(),
            affinity_counts=self.affinity_counts.clone(),
            anti_affinity_counts=self.anti_affinity_counts.clone(),
        )

    def update_with_pod(self, other: PodInfo, labels: Mapping[str, str], mult: int) -> None:
        self.existing_anti_affinity_counts.update_with_anti_affinity_terms(
            other.required_anti_affinity_terms,
            self.pod_info.pod,
            self.namespace_labels,
            labels,
            mult,
        )
        self.affinity_counts.update_with_affinity_terms(
            self.required_affinity, other.pod, labels, mult
        )
        self.anti_affinity_counts.update_with_anti_affinity_terms(
            self.required_anti_affinity, other.pod, None, labels, mult
        )


@dataclass
class PreScoreState:
    topology_score: dict[str, dict[str, int]]


class InterPodAffinity:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None, handle: fw.Handle) -> None:
        args = args or {}
        self.handle = handle
        self.hard_pod_affinity_weight = int(args.get("hardPodAffinityWeight", 1))
        if not 0 <= self.hard_pod_affinity_weight <= 100:
            raise ValueError(
                f"hardPodAffinityWeight: Invalid value: {self.hard_pod_affinity_weight}: "
                "not in valid range [0-100]"
            )
        self.ignore_preferred_terms_of_existing_pods = bool(
            args.get("ignorePreferredTermsOfExistingPods", False)
        )

    # --- filtering ----------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        info = PodInfo(pod)
        ns_labels = namespace_labels(self.handle, meta(pod).get("namespace", ""))
        s = PreFilterState(
            pod_info=info,
            required_affinity=[
                _merge_namespaces(self.handle, t) for t in info.required_affinity_terms
            ],
            required_anti_affinity=[
                _merge_namespaces(self.handle, t) for t in info.required_anti_affinity_terms
            ],
            namespace_labels=ns_labels,
        )
        snapshot = self.handle.snapshot()
        with_anti: Iterable[NodeInfo] = (
            snapshot.have_pods_with_required_anti_affinity()
            if snapshot.list()
            else [n for n in nodes if n.pods_with_required_anti_affinity]
        )
        for n in with_anti:
            labels = n.labels
            for existing in n.pods_with_required_anti_affinity:
                s.existing_anti_affinity_counts.update_with_anti_affinity_terms(
                    existing.required_anti_affinity_terms, pod, ns_labels, labels, 1
                )
        if s.required_affinity or s.required_anti_affinity:
            for n in nodes:
                labels = n.labels
                for existing in n.pods:
                    s.affinity_counts.update_with_affinity_terms(
                        s.required_affinity, existing.pod, labels, 1
                    )
                    s.anti_affinity_counts.update_with_anti_affinity_terms(
                        s.required_anti_affinity, existing.pod, None, labels, 1
                    )
        if (
            not s.existing_anti_affinity_counts
            and not s.required_affinity
            and not s.required_anti_affinity
        ):
            return None, Status(Code.SKIP)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> InterPodAffinity:
        return self

    def add_pod(
        self, state: CycleState, pod: Obj, to_add: Obj, node_info: NodeInfo
    ) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if isinstance(s, PreFilterState):
            s.update_with_pod(PodInfo(to_add), node_info.labels, 1)
        return None

    def remove_pod(
        self, state: CycleState, pod: Obj, to_remove: Obj, node_info: NodeInfo
    ) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if isinstance(s, PreFilterState):
            s.update_with_pod(PodInfo(to_remove), node_info.labels, -1)
        return None

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is None:
            tmp = CycleState()
            _, status = self.pre_filter(tmp, pod, list(self.handle.snapshot().list()))
            if status is not None and status.is_skip():
                return None
            s = tmp.get(_PRE_FILTER_KEY)
        labels = node_info.labels
        if not _satisfy_pod_affinity(s, labels):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY_RULES_NOT_MATCH)
        if not _satisfy_pod_anti_affinity(s, labels):
            return Status(Code.UNSCHEDULABLE, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
        if not _satisfy_existing_pods_anti_affinity(s, labels):
            return Status(Code.UNSCHEDULABLE, ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
        return None

    def filter_nodes(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> list[Status | None]:
        """``filter`` for many nodes at once."""
        s = state.get(_PRE_FILTER_KEY)
        if s is None:
            return [self.filter(state, pod, n) for n in nodes]
        out: list[Status | None] = []
        for n in nodes:
            labels = n.labels
            if not _satisfy_pod_affinity(s, labels):
                out.append(
                    Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY_RULES_NOT_MATCH)
                )
            elif not _satisfy_pod_anti_affinity(s, labels):
                out.append(Status(Code.UNSCHEDULABLE, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH))
            elif not _satisfy_existing_pods_anti_affinity(s, labels):
                out.append(
                    Status(Code.UNSCHEDULABLE, ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
                )
            else:
                out.append(None)
        return out

    # --- scoring ------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        if not nodes:
            return Status(Code.SKIP)
        aff = (pod.get("spec") or {}).get("affinity") or {}
        has_constraints = bool(
            (aff.get("podAffinity") or {}).get("preferredDuringSchedulingIgnoredDuringExecution")
            or (aff.get("podAntiAffinity") or {}).get(
                "preferredDuringSchedulingIgnoredDuringExecution"
            )
        )
        if self.ignore_preferred_terms_of_existing_pods and not has_constraints:
            return Status(Code.SKIP)
        snapshot = self.handle.snapshot()
        all_nodes = snapshot.list() if has_constraints else snapshot.have_pods_with_affinity()
        info = PodInfo(pod)
        preferred_affinity = [
            WeightedAffinityTerm(_merge_namespaces(self.handle, w.term), w.weight)
            for w in info.preferred_affinity_terms
        ]
        preferred_anti = [
            WeightedAffinityTerm(_merge_namespaces(self.handle, w.term), w.weight)
            for w in info.preferred_anti_affinity_terms
        ]
        ns_labels = namespace_labels(self.handle, meta(pod).get("namespace", ""))
        scores: dict[str, dict[str, int]] = {}

        def process_term(
            term: AffinityTerm,
            weight: int,
            target: Obj,
            target_ns_labels: Mapping[str, str] | None,
            labels: Mapping[str, str],
            mult: int,
        ) -> None:
            if term.matches(target, target_ns_labels):
                tv = labels.get(term.topology_key)
                if tv is not None:
                    by_value = scores.setdefault(term.topology_key, {})
                    by_value[tv] = by_value.get(tv, 0) + weight * mult

        for n in all_nodes:
            labels = n.labels
            if not labels:
                continue
            for existing in n.pods if has_constraints else n.pods_with_affinity:
                for w in preferred_affinity:
                    process_term(w.term, w.weight, existing.pod, None, labels, 1)
                for w in preferred_anti:
                    process_term(w.term, w.weight, existing.pod, None, labels, -1)
                if self.hard_pod_affinity_weight > 0:
                    for t in existing.required_affinity_terms:
                        process_term(t, self.hard_pod_affinity_weight, pod, ns_labels, labels, 1)
                for w in existing.preferred_affinity_terms:
                    process_term(w.term, w.weight, pod, ns_labels, labels, 1)
                for w in existing.preferred_anti_affinity_terms:
                    process_term(w.term, w.weight, pod, ns_labels, labels, -1)
        if not scores:
            return Status(Code.SKIP)
        state.write(_PRE_SCORE_KEY, PreScoreState(scores))
        return None

    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        s: PreScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return 0, None
        labels = node_info.labels
        total = 0
        for key, by_value in s.topology_score.items():
            v = labels.get(key)
            if v is not None:
                total += by_value.get(v, 0)
        return total, None

    def score_extensions(self) -> InterPodAffinity:
        return self

    def normalize_score(
        self, state: CycleState, pod: Obj, scores: list[NodeScore]
    ) -> Status | None:
        s: PreScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None or not s.topology_score or not scores:
            return None
        lo = min(x.score for x in scores)
        hi = max(x.score for x in scores)
        diff = hi - lo
        for x in scores:
            x.score = int(MAX_NODE_SCORE * ((x.score - lo) / diff)) if diff > 0 else 0
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.POD,
                    fw.ActionType.ADD | fw.ActionType.UPDATE_POD_LABEL | fw.ActionType.DELETE,
                ),
            ),
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE_NODE_LABEL
                ),
            ),
        ]


def _satisfy_pod_affinity(s: PreFilterState, labels: Mapping[str, str]) -> bool:
    pods_exist = True
    for t in s.required_affinity:
        tv = labels.get(t.topology_key)
        if tv is None:
            return False  # every topology label must be on the node
        if s.affinity_counts.get((t.topology_key, tv), 0) <= 0:
            pods_exist = False
    if pods_exist:
        return True
    # The first pod of a group whose affinity matches itself may go anywhere
    # that has the topology labels, as long as no other pod matches yet.
    return not s.affinity_counts and pod_matches_all_affinity_terms(
        s.required_affinity, s.pod_info.pod
    )


def _satisfy_pod_anti_affinity(s: PreFilterState, labels: Mapping[str, str]) -> bool:
    if not s.anti_affinity_counts:
        return True
    for t in s.required_anti_affinity:
        tv = labels.get(t.topology_key)
        if tv is not None and s.anti_affinity_counts.get((t.topology_key, tv), 0) > 0:
            return False
    return True


def _satisfy_existing_pods_anti_affinity(s: PreFilterState, labels: Mapping[str, str]) -> bool:
    if not s.existing_anti_affinity_counts:
        return True
    counts = s.existing_anti_affinity_counts
    return not any(counts.get(pair, 0) > 0 for pair in labels.items())


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> InterPodAffinity:
    return InterPodAffinity(args, handle)

"""PodTopologySpread: keep matching pods evenly spread over topology domains.

Mirrors ``plugins/podtopologyspread/{plugin,common,filtering,scoring}.go``.
Filter enforces ``whenUnsatisfiable: DoNotSchedule`` constraints: placing the pod
in a domain must keep ``matching pods there + self - global minimum <= maxSkew``
(the minimum is 0 while fewer than ``minDomains`` domains exist). Score prefers
domains with fewer matching pods under ``ScheduleAnyway`` constraints. A pod with
no constraints of its own gets the cluster defaults (``System``: hostname maxSkew
3 and zone maxSkew 5, both ScheduleAnyway) with a selector built from the
services, replica sets, stateful sets and replication controllers that select it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework import selectors, taints
from pyk8s.scheduler.framework.interface import (
    Code,
    CycleState,
    NodeScore,
    PreFilterResult,
    Status,
)
from pyk8s.scheduler.framework.nodeaffinity import RequiredNodeAffinity
from pyk8s.scheduler.framework.types import (
    LABEL_HOSTNAME,
    LABEL_ZONE,
    MAX_NODE_SCORE,
    NodeInfo,
    Obj,
    PodInfo,
    meta,
)

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
_MAX_INT32 = 2**31 - 1

DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"

SYSTEM_DEFAULT_CONSTRAINTS: tuple[Obj, ...] = (
    {"topologyKey": LABEL_HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": LABEL_ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
)


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: selectors.LabelSelector
    min_domains: int = 1
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE

    def match_node_inclusion_policies(
        self, pod: Obj, node: Obj, required: RequiredNodeAffinity
    ) -> bool:
        if self.node_affinity_policy == HONOR and not required.match(node):
            return False
        if self.node_taints_policy == HONOR:
            untolerated = taints.find_matching_untolerated_taint(
                taints.node_taints(node), taints.pod_tolerations(pod), taints.do_not_schedule_taints
            )
            if untolerated is not None:
                return False
        return True


def filter_constraints(
    raw: Sequence[Obj], pod_labels: Mapping[str, str], action: str
) -> list[Constraint]:
    """The constraints with ``whenUnsatisfiable == action``, selectors compiled."""
    out = []
    for c in raw:
        if (c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) != action:
            continue
        sel = selectors.from_label_selector(c.get("labelSelector"))
        extra = [
            (k, "in", frozenset([pod_labels[k]]))
            for k in c.get("matchLabelKeys") or ()
            if k in pod_labels
        ]
        if extra:
            sel = sel.add(*extra)
        out.append(
            Constraint(
                max_skew=int(c.get("maxSkew") or 1),
                topology_key=c.get("topologyKey", ""),
                selector=sel,
                min_domains=int(c.get("minDomains") or 1),
                node_affinity_policy=c.get("nodeAffinityPolicy") or HONOR,
                node_taints_policy=c.get("nodeTaintsPolicy") or IGNORE,
            )
        )
    return out


def node_labels_match_spread_constraints(
    labels: Mapping[str, str], constraints: Sequence[Constraint]
) -> bool:
    return all(c.topology_key in labels for c in constraints)


def count_pods_match_selector(
    pods: Sequence[PodInfo], selector: selectors.LabelSelector, namespace: str
) -> int:
    if selector.nothing:
        return 0
    n = 0
    for p in pods:
        m = meta(p.pod)
        if m.get("deletionTimestamp") or m.get("namespace", "") != namespace:
            continue
        if selector.matches(m.get("labels")):
            n += 1
    return n


def default_selector(pod: Obj, handle: fw.Handle) -> selectors.LabelSelector:
    """The selector of the services and controllers of the pod (``helper.DefaultSelector``)."""
    m = meta(pod)
    ns = m.get("namespace", "")
    labels = m.get("labels") or {}
    merged: dict[str, str] = {}
    for svc in handle.lister("services").list(ns):
        sel = (svc.get("spec") or {}).get("selector")
        if sel is None:
            continue
        if selectors.from_set(sel).matches(labels):
            merged.update(sel)
    selector = selectors.from_set(merged)
    owner = next((o for o in m.get("ownerReferences") or () if o.get("controller")), None)
    if owner is None:
        return selector
    group = owner.get("apiVersion", "").rpartition("/")[0]
    kind = owner.get("kind")
    if kind == "ReplicationController" and group == "":
        rc = handle.lister("replicationcontrollers").get(ns, owner.get("name", ""))
        if rc is not None:
            merged.update((rc.get("spec") or {}).get("selector") or {})
            selector = selectors.from_set(merged)
    elif group == "apps" and kind in ("ReplicaSet", "StatefulSet"):
        resource = "replicasets" if kind == "ReplicaSet" else "statefulsets"
        obj = handle.lister(resource).get(ns, owner.get("name", ""))
        if obj is not None:
            other = selectors.from_label_selector((obj.get("spec") or {}).get("selector"))
            if not other.nothing:
                selector = selector.add(*other.requirements)
    return selector


class _CriticalPaths:
    """The two domains with the fewest matching pods (``criticalPaths``)."""

    __slots__ = ("nums", "values")

    def __init__(self) -> None:
        self.values = ["", ""]
        self.nums = [_MAX_INT32, _MAX_INT32]

    def min_match_num(self) -> int:
        return self.nums[0]

    def update(self, value: str, num: int) -> None:
        v, n = self.values, self.nums
        i = 0 if value == v[0] else 1 if value == v[1] else -1
        if i >= 0:
            n[i] = num
            if n[0] > n[1]:
                v.reverse()
                n.reverse()
        elif num < n[0]:
            v[1], n[1] = v[0], n[0]
            v[0], n[0] = value, num
        elif num < n[1]:
            v[1], n[1] = value, num

    def clone(self) -> _CriticalPaths:
        c = _CriticalPaths()
        c.values = list(self.values)
        c.nums = list(self.nums)
        return c


@dataclass
class PreFilterState:
    constraints: list[Constraint] = field(default_factory=list)
    tp_value_to_match_num: list[dict[str, int]] = field(default_factory=list)
    tp_key_to_critical_paths: dict[str, _CriticalPaths] = field(default_factory=dict)
    tp_key_to_domains_num: dict[str, int] = field(default_factory=dict)

    def min_match_num(self, i: int, c: Constraint) -> int:
        if self.tp_key_to_domains_num.get(c.topology_key, 0) < c.min_domains:
            return 0
        return self.tp_key_to_critical_paths[c.topology_key].min_match_num()

    def clone(self) -> PreFilterState:
        return PreFilterState(
            self.constraints,
            [dict(m) for m in self.tp_value_to_match_num],
            {k: v.clone() for k, v in self.tp_key_to_critical_paths.items()},
            dict(self.tp_key_to_domains_num),
        )


@dataclass
class PreScoreState:
    constraints: list[Constraint]
    ignored_nodes: set[str] = field(default_factory=set)
    topology_value_to_pod_counts: list[dict[str, int]] = field(default_factory=list)
    topology_normalizing_weight: list[float] = field(default_factory=list)


def score_for_count(count: int, max_skew: int, weight: float) -> float:
    return count * weight + (max_skew - 1)


class PodTopologySpread:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None, handle: fw.Handle) -> None:
        args = args or {}
        self.handle = handle
        defaulting = args.get("defaultingType") or "System"
        defaults = list(args.get("defaultConstraints") or ())
        if defaulting == "System":
            if defaults:
                raise ValueError(
                    'defaultConstraints: Invalid value: when .defaultingType is "System", '
                    ".defaultConstraints must be empty"
                )
            self.default_constraints: list[Obj] = list(SYSTEM_DEFAULT_CONSTRAINTS)
            self.system_defaulted = True
        elif defaulting == "List":
            for c in defaults:
                if c.get("labelSelector") is not None:
                    raise ValueError(
                        "defaultConstraints[].labelSelector: Forbidden: constraint must not "
                        "define a selector, as they deduced for each pod"
                    )
            self.default_constraints = defaults
            self.system_defaulted = False
        else:
            raise ValueError(f"defaultingType: Unsupported value: {defaulting!r}")

    def _constraints(self, pod: Obj, action: str) -> list[Constraint]:
        own = (pod.get("spec") or {}).get("topologySpreadConstraints") or ()
        labels = meta(pod).get("labels") or {}
        if own:
            return filter_constraints(own, labels, action)
        constraints = filter_constraints(self.default_constraints, labels, action)
        if not constraints:
            return []
        sel = default_selector(pod, self.handle)
        if sel.empty:
            return []
        return [
            Constraint(
                c.max_skew,
                c.topology_key,
                sel,
                c.min_domains,
                c.node_affinity_policy,
                c.node_taints_policy,
            )
            for c in constraints
        ]

    # --- filtering ----------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        if not constraints:
            state.write(_PRE_FILTER_KEY, PreFilterState())
            return None, Status(Code.SKIP)
        s = PreFilterState(constraints=constraints)
        s.tp_value_to_match_num = [{} for _ in constraints]
        required = RequiredNodeAffinity(pod)
        ns = meta(pod).get("namespace", "")
        for info in nodes:
            node = info.node
            labels = info.labels
            if not node_labels_match_spread_constraints(labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.match_node_inclusion_policies(pod, node, required):
                    continue
                value = labels[c.topology_key]
                counts = s.tp_value_to_match_num[i]
                counts[value] = counts.get(value, 0) + count_pods_match_selector(
                    info.pods, c.selector, ns
                )
        for i, c in enumerate(constraints):
            s.tp_key_to_domains_num[c.topology_key] = len(s.tp_value_to_match_num[i])
            paths = s.tp_key_to_critical_paths.setdefault(c.topology_key, _CriticalPaths())
            for value, num in s.tp_value_to_match_num[i].items():
                paths.update(value, num)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> PodTopologySpread:
        return self

    def _update_with_pod(
        self, state: CycleState, pod: Obj, other: Obj, node_info: NodeInfo, delta: int
    ) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if not isinstance(s, PreFilterState) or not s.constraints or not node_info.has_node:
            return None
        if meta(other).get("namespace") != meta(pod).get("namespace"):
            return None
        node = node_info.node
        labels = node_info.labels
        if not node_labels_match_spread_constraints(labels, s.constraints):
            return None
        required = RequiredNodeAffinity(pod)
        other_labels = meta(other).get("labels") or {}
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(other_labels):
                continue
            if not c.match_node_inclusion_policies(pod, node, required):
                continue
            value = labels[c.topology_key]
            counts = s.tp_value_to_match_num[i]
            counts[value] = counts.get(value, 0) + delta
            s.tp_key_to_critical_paths[c.topology_key].update(value, counts[value])
        return None

    def add_pod(
        self, state: CycleState, pod: Obj, to_add: Obj, node_info: NodeInfo
    ) -> Status | None:
        return self._update_with_pod(state, pod, to_add, node_info, 1)

    def remove_pod(
        self, state: CycleState, pod: Obj, to_remove: Obj, node_info: NodeInfo
    ) -> Status | None:
        return self._update_with_pod(state, pod, to_remove, node_info, -1)

    def filter(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is None:
            nodes = list(self.handle.snapshot().list())
            tmp = CycleState()
            self.pre_filter(tmp, pod, nodes)
            s = tmp.get(_PRE_FILTER_KEY)
        if not s.constraints:
            return None
        labels = node_info.labels
        pod_labels = meta(pod).get("labels") or {}
        for i, c in enumerate(s.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_LABEL_NOT_MATCH)
            self_match = 1 if c.selector.matches(pod_labels) else 0
            match_num = s.tp_value_to_match_num[i].get(value, 0)
            skew = match_num + self_match - s.min_match_num(i, c)
            if skew > c.max_skew:
                return Status(Code.UNSCHEDULABLE, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    # --- scoring ------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]) -> Status | None:
        all_nodes = self.handle.snapshot().list()
        if not nodes or not all_nodes:
            return Status(Code.SKIP)
        constraints = self._constraints(pod, SCHEDULE_ANYWAY)
        if not constraints:
            return Status(Code.SKIP)
        own = bool((pod.get("spec") or {}).get("topologySpreadConstraints"))
        require_all = own or not self.system_defaulted
        s = PreScoreState(constraints)
        s.topology_value_to_pod_counts = [{} for _ in constraints]
        topo_size = [0] * len(constraints)
        for info in nodes:
            labels = info.labels
            if require_all and not node_labels_match_spread_constraints(labels, constraints):
                s.ignored_nodes.add(info.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    continue
                value = labels.get(c.topology_key, "")
                if value not in s.topology_value_to_pod_counts[i]:
                    s.topology_value_to_pod_counts[i][value] = 0
                    topo_size[i] += 1
        for i, c in enumerate(constraints):
            size = topo_size[i]
            if c.topology_key == LABEL_HOSTNAME:
                size = len(nodes) - len(s.ignored_nodes)
            s.topology_normalizing_weight.append(math.log(size + 2))
        required = RequiredNodeAffinity(pod)
        ns = meta(pod).get("namespace", "")
        for info in all_nodes:
            labels = info.labels
            if require_all and not node_labels_match_spread_constraints(labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.match_node_inclusion_policies(pod, info.node, required):
                    continue
                counts = s.topology_value_to_pod_counts[i]
                value = labels.get(c.topology_key, "")
                if value not in counts:
                    continue
                counts[value] += count_pods_match_selector(info.pods, c.selector, ns)
        state.write(_PRE_SCORE_KEY, s)
        return None

    def score(self, state: CycleState, pod: Obj, node_info: NodeInfo) -> tuple[int, Status | None]:
        s: PreScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None or node_info.name in s.ignored_nodes:
            return 0, None
        labels = node_info.labels
        ns = meta(pod).get("namespace", "")
        score = 0.0
        for i, c in enumerate(s.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                count = count_pods_match_selector(node_info.pods, c.selector, ns)
            else:
                count = s.topology_value_to_pod_counts[i].get(value, 0)
            score += score_for_count(count, c.max_skew, s.topology_normalizing_weight[i])
        return math.floor(score + 0.5), None

    def score_extensions(self) -> PodTopologySpread:
        return self

    def normalize_score(
        self, state: CycleState, pod: Obj, scores: list[NodeScore]
    ) -> Status | None:
        s: PreScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return None
        valid = [x.score for x in scores if x.name not in s.ignored_nodes]
        min_score = min(valid, default=0)
        max_score = max(valid, default=0)
        for x in scores:
            if x.name in s.ignored_nodes:
                x.score = 0
            elif max_score == 0:
                x.score = MAX_NODE_SCORE
            else:
                x.score = MAX_NODE_SCORE * (max_score + min_score - x.score) // max_score
        return None

    def events_to_register(self) -> list[fw.ClusterEventWithHint]:
        return [
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.POD,
                    fw.ActionType.ADD | fw.ActionType.UPDATE_POD_LABEL | fw.ActionType.DELETE,
                ),
                self._after_pod_change,
            ),
            fw.ClusterEventWithHint(
                fw.ClusterEvent(
                    fw.EventResource.NODE,
                    fw.ActionType.ADD
                    | fw.ActionType.DELETE
                    | fw.ActionType.UPDATE_NODE_LABEL
                    | fw.ActionType.UPDATE_NODE_TAINT,
                ),
            ),
        ]

    def _after_pod_change(self, pod: Obj, old: Obj | None, new: Obj | None) -> fw.QueueingHint:
        changed = new if new is not None else old
        if changed is None or meta(changed).get("namespace") != meta(pod).get("namespace"):
            return fw.QueueingHint.SKIP
        constraints = self._constraints(pod, DO_NOT_SCHEDULE) + self._constraints(
            pod, SCHEDULE_ANYWAY
        )
        for obj in (old, new):
            if obj is None:
                continue
            if any(c.selector.matches(meta(obj).get("labels")) for c in constraints):
                return fw.QueueingHint.QUEUE
        return fw.QueueingHint.SKIP


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> PodTopologySpread:
    return PodTopologySpread(args, handle)

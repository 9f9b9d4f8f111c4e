"""DefaultPreemption: when no node fits, evict lower-priority pods to make room.

Mirrors ``plugins/defaultpreemption/default_preemption.go`` and
``framework/preemption/preemption.go``: only nodes whose filters said Unschedulable
(not UnschedulableAndUnresolvable) are candidates; on each, all lower-priority pods
are removed, the pod must then fit, and victims are reprieved from the most
important down (PDB-violating ones first) while the pod still fits. The best
candidate has the fewest PDB violations, then the lowest highest-victim priority,
the lowest priority sum, the fewest victims, the latest start among the most
important victims. Victims are marked ``DisruptionTarget`` and deleted gracefully,
and the pod is nominated to the node (``status.nominatedNodeName``).
"""

from __future__ import annotations

import datetime
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework import selectors
from pyk8s.scheduler.framework.diagnosis import Diagnosis, FitError
from pyk8s.scheduler.framework.interface import (
    Code,
    CycleState,
    NodeToStatus,
    PostFilterResult,
    Status,
)
from pyk8s.scheduler.framework.types import NodeInfo, Obj, PodInfo, meta, pod_key, pod_priority

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100


@dataclass
class Candidate:
    name: str
    victims: list[Obj]
    num_pdb_violations: int


def _start_time(pod: Obj) -> str:
    st: str = (pod.get("status") or {}).get("startTime") or ""
    return st


def more_important_pod(a: Obj, b: Obj) -> bool:
    """Higher priority first, then the pod that started earlier (``util.MoreImportantPod``)."""
    pa, pb = pod_priority(a), pod_priority(b)
    if pa != pb:
        return pa > pb
    sa, sb = _start_time(a), _start_time(b)
    if not sa or not sb:
        return bool(sa) and not sb
    return sa < sb


def _sort_by_importance(pods: list[Any], get: Any = lambda p: p) -> None:
    import functools

    def cmp(x: Any, y: Any) -> int:
        a, b = get(x), get(y)
        if more_important_pod(a, b):
            return -1
        if more_important_pod(b, a):
            return 1
        return 0

    pods.sort(key=functools.cmp_to_key(cmp))


def pod_terminating_by_preemption(pod: Obj) -> bool:
    if not meta(pod).get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "DisruptionTarget" and c.get("reason") == "PreemptionByScheduler"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def filter_pods_with_pdb_violation(
    pods: Sequence[PodInfo], pdbs: Sequence[Obj]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """Split victims into (violating, non-violating) a PodDisruptionBudget."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    sels = [selectors.from_label_selector((p.get("spec") or {}).get("selector")) for p in pdbs]
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for pi in pods:
        m = meta(pi.pod)
        broke = False
        for i, pdb in enumerate(pdbs):
            if meta(pdb).get("namespace") != m.get("namespace"):
                continue
            if sels[i].empty or not sels[i].matches(m.get("labels")):
                continue
            if m.get("name") in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                broke = True
        (violating if broke else ok).append(pi)
    return violating, ok


class DefaultPreemption:
    name = NAME

    def __init__(self, args: Mapping[str, Any] | None, handle: fw.Handle) -> None:
        args = args or {}
        self.handle = handle
        self.min_candidate_nodes_percentage = int(
            args.get("minCandidateNodesPercentage", MIN_CANDIDATE_NODES_PERCENTAGE)
        )
        self.min_candidate_nodes_absolute = int(
            args.get("minCandidateNodesAbsolute", MIN_CANDIDATE_NODES_ABSOLUTE)
        )
        if not 0 <= self.min_candidate_nodes_percentage <= 100:
            raise ValueError(
                "minCandidateNodesPercentage: Invalid value: not in valid range [0, 100]"
            )
        if self.min_candidate_nodes_absolute < 0:
            raise ValueError(
                "minCandidateNodesAbsolute: Invalid value: not in valid range [0, inf)"
            )
        self.rand = random.Random()

    # --- eligibility and candidates -----------------------------------------------------

    def pod_eligible_to_preempt_others(
        self, pod: Obj, nominated_status: Status
    ) -> tuple[bool, str]:
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return False, "not eligible due to preemptionPolicy=Never."
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        if nominated:
            if nominated_status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            try:
                info = self.handle.snapshot().get(nominated)
            except KeyError:
                info = None
            if info is not None:
                prio = pod_priority(pod)
                for p in info.pods:
                    if pod_priority(p.pod) < prio and pod_terminating_by_preemption(p.pod):
                        return False, "not eligible due to a terminating pod on the nominated node."
        return True, ""

    def offset_and_num_candidates(self, num_nodes: int) -> tuple[int, int]:
        n = num_nodes * self.min_candidate_nodes_percentage // 100
        n = max(n, self.min_candidate_nodes_absolute)
        n = min(n, num_nodes)
        return (self.rand.randrange(num_nodes) if num_nodes else 0), n

    def select_victims_on_node(
        self, state: CycleState, pod: Obj, node_info: NodeInfo, pdbs: Sequence[Obj]
    ) -> tuple[list[Obj], int, Status | None]:
        h = self.handle
        prio = pod_priority(pod)
        potential = [pi for pi in node_info.pods if pod_priority(pi.pod) < prio]
        for pi in potential:
            node_info.remove_pod(pi.pod)
            s = h.run_pre_filter_extension_remove_pod(state, pod, pi.pod, node_info)
            if s is not None:
                return [], 0, s
        if not potential:
            return [], 0, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NO_VICTIMS)
        s = h.run_filter_plugins_with_nominated_pods(state, pod, node_info)
        if s is not None:
            return [], 0, s
        _sort_by_importance(potential, lambda pi: pi.pod)
        violating, non_violating = filter_pods_with_pdb_violation(potential, pdbs)
        victims: list[Obj] = []
        num_violating = 0

        def reprieve(pi: PodInfo) -> bool:
            node_info.add_pod(pi)
            h.run_pre_filter_extension_add_pod(state, pod, pi.pod, node_info)
            fits = h.run_filter_plugins_with_nominated_pods(state, pod, node_info) is None
            if not fits:
                node_info.remove_pod(pi.pod)
                h.run_pre_filter_extension_remove_pod(state, pod, pi.pod, node_info)
                victims.append(pi.pod)
            return fits

        for pi in violating:
            if not reprieve(pi):
                num_violating += 1
        for pi in non_violating:
            reprieve(pi)
        if violating and non_violating:
            _sort_by_importance(victims)
        return victims, num_violating, None

    def dry_run_preemption(
        self,
        state: CycleState,
        pod: Obj,
        potential: Sequence[NodeInfo],
        pdbs: Sequence[Obj],
        offset: int,
        num_candidates: int,
    ) -> tuple[list[Candidate], NodeToStatus]:
        statuses = NodeToStatus()
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        n = len(potential)
        for i in range(n):
            info = potential[(offset + i) % n].clone()
            victims, num_v, s = self.select_victims_on_node(state.clone(), pod, info, pdbs)
            if s is None and not victims:
                s = Status(Code.ERROR, f'expected at least one victim pod on node "{info.name}"')
            if s is None:
                c = Candidate(info.name, victims, num_v)
                (non_violating if num_v == 0 else violating).append(c)
                if len(non_violating) >= num_candidates:
                    break
                continue
            statuses.set(info.name, s)
        return non_violating + violating, statuses

    def select_candidate(self, candidates: Sequence[Candidate]) -> Candidate | None:
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]

        def highest(c: Candidate) -> int:
            return max((pod_priority(v) for v in c.victims), default=-(2**31))

        def prio_sum(c: Candidate) -> int:
            return sum(pod_priority(v) + 2**31 for v in c.victims)

        def earliest_start_of_highest(c: Candidate) -> str:
            top = highest(c)
            times = [_start_time(v) for v in c.victims if pod_priority(v) == top and _start_time(v)]
            return min(times, default="")

        pool = list(candidates)
        for key in (
            lambda c: c.num_pdb_violations,
            highest,
            prio_sum,
            lambda c: len(c.victims),
        ):
            best = min(key(c) for c in pool)
            pool = [c for c in pool if key(c) == best]
            if len(pool) == 1:
                return pool[0]
        latest = max(earliest_start_of_highest(c) for c in pool)
        pool = [c for c in pool if earliest_start_of_highest(c) == latest]
        return pool[0]

    # --- the extension point ------------------------------------------------------------

    async def post_filter(
        self, state: CycleState, pod: Obj, filtered: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]:
        node_to_status = filtered
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        ok, msg = self.pod_eligible_to_preempt_others(pod, node_to_status.get(nominated))
        if not ok:
            return None, Status(Code.UNSCHEDULABLE, "preemption: " + msg)
        all_nodes = list(self.handle.snapshot().list())
        if not all_nodes:
            return None, Status(Code.ERROR, "preemption: no nodes available")
        potential = [n for n in all_nodes if node_to_status.get(n.name).code == Code.UNSCHEDULABLE]
        candidates: list[Candidate] = []
        statuses = NodeToStatus()
        if potential:
            pdbs = list(self.handle.lister("poddisruptionbudgets").list())
            offset, num = self.offset_and_num_candidates(len(potential))
            candidates, statuses = self.dry_run_preemption(state, pod, potential, pdbs, offset, num)
        if not candidates:
            statuses.set_absent_nodes_status(
                Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NOT_HELPFUL)
            )
            err = FitError(meta(pod).get("name", ""), len(all_nodes), Diagnosis(statuses))
            return PostFilterResult(""), Status(Code.UNSCHEDULABLE, f"preemption: {err}")
        best = self.select_candidate(candidates)
        if best is None:
            return None, Status(Code.UNSCHEDULABLE, "preemption: no candidate node for preemption")
        s = await self.prepare_candidate(best, pod)
        if s is not None:
            return None, s
        return PostFilterResult(best.name), None

    async def prepare_candidate(self, c: Candidate, pod: Obj) -> Status | None:
        h = self.handle
        pm = meta(pod)
        scheduler_name = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for victim in c.victims:
            waiting = h.get_waiting_pod(pod_key(victim))
            if waiting is not None:
                waiting.reject(NAME, "preempted")
                continue
            vm = meta(victim)
            try:
                condition = {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "PreemptionByScheduler",
                    "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
                    "lastTransitionTime": now,
                }
                await h.status_updater.update_pod_status(victim, condition, None)
                await h.pod_deleter.delete_pod(
                    vm.get("namespace", ""), vm.get("name", ""), vm.get("uid", "")
                )
            except Exception as e:
                return Status.as_status(e)
            h.recorder.event(
                victim,
                "Normal",
                "Preempted",
                "Preempting",
                f"Preempted by pod {pm.get('uid', '')} on node {c.name}",
            )
        prio = pod_priority(pod)
        for other in h.nominated_pods_for_node(c.name):
            if pod_priority(other) < prio and pod_key(other) != pod_key(pod):
                try:
                    await h.status_updater.update_pod_status(other, None, "")
                except Exception:
                    log.exception("clearing nominatedNodeName of %s", meta(other).get("name"))
        return None


def new(args: Mapping[str, Any] | None, handle: fw.Handle) -> DefaultPreemption:
    return DefaultPreemption(args, handle)

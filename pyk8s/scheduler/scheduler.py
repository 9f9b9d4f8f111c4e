"""schedule_one: the scheduling cycle, then the binding cycle off the critical path.

Mirrors ``pkg/scheduler/schedule_one.go``. The scheduling cycle snapshots the
cache, runs PreFilter, then Filter over the nodes starting where the previous
cycle stopped (and stopping once enough feasible nodes are found: all of them
below 100 nodes, else 50% minus 1% per 125 nodes, at least 5% and 100 nodes),
scores the feasible nodes, picks the best (ties broken at random, as upstream's
reservoir sampling does), assumes the pod on it in the cache and runs
Reserve and Permit. The binding cycle waits on Permit, runs PreBind, Bind and
PostBind, and records ``Scheduled``. A failure records ``FailedScheduling`` with
the FitError message, sets ``PodScheduled=False`` (reason ``Unschedulable`` or
``SchedulerError``) and gives the pod back to the queue; PostFilter (preemption)
may nominate a node first.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.scheduler import cache as cache_mod
from pyk8s.scheduler import queue as queue_mod
from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.diagnosis import (
    ERR_NO_NODES_AVAILABLE,
    Diagnosis,
    FitError,
)
from pyk8s.scheduler.framework.interface import Code, CycleState, NodeToStatus, Status
from pyk8s.scheduler.framework.runtime import Framework
from pyk8s.scheduler.framework.types import (
    NodeInfo,
    Obj,
    PodInfo,
    QueuedPodInfo,
    meta,
    namespaced_name,
    pod_key,
)

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAME = "default-scheduler"
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
MAX_MESSAGE_LENGTH = 1024
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"


class NoNodesAvailableError(Exception):
    def __str__(self) -> str:
        return ERR_NO_NODES_AVAILABLE


@dataclass
class ScheduleResult:
    suggested_host: str = ""
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    nominated_node_name: str | None = None
    """None: leave the pod's nominatedNodeName alone; "": clear it; a name: set it."""


def truncate_message(message: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    if len(message) <= limit:
        return message
    suffix = " ..."
    return message[: limit - len(suffix)] + suffix


def _now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes are enough (``numFeasibleNodesToFind``)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


def select_host(scores: Sequence[fw.NodePluginScores], rand: random.Random) -> str:
    """The highest total score; among equal ones, each is equally likely."""
    if not scores:
        raise ValueError("empty priorityList")
    best = max(s.total_score for s in scores)
    tied = [s.name for s in scores if s.total_score == best]
    # upstream samples a reservoir among the tied nodes: each is equally likely
    return tied[rand.randrange(len(tied))] if len(tied) > 1 else tied[0]


def select_host_index(totals: Sequence[int], rand: random.Random) -> int:
    """``select_host`` over plain totals: the index of the chosen node."""
    if not totals:
        raise ValueError("empty priorityList")
    best = max(totals)
    first = totals.index(best)
    if totals.count(best) == 1:
        return first
    tied = [i for i in range(first, len(totals)) if totals[i] == best]
    return tied[rand.randrange(len(tied))]


class Scheduler:
    """The scheduler: profiles by schedulerName, one queue, one cache."""

    def __init__(
        self,
        profiles: Mapping[str, Framework],
        *,
        clock: Callable[[], float] = time.monotonic,
        rand: random.Random | None = None,
        percentage_of_nodes_to_score: int = 0,
        pod_initial_backoff: float = queue_mod.DEFAULT_POD_INITIAL_BACKOFF,
        pod_max_backoff: float = queue_mod.DEFAULT_POD_MAX_BACKOFF,
        get_pod: Callable[[str, str], Obj | None] | None = None,
    ) -> None:
        if not profiles:
            raise ValueError("at least one profile is required")
        self.profiles = dict(profiles)
        self.clock = clock
        self.rand = rand or random.Random()
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.get_pod = get_pod
        self._events: dict[str, dict[str, list[fw.ClusterEventWithHint]]] = {
            name: f.events_to_register() for name, f in self.profiles.items()
        }
        first = next(iter(self.profiles.values()))
        self.queue = queue_mod.SchedulingQueue(
            first.queue_sort_less(),
            pre_enqueue=self._pre_enqueue,
            events_for=self._events_for,
            clock=clock,
            initial_backoff=pod_initial_backoff,
            max_backoff=pod_max_backoff,
        )
        self.cache = cache_mod.Cache(clock=clock)
        self.snapshot = cache_mod.Snapshot()
        self.next_start_node_index = 0
        for f in self.profiles.values():
            f.set_snapshot(self.snapshot)
            f.seams.nominated_pods = self.queue.nominated_pods_for_node
            f.seams.any_nominated = self.queue.nominator.__bool__

    # --- profiles ---------------------------------------------------------------------------

    def framework_for_pod(self, pod: Obj) -> Framework | None:
        name = (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME
        return self.profiles.get(name)

    def responsible_for(self, pod: Obj) -> bool:
        return self.framework_for_pod(pod) is not None

    def _pre_enqueue(self, pod: Obj) -> Status | None:
        f = self.framework_for_pod(pod)
        return f.run_pre_enqueue_plugins(pod) if f is not None else None

    def _events_for(self, pod: Obj) -> Mapping[str, Sequence[fw.ClusterEventWithHint]]:
        name = (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME
        return self._events.get(name, {})

    # --- one pod ----------------------------------------------------------------------------

    async def schedule_one(self) -> Coroutine[Any, Any, None] | None:
        """Schedule the next pod; returns its binding cycle to run, or None."""
        qpi = await self.queue.pop()
        if qpi is None:
            return None
        pod = qpi.pod
        fwk = self.framework_for_pod(pod)
        if fwk is None:
            self.queue.done(qpi.pod_info.key)
            return None
        if meta(pod).get("deletionTimestamp") or self.cache.is_assumed_pod(pod):
            self.queue.done(qpi.pod_info.key)
            return None
        state = CycleState()
        start = self.clock()
        result, assumed, status = await self.scheduling_cycle(fwk, state, qpi)
        if status is not None and not status.is_success():
            await self.handle_scheduling_failure(fwk, assumed, status, result.nominated_node_name)
            return None
        return self._binding_cycle_guarded(fwk, state, result, assumed, start)

    async def run(self, sleep: Callable[[float], Awaitable[object]] | None = None) -> None:
        """Schedule pods until ``stop``; binding cycles run beside the next scheduling cycles.

        Every task lives in this TaskGroup: the queue's flush loop, the assumed-pod
        cleanup and each binding cycle (which never raise: failures are handled).
        """
        nap = sleep or asyncio.sleep
        async with asyncio.TaskGroup() as tg:
            helpers = [tg.create_task(self.queue.run(nap)), tg.create_task(self._cleanup(nap))]
            try:
                while not self.queue.closed:
                    binding = await self.schedule_one()
                    if binding is not None:
                        tg.create_task(binding)
                    await asyncio.sleep(0)  # let informers and bindings run
            finally:
                for t in helpers:
                    t.cancel()

    def stop(self) -> None:
        self.queue.close()

    async def _cleanup(self, nap: Callable[[float], Awaitable[object]]) -> None:
        while True:
            await nap(1.0)
            for pod in self.cache.cleanup_assumed_pods():
                log.warning("assumed pod %s expired before it was confirmed", namespaced_name(pod))

    async def schedule_one_and_bind(self) -> None:
        """``schedule_one`` with its binding cycle awaited (tests, simple loops)."""
        binding = await self.schedule_one()
        if binding is not None:
            await binding

    def schedule_pod(self, fwk: Framework, state: CycleState, pod: Obj) -> ScheduleResult:
        """Choose a node, or raise FitError / NoNodesAvailableError (``schedulePod``)."""
        self.cache.update_snapshot(self.snapshot)
        if self.snapshot.num_nodes() == 0:
            raise NoNodesAvailableError
        feasible, diagnosis = self.find_nodes_that_fit_pod(fwk, state, pod)
        if not feasible:
            raise FitError(meta(pod).get("name", ""), self.snapshot.num_nodes(), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        totals = self.prioritize_nodes(fwk, state, pod, feasible)
        host = feasible[select_host_index(totals, self.rand)].name
        return ScheduleResult(host, evaluated, len(feasible))

    def find_nodes_that_fit_pod(
        self, fwk: Framework, state: CycleState, pod: Obj
    ) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        all_nodes = self.snapshot.list()
        pre_res, s, with_nodes = fwk.run_pre_filter_plugins(state, pod, all_nodes)
        if s is not None and not s.is_success():
            if not s.is_rejected():
                raise RuntimeError(s.message()) from s.error
            diagnosis.node_to_status.set_absent_nodes_status(s)
            diagnosis.pre_filter_msg = s.message()
            diagnosis.add_plugin_status(s)
            return [], diagnosis
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        if nominated:
            feasible = self._evaluate_nominated_node(fwk, state, pod, nominated, diagnosis)
            if feasible:
                return feasible, diagnosis
        nodes: Sequence[NodeInfo] = all_nodes
        if pre_res is not None and not pre_res.all_nodes():
            nodes = [
                self.snapshot.node_info_map[n]
                for n in sorted(pre_res.node_names or ())
                if n in self.snapshot.node_info_map
            ]
            diagnosis.node_to_status.set_absent_nodes_status(
                Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                    f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(with_nodes))}]",
                )
            )
        feasible = self._find_nodes_that_pass_filters(fwk, state, pod, diagnosis, nodes)
        processed = len(feasible) + len(diagnosis.node_to_status)
        if all_nodes:
            self.next_start_node_index = (self.next_start_node_index + processed) % len(all_nodes)
        return feasible, diagnosis

    def _evaluate_nominated_node(
        self, fwk: Framework, state: CycleState, pod: Obj, nominated: str, diagnosis: Diagnosis
    ) -> list[NodeInfo]:
        info = self.snapshot.node_info_map.get(nominated)
        if info is None:
            return []
        return self._find_nodes_that_pass_filters(fwk, state, pod, diagnosis, [info])

    def _find_nodes_that_pass_filters(
        self,
        fwk: Framework,
        state: CycleState,
        pod: Obj,
        diagnosis: Diagnosis,
        nodes: Sequence[NodeInfo],
    ) -> list[NodeInfo]:
        n = len(nodes)
        if n == 0:
            return []
        percentage = fwk.percentage_of_nodes_to_score
        if percentage is None:
            percentage = self.percentage_of_nodes_to_score
        to_find = num_feasible_nodes_to_find(percentage, n)
        start = self.next_start_node_index
        if not fwk.has_filter_plugins():
            return [nodes[(start + i) % n] for i in range(to_find)]
        feasible: list[NodeInfo] = []
        pos = 0
        while pos < n and len(feasible) < to_find:
            # check a chunk at a time; statuses past the last node needed are not kept,
            # so the outcome is that of checking node by node
            size = min(max(to_find - len(feasible), 32), n - pos)
            chunk = [nodes[(start + pos + i) % n] for i in range(size)]
            statuses = fwk.run_filter_plugins_batch(state, pod, chunk)
            for info, s in zip(chunk, statuses, strict=True):
                pos += 1
                if s is None or s.is_success():
                    feasible.append(info)
                    if len(feasible) >= to_find:
                        break
                    continue
                if s.code == Code.ERROR:
                    raise RuntimeError(s.message()) from s.error
                diagnosis.node_to_status.set(info.name, s)
                diagnosis.add_plugin_status(s)
        return feasible

    def prioritize_nodes(
        self, fwk: Framework, state: CycleState, pod: Obj, nodes: Sequence[NodeInfo]
    ) -> list[int]:
        """Each node's total score, in ``nodes``' order (``prioritizeNodes``)."""
        if not fwk.has_score_plugins():
            return [1] * len(nodes)
        s = fwk.run_pre_score_plugins(state, pod, nodes)
        if s is not None and not s.is_success():
            raise RuntimeError(s.message()) from s.error
        totals, _, s = fwk.run_score_plugins_totals(state, pod, nodes)
        if s is not None and not s.is_success():
            raise RuntimeError(s.message()) from s.error
        return totals

    async def scheduling_cycle(
        self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo
    ) -> tuple[ScheduleResult, QueuedPodInfo, Status | None]:
        pod = qpi.pod
        try:
            result = self.schedule_pod(fwk, state, pod)
        except NoNodesAvailableError as e:
            return (
                ScheduleResult(nominated_node_name=""),
                qpi,
                Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, error=e),
            )
        except FitError as e:
            if not fwk.has_post_filter_plugins():
                return ScheduleResult(), qpi, Status(Code.UNSCHEDULABLE, error=e)
            post_result, ps = await fwk.run_post_filter_plugins(
                state, pod, e.diagnosis.node_to_status
            )
            e.diagnosis.post_filter_msg = ps.message()
            nominated = post_result.nominated_node_name if post_result is not None else None
            return (
                ScheduleResult(nominated_node_name=nominated),
                qpi,
                Status(Code.UNSCHEDULABLE, error=e),
            )
        except Exception as e:
            log.exception("error selecting node for pod %s", namespaced_name(pod))
            return ScheduleResult(nominated_node_name=""), qpi, Status.as_status(e)

        host = result.suggested_host
        assumed_pod = _with_node_name(pod, host)
        assumed = QueuedPodInfo(
            PodInfo(assumed_pod),
            timestamp=qpi.timestamp,
            attempts=qpi.attempts,
            initial_attempt_timestamp=qpi.initial_attempt_timestamp,
        )
        try:
            self.cache.assume_pod(assumed_pod)
        except cache_mod.CacheError as e:
            return ScheduleResult(nominated_node_name=""), assumed, Status.as_status(e)
        # the pod is no longer nominated anywhere once it is assumed
        self.queue.nominator.delete(pod)

        s = fwk.run_reserve_plugins_reserve(state, assumed_pod, host)
        if s is not None and not s.is_success():
            fwk.run_reserve_plugins_unreserve(state, assumed_pod, host)
            self._forget(assumed_pod)
            return (
                ScheduleResult(nominated_node_name=""),
                assumed,
                self._as_one_node_fit_error(pod, host, s),
            )
        s = fwk.run_permit_plugins(state, assumed_pod, host)
        if s is not None and not s.is_success() and not s.is_wait():
            fwk.run_reserve_plugins_unreserve(state, assumed_pod, host)
            self._forget(assumed_pod)
            return (
                ScheduleResult(nominated_node_name=""),
                assumed,
                self._as_one_node_fit_error(pod, host, s),
            )
        return result, assumed, None

    def _as_one_node_fit_error(self, pod: Obj, host: str, s: Status) -> Status:
        if not s.is_rejected():
            return s
        d = Diagnosis(NodeToStatus())
        d.node_to_status.set(host, s)
        d.add_plugin_status(s)
        return Status(s.code, error=FitError(meta(pod).get("name", ""), 1, d))

    def _forget(self, pod: Obj) -> None:
        try:
            self.cache.forget_pod(pod)
        except cache_mod.CacheError:
            log.exception("scheduler cache forget_pod failed")

    # --- binding ----------------------------------------------------------------------------

    async def _binding_cycle_guarded(
        self,
        fwk: Framework,
        state: CycleState,
        result: ScheduleResult,
        assumed: QueuedPodInfo,
        start: float,
    ) -> None:
        try:
            s = await self.binding_cycle(fwk, state, result, assumed)
        except Exception as e:
            log.exception("binding cycle of %s failed", namespaced_name(assumed.pod))
            s = Status.as_status(e)
        if s is not None and not s.is_success():
            await self._handle_binding_cycle_error(fwk, state, assumed, result, s)

    async def binding_cycle(
        self, fwk: Framework, state: CycleState, result: ScheduleResult, assumed: QueuedPodInfo
    ) -> Status | None:
        pod = assumed.pod
        host = result.suggested_host
        s = await fwk.wait_on_permit(pod)
        if s is not None and not s.is_success():
            return self._as_one_node_fit_error(pod, host, s)
        self.queue.done(assumed.pod_info.key)
        s = await fwk.run_pre_bind_plugins(state, pod, host)
        if s is not None and not s.is_success():
            return self._as_one_node_fit_error(pod, host, s)
        s = await fwk.run_bind_plugins(state, pod, host)
        self.cache.finish_binding(pod)
        if s is not None and s.is_skip():
            return Status(Code.ERROR, "no bind plugin bound the pod")
        if s is not None and not s.is_success():
            return s
        m = meta(pod)
        fwk.recorder.event(
            pod,
            "Normal",
            "Scheduled",
            "Binding",
            f"Successfully assigned {m.get('namespace', '')}/{m.get('name', '')} to {host}",
        )
        await fwk.run_post_bind_plugins(state, pod, host)
        return None

    async def _handle_binding_cycle_error(
        self,
        fwk: Framework,
        state: CycleState,
        assumed: QueuedPodInfo,
        result: ScheduleResult,
        s: Status,
    ) -> None:
        pod = assumed.pod
        fwk.run_reserve_plugins_unreserve(state, pod, result.suggested_host)
        try:
            self.cache.forget_pod(pod)
        except cache_mod.CacheError:
            log.exception("scheduler cache forget_pod failed")
        else:
            # the resources the assumed pod held are free again: as a pod deletion
            own = pod_key(pod)
            self.queue.move_all_to_active_or_backoff(
                fw.ClusterEvent(fw.EventResource.ASSIGNED_POD, fw.ActionType.DELETE),
                pod,
                None,
                (lambda p: pod_key(p) != own) if s.is_rejected() else None,
            )
        unbound = QueuedPodInfo(
            PodInfo(_with_node_name(pod, "")),
            timestamp=assumed.timestamp,
            attempts=assumed.attempts,
            initial_attempt_timestamp=assumed.initial_attempt_timestamp,
        )
        await self.handle_scheduling_failure(fwk, unbound, s, "")

    # --- failure ----------------------------------------------------------------------------

    async def handle_scheduling_failure(
        self, fwk: Framework, qpi: QueuedPodInfo, status: Status, nominated: str | None
    ) -> None:
        """Requeue the pod, record FailedScheduling and set PodScheduled=False."""
        reason = REASON_UNSCHEDULABLE if status.is_rejected() else REASON_SCHEDULER_ERROR
        err = status.error
        pod = qpi.pod
        key = qpi.pod_info.key
        if isinstance(err, FitError):
            qpi.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
            qpi.pending_plugins = set(err.diagnosis.pending_plugins)
            message = str(err)
        elif isinstance(err, NoNodesAvailableError):
            qpi.unschedulable_plugins = set()
            message = str(err)
        else:
            qpi.unschedulable_plugins = set()
            message = str(err) if err is not None else status.message()
            if err is not None:
                log.info("error scheduling pod %s; retrying: %s", namespaced_name(pod), message)
        current = pod
        if self.get_pod is not None:
            m = meta(pod)
            found = self.get_pod(m.get("namespace", ""), m.get("name", ""))
            if found is None:
                self.queue.done(key)
                current = None  # type: ignore[assignment]
            else:
                current = found
        if current is not None:
            if (current.get("spec") or {}).get("nodeName"):
                self.queue.done(key)
            else:
                qpi.pod_info = PodInfo(current)
                self.queue.add_unschedulable_if_not_present(qpi, self.queue.scheduling_cycle)
        self.queue.add_nominated_pod(qpi.pod, nominated)
        fwk.recorder.event(
            pod, "Warning", "FailedScheduling", "Scheduling", truncate_message(message)
        )
        condition: dict[str, object] = {
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
        }
        await self._update_pod(fwk, qpi.pod, condition, nominated)

    async def _update_pod(
        self, fwk: Framework, pod: Obj, condition: dict[str, object], nominated: str | None
    ) -> None:
        status = pod.get("status") or {}
        existing = next(
            (c for c in status.get("conditions") or () if c.get("type") == condition["type"]),
            None,
        )
        nnn_changes = nominated is not None and (status.get("nominatedNodeName") or "") != nominated
        cond_changes = existing is None or any(
            existing.get(k) != condition[k] for k in ("status", "reason", "message")
        )
        if not cond_changes and not nnn_changes:
            return
        full = dict(condition)
        full["lastProbeTime"] = None
        if existing is not None and existing.get("status") == condition["status"]:
            full["lastTransitionTime"] = existing.get("lastTransitionTime")
        else:
            full["lastTransitionTime"] = _now_rfc3339()
        try:
            await fwk.status_updater.update_pod_status(
                pod, full if cond_changes else None, nominated if nnn_changes else None
            )
        except Exception:
            log.exception("error updating pod %s", namespaced_name(pod))


def _with_node_name(pod: Obj, node: str) -> dict[str, object]:
    out = dict(pod)
    spec = dict(pod.get("spec") or {})
    spec["nodeName"] = node
    if not node:
        spec.pop("nodeName")
    out["spec"] = spec
    return out

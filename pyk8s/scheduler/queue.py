"""The scheduling queue: active, backoff and unschedulable pods, and nominated pods.

Mirrors ``pkg/scheduler/backend/queue/scheduling_queue.go`` (``PriorityQueue``):
- ``active``: a heap ordered by the QueueSort plugin; ``pop`` waits on it.
- ``backoff``: pods that failed recently, by backoff expiry (1 s doubling to 10 s);
  when nothing is active, a pod a plugin rejected is taken from here at once
  (``SchedulerPopFromBackoffQ``, on by default in 1.33), one that met an error is not.
- ``unschedulable``: pods no node fitted, each remembering which plugins rejected it;
  a cluster event moves such a pod on only if one of those plugins registered that
  event and its queueing hint says the event may help (QueueingHints). After
  5 minutes a pod is retried anyway. Pods rejected by PreEnqueue (scheduling gates)
  wait here too, as *gated*, until an update lets them in.
If a move request arrives while a pod is being scheduled, the pod goes to backoff
instead of unschedulable when it fails, so that event is not lost.
The clock is injected; ``flush_*`` are called by ``run`` every second and by tests.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Status
from pyk8s.scheduler.framework.types import (
    Obj,
    PodInfo,
    QueuedPodInfo,
    meta,
    node_name,
    pod_key,
)

log = logging.getLogger(__name__)

DEFAULT_POD_INITIAL_BACKOFF = 1.0
DEFAULT_POD_MAX_BACKOFF = 10.0
DEFAULT_POD_MAX_IN_UNSCHEDULABLE = 5 * 60.0

Less = Callable[[QueuedPodInfo, QueuedPodInfo], bool]
PreEnqueue = Callable[[Obj], Status | None]
EventsFor = Callable[[Obj], Mapping[str, Sequence[fw.ClusterEventWithHint]]]

UNSCHEDULABLE_TIMEOUT = fw.ClusterEvent(
    fw.EventResource.WILDCARD, fw.ActionType.ALL, "UnschedulableTimeout"
)
FORCE_ACTIVATE = fw.ClusterEvent(fw.EventResource.WILDCARD, fw.ActionType.ALL, "ForceActivate")


class _Entry:
    """A heap entry ordered by the queue-sort function."""

    __slots__ = ("less", "qpi")

    def __init__(self, qpi: QueuedPodInfo, less: Less) -> None:
        self.qpi = qpi
        self.less = less

    def __lt__(self, other: _Entry) -> bool:
        return self.less(self.qpi, other.qpi)


@dataclass
class _Nominator:
    by_node: dict[str, dict[str, Obj]] = field(default_factory=dict)
    node_of: dict[str, str] = field(default_factory=dict)

    def add(self, pod: Obj, node: str) -> None:
        self.delete(pod)
        if not node:
            return
        key = pod_key(pod)
        self.by_node.setdefault(node, {})[key] = pod
        self.node_of[key] = node

    def delete(self, pod: Obj) -> None:
        key = pod_key(pod)
        node = self.node_of.pop(key, None)
        if node is None:
            return
        pods = self.by_node.get(node, {})
        pods.pop(key, None)
        if not pods:
            self.by_node.pop(node, None)

    def __bool__(self) -> bool:
        return bool(self.node_of)

    def for_node(self, node: str) -> list[Obj]:
        pods = self.by_node.get(node)
        return list(pods.values()) if pods else []


class SchedulingQueue:
    """``PriorityQueue``: hands pods to the scheduler, best first, and takes failures back."""

    def __init__(
        self,
        less: Less,
        *,
        pre_enqueue: PreEnqueue = lambda _pod: None,
        events_for: EventsFor = lambda _pod: {},
        clock: Callable[[], float] = time.monotonic,
        initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
        max_in_unschedulable: float = DEFAULT_POD_MAX_IN_UNSCHEDULABLE,
    ) -> None:
        self._less = less
        self._pre_enqueue = pre_enqueue
        self._events_for = events_for
        self._clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._active: list[_Entry] = []
        self._active_keys: dict[str, QueuedPodInfo] = {}
        self._backoff: list[tuple[float, int, str]] = []
        self._backoff_keys: dict[str, QueuedPodInfo] = {}
        self._backoff_seq: dict[str, int] = {}
        """The entry of each key in the backoff heaps that is current (older ones are stale)."""
        self._unschedulable_backoff: list[tuple[float, int, str]] = []
        """The same entries but those of pods that failed with an error."""
        self.pop_from_backoff = True
        """SchedulerPopFromBackoffQ (beta, on in 1.33): an idle scheduler takes a pod that
        a plugin rejected from backoff at once rather than wait out its backoff."""
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: set[str] = set()
        self._seq = itertools.count()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.nominator = _Nominator()
        self._wake = asyncio.Event()
        self._closed = False

    # --- bookkeeping ------------------------------------------------------------------------

    def _new_qpi(self, pod: Obj) -> QueuedPodInfo:
        now = self._clock()
        return QueuedPodInfo(PodInfo(pod), timestamp=now, initial_attempt_timestamp=None)

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        key = qpi.pod_info.key
        self._active_keys[key] = qpi
        heapq.heappush(self._active, _Entry(qpi, self._less))
        self._wake.set()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        key = qpi.pod_info.key
        seq = next(self._seq)
        self._backoff_keys[key] = qpi
        self._backoff_seq[key] = seq
        entry = (self.backoff_expiry(qpi), seq, key)
        heapq.heappush(self._backoff, entry)
        if qpi.unschedulable_plugins or qpi.pending_plugins:
            heapq.heappush(self._unschedulable_backoff, entry)
            if self.pop_from_backoff:
                self._wake.set()

    def _take_backoff(self, key: str) -> QueuedPodInfo | None:
        self._backoff_seq.pop(key, None)  # its heap entries are stale from now on
        return self._backoff_keys.pop(key, None)

    def _pop_backoff(self) -> QueuedPodInfo | None:
        """The rejected (not erroring) pod whose backoff ends first (``popBackoff``)."""
        heap = self._unschedulable_backoff
        while heap:
            _, seq, key = heapq.heappop(heap)
            if self._backoff_seq.get(key) == seq:
                return self._take_backoff(key)
        return None

    def _remove_everywhere(self, key: str) -> QueuedPodInfo | None:
        qpi = self._active_keys.pop(key, None)
        if qpi is not None:
            self._active = [e for e in self._active if e.qpi.pod_info.key != key]
            heapq.heapify(self._active)
            return qpi
        qpi = self._take_backoff(key)  # heap entries skipped lazily
        if qpi is not None:
            return qpi
        return self._unschedulable.pop(key, None)

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        if qpi.attempts <= 0:
            return 0.0
        d: float = self.initial_backoff * (2.0 ** (qpi.attempts - 1))
        return min(d, self.max_backoff)

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def is_backing_off(self, qpi: QueuedPodInfo) -> bool:
        return self.backoff_expiry(qpi) > self._clock()

    def _gate(self, qpi: QueuedPodInfo) -> bool:
        """Run PreEnqueue; a rejected pod is parked as gated. True when admitted."""
        s = self._pre_enqueue(qpi.pod)
        if s is None or s.is_success():
            qpi.gated = False
            qpi.gating_plugin = ""
            return True
        qpi.gated = True
        qpi.gating_plugin = s.plugin
        qpi.unschedulable_plugins = {s.plugin} if s.plugin else set()
        self._unschedulable[qpi.pod_info.key] = qpi
        return False

    def _move_to_active_or_backoff(self, qpi: QueuedPodInfo) -> str:
        if not self._gate(qpi):
            return "gated"
        if qpi.attempts > 0 and self.is_backing_off(qpi):
            self._push_backoff(qpi)
            return "backoff"
        self._push_active(qpi)
        return "active"

    # --- informer events --------------------------------------------------------------------

    def add(self, pod: Obj) -> None:
        """A new unscheduled pod."""
        key = pod_key(pod)
        if key in self._in_flight or self._find(key) is not None:
            self.update(None, pod)
            return
        qpi = self._new_qpi(pod)
        if self._gate(qpi):
            self._push_active(qpi)
        self._nominate_from_status(pod)

    def update(self, old: Obj | None, new: Obj) -> None:
        key = pod_key(new)
        qpi = self._find(key)
        if qpi is None:
            if key not in self._in_flight:
                self.add(new)
            return
        self._nominate_from_status(new)
        if key in self._active_keys or key in self._backoff_keys:
            qpi.pod_info = PodInfo(new)
            if key in self._active_keys:
                heapq.heapify(self._active)
            return
        # in unschedulable: a change to the pod itself may make it schedulable
        qpi.pod_info = PodInfo(new)
        if old is not None and _same_spec(old, new):
            return
        del self._unschedulable[key]
        if qpi.gated:
            qpi.gated = False
            if self._gate(qpi):
                self._push_active(qpi)
            return
        self._move_to_active_or_backoff(qpi)

    def delete(self, pod: Obj) -> None:
        self._remove_everywhere(pod_key(pod))
        self.nominator.delete(pod)

    def _find(self, key: str) -> QueuedPodInfo | None:
        return (
            self._active_keys.get(key)
            or self._backoff_keys.get(key)
            or self._unschedulable.get(key)
        )

    def _nominate_from_status(self, pod: Obj) -> None:
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        if nominated and not node_name(pod):
            self.nominator.add(pod, nominated)

    # --- the scheduler's side ---------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo | None:
        """The best active pod, waiting for one; None once the queue is closed.

        With nothing active, a pod that waits in backoff after a plugin rejected it is
        taken instead (``SchedulerPopFromBackoffQ``); pods that met an error are not.
        """
        while not self._active:
            if self._closed:
                return None
            if self.pop_from_backoff:
                qpi = self._pop_backoff()
                if qpi is not None:
                    return self._popped(qpi)
            self._wake.clear()
            await self._wake.wait()
        return self._pop_now()

    def pop_nowait(self) -> QueuedPodInfo | None:
        if self._active:
            return self._pop_now()
        qpi = self._pop_backoff() if self.pop_from_backoff else None
        return self._popped(qpi) if qpi is not None else None

    def _pop_now(self) -> QueuedPodInfo:
        entry = heapq.heappop(self._active)
        qpi = entry.qpi
        self._active_keys.pop(qpi.pod_info.key, None)
        return self._popped(qpi)

    def _popped(self, qpi: QueuedPodInfo) -> QueuedPodInfo:
        self.scheduling_cycle += 1
        qpi.attempts += 1
        if qpi.initial_attempt_timestamp is None:
            qpi.initial_attempt_timestamp = self._clock()
        self._in_flight.add(qpi.pod_info.key)
        return qpi

    def done(self, key: str) -> None:
        self._in_flight.discard(key)

    def add_unschedulable_if_not_present(
        self, qpi: QueuedPodInfo, pod_scheduling_cycle: int
    ) -> None:
        """Take back a pod that failed: to backoff if an event may have helped, else park it."""
        key = qpi.pod_info.key
        self._in_flight.discard(key)
        if self._find(key) is not None:
            return
        qpi.timestamp = self._clock()
        if not qpi.unschedulable_plugins and not qpi.pending_plugins:
            # an error, not a verdict: retry after backoff
            self._push_backoff(qpi)
            return
        if self.move_request_cycle >= pod_scheduling_cycle:
            self._push_backoff(qpi)
            return
        self._unschedulable[key] = qpi

    def activate(self, pods: Sequence[Obj]) -> None:
        for pod in pods:
            key = pod_key(pod)
            qpi = self._unschedulable.pop(key, None)
            if qpi is None:
                qpi = self._take_backoff(key)
            if qpi is not None:
                self._push_active(qpi)

    def flush_backoff_completed(self) -> int:
        now = self._clock()
        moved = 0
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff)
            if self._backoff_seq.get(key) != seq:
                continue  # deleted, moved or popped since
            qpi = self._take_backoff(key)
            if qpi is None:
                continue
            self._push_active(qpi)
            moved += 1
        heap = self._unschedulable_backoff
        while heap and self._backoff_seq.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)  # flushed, popped or deleted: its entry is stale
        return moved

    def flush_unschedulable_left_over(self) -> int:
        now = self._clock()
        stale = [
            qpi
            for qpi in self._unschedulable.values()
            if not qpi.gated and now - qpi.timestamp > self.max_in_unschedulable
        ]
        for qpi in stale:
            del self._unschedulable[qpi.pod_info.key]
            self._move_to_active_or_backoff(qpi)
        return len(stale)

    def move_all_to_active_or_backoff(
        self,
        event: fw.ClusterEvent,
        old: Obj | None = None,
        new: Obj | None = None,
        pre_check: Callable[[Obj], bool] | None = None,
    ) -> int:
        """A cluster event happened: move the unschedulable pods it may help."""
        moved = 0
        for qpi in list(self._unschedulable.values()):
            if qpi.gated:
                continue
            if pre_check is not None and not pre_check(qpi.pod):
                continue
            if not self._worth_requeuing(qpi, event, old, new):
                continue
            del self._unschedulable[qpi.pod_info.key]
            self._move_to_active_or_backoff(qpi)
            moved += 1
        self.move_request_cycle = self.scheduling_cycle
        return moved

    def _worth_requeuing(
        self, qpi: QueuedPodInfo, event: fw.ClusterEvent, old: Obj | None, new: Obj | None
    ) -> bool:
        rejectors = qpi.unschedulable_plugins | qpi.pending_plugins
        if not rejectors:
            return True
        if event.resource == fw.EventResource.WILDCARD and event.action == fw.ActionType.ALL:
            return True
        registered = self._events_for(qpi.pod)
        for plugin in rejectors:
            for hinted in registered.get(plugin, ()):
                if not hinted.event.matches(event):
                    continue
                if hinted.hint is None:
                    return True
                try:
                    if hinted.hint(qpi.pod, old, new) == fw.QueueingHint.QUEUE:
                        return True
                except Exception:
                    log.exception("queueing hint of %s failed; requeuing", plugin)
                    return True
        return False

    # --- nominated pods ---------------------------------------------------------------------

    def add_nominated_pod(self, pod: Obj, node: str | None) -> None:
        """node None: leave as is; "": clear; a name: nominate there."""
        if node is None:
            return
        if node:
            self.nominator.add(pod, node)
        else:
            self.nominator.delete(pod)

    def nominated_pods_for_node(self, node: str) -> list[Obj]:
        return self.nominator.for_node(node)

    # --- introspection and the loop ---------------------------------------------------------

    def pending_pods(self) -> Iterator[tuple[str, QueuedPodInfo]]:
        for qpi in self._active_keys.values():
            yield "active", qpi
        for qpi in self._backoff_keys.values():
            yield "backoff", qpi
        for qpi in self._unschedulable.values():
            yield "unschedulable", qpi

    def __len__(self) -> int:
        return len(self._active_keys) + len(self._backoff_keys) + len(self._unschedulable)

    def where(self, pod: Obj) -> str | None:
        key = pod_key(pod)
        if key in self._active_keys:
            return "active"
        if key in self._backoff_keys:
            return "backoff"
        if key in self._unschedulable:
            return "gated" if self._unschedulable[key].gated else "unschedulable"
        if key in self._in_flight:
            return "in-flight"
        return None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    async def run(self, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        """Flush backoff every second and stale unschedulable pods every 30 seconds."""
        tick = 0
        while not self._closed:
            await sleep(1.0)
            self.flush_backoff_completed()
            tick += 1
            if tick % 30 == 0:
                self.flush_unschedulable_left_over()


_IGNORED_META = ("resourceVersion", "generation", "managedFields", "annotations")


def _same_spec(old: Obj, new: Obj) -> bool:
    """Whether an update leaves everything the scheduler looks at unchanged (``isPodUpdated``)."""
    if old.get("spec") != new.get("spec"):
        return False
    mo = {k: v for k, v in meta(old).items() if k not in _IGNORED_META}
    mn = {k: v for k, v in meta(new).items() if k not in _IGNORED_META}
    return mo == mn

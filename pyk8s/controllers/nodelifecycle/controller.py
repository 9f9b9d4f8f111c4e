"""Node lifecycle: nodes that stop reporting go Unknown and get the taints that evict their pods.

Mirrors ``pkg/controller/nodelifecycle/node_lifecycle_controller.go``:

- ``monitorNodeHealth`` every ``--node-monitor-period``: new nodes are registered
  (``RegisteredNode`` event, NoExecute taints of a previous life removed);
  ``tryUpdateNodeHealth`` moves a node's probe time when its Ready condition's
  ``lastHeartbeatTime`` or its Lease's ``renewTime`` changes; past
  ``--node-monitor-grace-period`` (``--node-startup-grace-period``, counted from
  the node's creation, for a node that never posted a Ready condition) the
  Ready, MemoryPressure, DiskPressure and PIDPressure conditions become Unknown
  (``NodeStatusUnknown``, or ``NodeStatusNeverUpdated`` for conditions never
  posted); on the Ready -> not Ready transition a ``NodeNotReady`` event and the
  pods' Ready condition set to False (``MarkPodsNotReady``);
- ``processTaintBaseEviction``: a node whose observed Ready condition is False
  or Unknown is queued in its zone's rate-limited queue, and
  ``doNoExecuteTaintingPass`` gives it the ``node.kubernetes.io/not-ready`` or
  ``unreachable`` NoExecute taint (swapped at once when it has the other one);
  a Ready node loses both;
- ``handleDisruption``: per zone (region and zone labels) the state Normal,
  PartialDisruption (at least ``--unhealthy-zone-threshold`` of 3+ nodes not
  Ready: the secondary rate in large clusters, else none) or FullDisruption (no
  node Ready); when every zone is fully disrupted the controller assumes the
  problem is its own, removes the NoExecute taints and stops tainting;
- ``doNoScheduleTaintingPass`` on every node change: NoSchedule taints from the
  conditions (not-ready, unreachable, memory-, disk-, pid-pressure,
  network-unavailable) and ``unschedulable`` from ``spec.unschedulable``;
- ``reconcileNodeLabels``: ``beta.kubernetes.io/os`` and ``/arch`` follow
  ``kubernetes.io/os`` and ``/arch``;
- ``processPod``: a pod assigned to a node that is not Ready is marked not ready.

Deleting the pods of a NoExecute-tainted node is the taint eviction controller's
work (``controllers/tainteviction.py``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client import events, rest
from pyk8s.controllers import base, taints
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.nodelifecycle import rate_limited_queue as rlq
from pyk8s.controllers.resources import LEASES, NODES, PODS

log = logging.getLogger(__name__)

Object = Mapping[str, Any]

LEASE_NAMESPACE = "kube-node-lease"
WATCHED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": taints.NOT_READY, "Unknown": taints.UNREACHABLE},
    "MemoryPressure": {"True": taints.MEMORY_PRESSURE},
    "OutOfDisk": {"True": "node.kubernetes.io/out-of-disk"},
    "DiskPressure": {"True": taints.DISK_PRESSURE},
    "NetworkUnavailable": {"True": taints.NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": taints.PID_PRESSURE},
}
"""``nodeConditionToTaintKeyStatusMap``: conditions that give a NoSchedule taint."""
CONDITION_TAINT_KEYS = {key for m in CONDITION_TAINTS.values() for key in m.values()}
UNREACHABLE_NO_EXECUTE = {"key": taints.UNREACHABLE, "effect": "NoExecute"}
NOT_READY_NO_EXECUTE = {"key": taints.NOT_READY, "effect": "NoExecute"}
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")

INITIAL, NORMAL, FULL_DISRUPTION, PARTIAL_DISRUPTION = (
    "Initial",
    "Normal",
    "FullDisruption",
    "PartialDisruption",
)

LABEL_RECONCILE = (
    ("kubernetes.io/os", "beta.kubernetes.io/os"),
    ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
)
"""``labelReconcileInfo``: (primary, secondary); the secondary always follows the primary."""

MONITOR = "\x00monitor"
TAINT_PASS = "\x00taint"


@dataclass
class NodeHealth:
    """``nodeHealthData``: what the controller last saw of a node, on its own clock."""

    ready: Mapping[str, Any] | None
    probe: datetime.datetime
    ready_transition: datetime.datetime
    lease_renew: datetime.datetime | None = None


def zone_key(node: Object) -> str:
    """``GetZoneKey``: region and zone labels, "" when the node has neither."""
    labels = node["metadata"].get("labels") or {}
    region = next((labels[k] for k in REGION_LABELS if labels.get(k)), "")
    zone = next((labels[k] for k in ZONE_LABELS if labels.get(k)), "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def condition(node: Object, type_: str) -> Mapping[str, Any] | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def _status(cond: Mapping[str, Any] | None) -> str | None:
    return None if cond is None else cond.get("status")


class NodeLifecycleController(base.Controller):
    name = "node-lifecycle-controller"
    workers = 1

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        cfg = ctx.config
        self.client: rest.Interface = ctx.client
        self.recorder = ctx.recorder("node-controller")
        self.period = cfg.node_monitor_period
        self.grace = cfg.node_monitor_grace_period
        self.startup_grace = cfg.node_startup_grace_period
        self.eviction_qps = cfg.node_eviction_rate
        self.secondary_qps = cfg.secondary_node_eviction_rate
        self.unhealthy_threshold = cfg.unhealthy_zone_threshold
        self.large_cluster = cfg.large_cluster_size_threshold
        self.nodes = ctx.informers.lister(NODES)
        self.leases = ctx.informers.lister(LEASES)
        self.pods = ctx.informers.lister(PODS)
        self.health: dict[str, NodeHealth] = {}
        self.known: dict[str, Object] = {}
        self.zone_states: dict[str, str] = {}
        self.tainters: dict[str, rlq.RateLimitedTimedQueue] = {}
        self.retry: set[str] = set()
        self.watch(
            ctx.informers.for_resource(NODES),
            add=self.enqueue,
            update=lambda old, new: self.enqueue(new),
            delete=lambda node: self.retry.discard(node["metadata"]["name"]),
        )
        self.watch(ctx.informers.for_resource(LEASES))
        self.watch(
            ctx.informers.for_resource(PODS),
            add=lambda pod: self._pod_updated(None, pod),
            update=self._pod_updated,
        )
        self.queue.add(MONITOR)

    def _pod_updated(self, old: Object | None, new: Object) -> None:
        node = (new.get("spec") or {}).get("nodeName")
        if node and (old is None or (old.get("spec") or {}).get("nodeName") != node):
            self.enqueue(new)

    async def reconcile(self, key: str) -> None:
        if key == MONITOR:
            self.queue.add_after(MONITOR, self.period)
            await self.monitor_node_health()
            await self.no_execute_tainting_pass()
        elif key == TAINT_PASS:
            await self.no_execute_tainting_pass()
        elif "/" in key:
            await self.process_pod(key)
        else:
            await self.no_schedule_tainting_pass(key)
            await self.reconcile_node_labels(key)

    # -- monitorNodeHealth --------------------------------------------------------------

    async def monitor_node_health(self) -> None:
        nodes = self.nodes.list()
        names = {n["metadata"]["name"] for n in nodes}
        for node in nodes:
            name = node["metadata"]["name"]
            if name not in self.known:
                self._node_event(
                    node,
                    "RegisteredNode",
                    f"Node {name} event: Registered Node {name} in Controller",
                )
                self.known[name] = node
                self._add_zone(node)
                await self._mark_reachable(node)
            elif zone_key(node) not in self.zone_states:
                self._add_zone(node)
        for name in [n for n in self.known if n not in names]:
            gone = self.known.pop(name)
            self.health.pop(name, None)
            self._node_event(
                gone, "RemovingNode", f"Node {name} event: Removing Node {name} from Controller"
            )
        zone_conditions: dict[str, list[Mapping[str, Any] | None]] = defaultdict(list)
        for cached in nodes:
            name = cached["metadata"]["name"]
            try:
                node, observed, current = await self._try_update_health(cached)
            except errors.NotFound:
                continue
            except errors.ApiError as e:
                log.warning("node %s: updating its health failed: %s", name, e)
                continue
            if EXCLUDE_DISRUPTION not in (node["metadata"].get("labels") or {}):
                zone_conditions[zone_key(node)].append(current)
            if current is None:
                self.retry.discard(name)
                continue
            try:
                await self._process_taint_based_eviction(node, observed)
                if _status(current) != "True" and _status(observed) == "True":
                    self._node_event(
                        node, "NodeNotReady", f"Node {name} status is now: NodeNotReady"
                    )
                    await self._mark_pods_not_ready(name)
                elif name in self.retry and _status(observed) != "True":
                    await self._mark_pods_not_ready(name)
            except errors.ApiError as e:
                log.warning("node %s: marking its pods not ready failed: %s", name, e)
                self.retry.add(name)
                continue
            self.retry.discard(name)
        await self._handle_disruption(zone_conditions, nodes)

    async def _try_update_health(
        self, cached: Object
    ) -> tuple[Object, Mapping[str, Any], Mapping[str, Any] | None]:
        """``tryUpdateNodeHealth`` with upstream's retries on a stale node."""
        node: Object = cached
        for attempt in range(taints.UPDATE_RETRIES):
            try:
                return await self._update_health_once(node)
            except errors.Conflict:
                if attempt == taints.UPDATE_RETRIES - 1:
                    raise
                node = await self.client.get(NODES, cached["metadata"]["name"])
        raise AssertionError("unreachable")

    async def _update_health_once(
        self, node: Object
    ) -> tuple[Object, Mapping[str, Any], Mapping[str, Any] | None]:
        name = node["metadata"]["name"]
        now = self.clock.wall()
        created = meta.parse_time(node["metadata"]["creationTimestamp"])
        health = self.health.get(name)
        current = condition(node, "Ready")
        if current is None:
            observed: Mapping[str, Any] = {
                "type": "Ready",
                "status": "Unknown",
                "lastHeartbeatTime": node["metadata"]["creationTimestamp"],
                "lastTransitionTime": node["metadata"]["creationTimestamp"],
            }
            grace = self.startup_grace
            if health is None:
                health = NodeHealth(None, created, created)
        else:
            observed = current
            grace = self.grace
        saved = health.ready if health is not None else None
        if health is None or (saved is None and current is not None):
            health = NodeHealth(current, now, now, health.lease_renew if health else None)
        elif saved is not None and current is None:
            log.error("node %s: its Ready condition was removed from its status", name)
            health = NodeHealth(None, now, now)
        elif (
            saved is not None
            and current is not None
            and saved.get("lastHeartbeatTime") != current.get("lastHeartbeatTime")
        ):
            moved = saved.get("lastTransitionTime") != current.get("lastTransitionTime")
            health = NodeHealth(
                current, now, now if moved else health.ready_transition, health.lease_renew
            )
        renew = self._lease_renew(name)
        if renew is not None and (health.lease_renew is None or health.lease_renew < renew):
            health.lease_renew = renew
            health.probe = now
        self.health[name] = health
        if now <= health.probe + datetime.timedelta(seconds=grace):
            return node, observed, current
        body: dict[str, Any] = copy.deepcopy(dict(node))
        conditions = body.setdefault("status", {}).setdefault("conditions", [])
        stamp = meta.format_time(now)
        for type_ in WATCHED_CONDITIONS:
            cond = next((c for c in conditions if c.get("type") == type_), None)
            if cond is None:
                conditions.append(
                    {
                        "type": type_,
                        "status": "Unknown",
                        "lastHeartbeatTime": node["metadata"]["creationTimestamp"],
                        "lastTransitionTime": stamp,
                        "reason": "NodeStatusNeverUpdated",
                        "message": "Kubelet never posted node status.",
                    }
                )
            elif cond.get("status") != "Unknown":
                cond.update(
                    status="Unknown",
                    reason="NodeStatusUnknown",
                    message="Kubelet stopped posting node status.",
                    lastTransitionTime=stamp,
                )
        new_ready = condition(body, "Ready")
        if new_ready == observed:
            return node, observed, current
        log.info("node %s: no status for %.0fs; its conditions are Unknown now", name, grace)
        updated = await self.client.update(NODES, body, subresource="status")
        self.health[name] = NodeHealth(new_ready, health.probe, now, health.lease_renew)
        return updated, observed, new_ready

    def _lease_renew(self, name: str) -> datetime.datetime | None:
        try:
            lease = self.leases.namespace(LEASE_NAMESPACE).get(name)
        except errors.NotFound:
            return None
        renew = (lease.get("spec") or {}).get("renewTime")
        return meta.parse_time(renew) if renew else None

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """``MarkPodsNotReady``: the Ready condition of the node's pods to False."""
        stamp = meta.format_time(self.clock.wall())
        failed: errors.ApiError | None = None
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            try:
                await self._mark_pod_not_ready(pod, stamp)
            except errors.ApiError as e:
                failed = e
        if failed is not None:
            raise failed

    async def _mark_pod_not_ready(self, pod: Object, stamp: str) -> None:
        body: dict[str, Any] = copy.deepcopy(dict(pod))
        for cond in (body.get("status") or {}).get("conditions") or []:
            if cond.get("type") != "Ready" or cond.get("status") == "False":
                continue
            cond.update(status="False", lastTransitionTime=stamp)
            log.info(
                "pod %s/%s: Ready is False now",
                pod["metadata"]["namespace"],
                pod["metadata"]["name"],
            )
            with contextlib.suppress(errors.NotFound):
                await self.client.update(PODS, body, subresource="status")
            return

    # -- NoExecute taints (processTaintBaseEviction, doNoExecuteTaintingPass) ---------

    def _tainter(self, node: Object) -> rlq.RateLimitedTimedQueue:
        return self.tainters[zone_key(node)]

    def _add_zone(self, node: Object) -> None:
        zone = zone_key(node)
        if zone not in self.zone_states:
            self.zone_states[zone] = INITIAL
            self.tainters[zone] = rlq.RateLimitedTimedQueue(self.eviction_qps, self.clock)

    async def _process_taint_based_eviction(
        self, node: Object, observed: Mapping[str, Any]
    ) -> None:
        status = observed.get("status")
        current = taints.of(node)
        if status == "False":
            if taints.exists(current, UNREACHABLE_NO_EXECUTE):
                await self._swap(node, NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE)
            else:
                self._mark_for_tainting(node, NOT_READY_NO_EXECUTE)
        elif status == "Unknown":
            if taints.exists(current, NOT_READY_NO_EXECUTE):
                await self._swap(node, UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE)
            else:
                self._mark_for_tainting(node, UNREACHABLE_NO_EXECUTE)
        elif status == "True":
            await self._mark_reachable(node)

    def _mark_for_tainting(self, node: Object, taint: Mapping[str, str]) -> None:
        queue = self._tainter(node)
        name = node["metadata"]["name"]
        if not taints.exists(taints.of(node), taint):
            queue.remove(name)
        if queue.add(name, node["metadata"].get("uid", "")):
            log.debug("node %s: queued for a %s NoExecute taint", name, taint["key"])

    async def _mark_reachable(self, node: Object) -> None:
        await taints.update_node_taints(
            self.client, node, remove=[UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE]
        )
        self.tainters[zone_key(node)].remove(node["metadata"]["name"])

    async def _swap(self, node: Object, add: Mapping[str, str], remove: Mapping[str, str]) -> None:
        """``SwapNodeControllerTaint``: added taints carry ``timeAdded``."""
        stamped = {**add, "timeAdded": meta.format_time(self.clock.wall())}
        await taints.update_node_taints(self.client, node, add=[stamped], remove=[remove])

    async def no_execute_tainting_pass(self) -> None:
        for queue in list(self.tainters.values()):
            await queue.try_(self._taint_one)
        waits = [w for q in self.tainters.values() if (w := q.next_due_in()) is not None]
        if waits:
            self.queue.add_after(TAINT_PASS, max(min(waits), 0.1))

    async def _taint_one(self, item: rlq.TimedValue) -> tuple[bool, float]:
        try:
            node = self.nodes.get(item.value)
        except errors.NotFound:
            return True, 0.0
        status = _status(condition(node, "Ready"))
        if status is None:
            return False, 0.05
        if status == "False":
            add, opposite = NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE
        elif status == "Unknown":
            add, opposite = UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE
        else:
            return True, 0.0
        log.info("node %s: adding the %s NoExecute taint", item.value, add["key"])
        try:
            await self._swap(node, add, opposite)
        except errors.ApiError as e:
            log.warning("node %s: tainting it failed: %s", item.value, e)
            return False, 0.0
        return True, 0.0

    # -- handleDisruption ---------------------------------------------------------------

    def compute_zone_state(self, conditions: list[Mapping[str, Any] | None]) -> tuple[int, str]:
        ready = sum(1 for c in conditions if _status(c) == "True")
        not_ready = len(conditions) - ready
        if ready == 0 and not_ready > 0:
            return not_ready, FULL_DISRUPTION
        if not_ready > 2 and not_ready / (not_ready + ready) >= self.unhealthy_threshold:
            return not_ready, PARTIAL_DISRUPTION
        return not_ready, NORMAL

    def _rate_for(self, state: str, size: int) -> float:
        if state == PARTIAL_DISRUPTION:
            return self.secondary_qps if size > self.large_cluster else 0.0
        return self.eviction_qps

    async def _handle_disruption(
        self, zone_conditions: Mapping[str, list[Mapping[str, Any] | None]], nodes: list[Object]
    ) -> None:
        new_states: dict[str, str] = {}
        all_are_fully_disrupted = True
        for zone, conditions in zone_conditions.items():
            _, state = self.compute_zone_state(conditions)
            if state != FULL_DISRUPTION:
                all_are_fully_disrupted = False
            new_states[zone] = state
            if zone not in self.zone_states:
                self.zone_states[zone] = INITIAL
                self.tainters[zone] = rlq.RateLimitedTimedQueue(self.eviction_qps, self.clock)
        all_were_fully_disrupted = True
        for zone in list(self.zone_states):
            if zone not in zone_conditions:
                del self.zone_states[zone]
                continue
            if self.zone_states[zone] != FULL_DISRUPTION:
                all_were_fully_disrupted = False
                break
        if all_are_fully_disrupted and all_were_fully_disrupted:
            return
        if all_are_fully_disrupted:
            log.info("no node is Ready: entering master disruption mode (no taint evictions)")
            for node in nodes:
                try:
                    await self._mark_reachable(node)
                except errors.ApiError as e:
                    log.warning(
                        "node %s: removing its taints failed: %s", node["metadata"]["name"], e
                    )
            for zone in self.zone_states:
                self.tainters[zone].swap_limiter(0)
                self.zone_states[zone] = FULL_DISRUPTION
            return
        if all_were_fully_disrupted:
            log.info("some nodes are Ready: exiting master disruption mode")
            now = self.clock.wall()
            for node in nodes:
                h = self.health.get(node["metadata"]["name"])
                if h is not None:
                    h.probe = now
                    h.ready_transition = now
            for zone in self.zone_states:
                state = new_states.get(zone, NORMAL)
                self.tainters[zone].swap_limiter(
                    self._rate_for(state, len(zone_conditions.get(zone, [])))
                )
                self.zone_states[zone] = state
            return
        for zone, old in list(self.zone_states.items()):
            state = new_states.get(zone, old)
            if state == old:
                continue
            log.info("zone %r is in state %s now", zone, state)
            self.tainters[zone].swap_limiter(self._rate_for(state, len(zone_conditions[zone])))
            self.zone_states[zone] = state

    # -- NoSchedule taints (doNoScheduleTaintingPass) -----------------------------------

    async def no_schedule_tainting_pass(self, name: str) -> None:
        try:
            node = self.nodes.get(name)
        except errors.NotFound:
            return
        want: list[Object] = []
        for cond in (node.get("status") or {}).get("conditions") or []:
            key = CONDITION_TAINTS.get(cond.get("type", ""), {}).get(cond.get("status", ""))
            if key:
                want.append({"key": key, "effect": "NoSchedule"})
        if (node.get("spec") or {}).get("unschedulable"):
            want.append({"key": taints.UNSCHEDULABLE, "effect": "NoSchedule"})
        have = [
            t
            for t in taints.of(node)
            if t.get("effect") == "NoSchedule"
            and (t.get("key") == taints.UNSCHEDULABLE or t.get("key") in CONDITION_TAINT_KEYS)
        ]
        add, remove = taints.diff(want, have)
        if not add and not remove:
            return
        stamp = meta.format_time(self.clock.wall())
        await taints.update_node_taints(
            self.client, node, add=[{**t, "timeAdded": stamp} for t in add], remove=remove
        )

    async def reconcile_node_labels(self, name: str) -> None:
        try:
            node = self.nodes.get(name)
        except errors.NotFound:
            return
        labels = node["metadata"].get("labels") or {}
        wanted = {
            secondary: labels[primary]
            for primary, secondary in LABEL_RECONCILE
            if primary in labels and labels.get(secondary) != labels[primary]
        }
        if wanted:
            await self.client.patch(NODES, name, {"metadata": {"labels": wanted}})

    # -- processPod ---------------------------------------------------------------------

    async def process_pod(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        try:
            pod = self.pods.namespace(namespace).get(name)
        except errors.NotFound:
            return
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        health = self.health.get(node_name)
        if health is None:
            return
        self.nodes.get(node_name)  # NotFound: retried, as upstream requeues it
        if health.ready is None or health.ready.get("status") == "True":
            return
        await self._mark_pod_not_ready(pod, meta.format_time(self.clock.wall()))

    def _node_event(self, node: Object, reason: str, note: str) -> None:
        self.recorder.event(node, events.NORMAL, reason, reason, note)


def new(ctx: manager_.ControllerContext) -> NodeLifecycleController:
    return NodeLifecycleController(ctx)

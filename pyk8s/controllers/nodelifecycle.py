"""Node lifecycle: nodes that stop reporting go Unknown, get tainted, and lose their pods.

Mirrors ``pkg/controller/nodelifecycle/node_lifecycle_controller.go``
(``monitorNodeHealth`` every ``--node-monitor-period``; ``tryUpdateNodeHealth``:
the probe time moves when the Ready condition's ``lastHeartbeatTime`` or the
node's Lease ``renewTime`` changes, as seen on the local clock; past
``--node-monitor-grace-period`` (``--node-startup-grace-period`` for a node never
Ready) the Ready, MemoryPressure, DiskPressure and PIDPressure conditions become
Unknown with reason ``NodeStatusUnknown``; ``MarkPodsNotReady``;
``doNoScheduleTaintingPass`` and ``doNoExecuteTaintingPass``: the
``node.kubernetes.io/not-ready`` / ``unreachable`` taints, NoSchedule and
NoExecute, and ``unschedulable`` for cordoned nodes) and
``pkg/controller/tainteviction/taint_eviction.go`` (pods not tolerating a
NoExecute taint are deleted at once; tolerating with ``tolerationSeconds``,
that long after the taint's ``timeAdded``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client import events, rest
from pyk8s.controllers import base, pods
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import LEASES, NODES, PODS

log = logging.getLogger(__name__)

Object = Mapping[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
LEASE_NAMESPACE = "kube-node-lease"
WATCHED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
TICK = "\x00tick"
DEFAULT_TOLERATION_SECONDS = 300
"""What the DefaultTolerationSeconds admission plugin gives every pod for the not-ready and
unreachable NoExecute taints; applied here to pods that lack them, as long as the API
server does not add them at admission."""


class NodeLifecycleController(base.Controller):
    name = "node-lifecycle-controller"
    workers = 1

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.recorder = ctx.recorder("node-controller")
        self.period = ctx.config.node_monitor_period
        self.grace = ctx.config.node_monitor_grace_period
        self.startup_grace = ctx.config.node_startup_grace_period
        self.nodes = ctx.informers.lister(NODES)
        self.leases = ctx.informers.lister(LEASES)
        self.pods = ctx.informers.lister(PODS)
        self._probe: dict[str, tuple[tuple[str, str], float]] = {}
        self.watch(
            ctx.informers.for_resource(NODES),
            add=self.enqueue,
            update=lambda old, new: self.enqueue(new),
            delete=self._node_deleted,
        )
        self.watch(ctx.informers.for_resource(LEASES))
        self.watch(
            ctx.informers.for_resource(PODS),
            add=self._pod_changed,
            update=lambda old, new: self._pod_changed(new),
        )
        self.queue.add(TICK)

    def _node_deleted(self, node: Object) -> None:
        self._probe.pop(node["metadata"]["name"], None)

    def _pod_changed(self, pod: Object) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self.queue.add(node)

    async def reconcile(self, key: str) -> None:
        if key == TICK:
            for node in self.nodes.list():
                self.enqueue(node)
            self.queue.add_after(TICK, self.period)
            return
        try:
            node = self.nodes.get(key)
        except errors.NotFound:
            return
        node = await self._update_health(node)
        node = await self._update_taints(node)
        await self._evict(node)

    # -- health -------------------------------------------------------------------------

    def _heartbeat(self, node: Object) -> tuple[str, str]:
        name = node["metadata"]["name"]
        ready = _condition(node, "Ready") or {}
        renew = ""
        try:
            lease = self.leases.namespace(LEASE_NAMESPACE).get(name)
            renew = str((lease.get("spec") or {}).get("renewTime") or "")
        except errors.NotFound:
            pass
        return str(ready.get("lastHeartbeatTime") or ""), renew

    async def _update_health(self, node: Object) -> Object:
        name = node["metadata"]["name"]
        beat = self._heartbeat(node)
        now = self.clock.now()
        seen = self._probe.get(name)
        if seen is None or seen[0] != beat:
            self._probe[name] = (beat, now)
            seen = self._probe[name]
        ready = _condition(node, "Ready")
        grace = self.grace if ready is not None else self.startup_grace
        if now - seen[1] <= grace:
            self.queue.add_after(name, grace - (now - seen[1]) + 0.5)
            return node
        stamp = meta.format_time(self.clock.wall())
        body: dict[str, Any] = copy.deepcopy(dict(node))
        conditions: list[dict[str, Any]] = body.setdefault("status", {}).setdefault(
            "conditions", []
        )
        changed = False
        if ready is None:
            conditions.append(
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                    "lastTransitionTime": stamp,
                }
            )
            changed = True
        for cond in conditions:
            if cond.get("type") not in WATCHED_CONDITIONS or cond.get("status") == "Unknown":
                continue
            cond.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=stamp,
            )
            changed = True
        if not changed:
            return node
        log.info("node %s stopped posting status; conditions are Unknown now", name)
        updated = await self.client.update(NODES, body, subresource="status")
        self.recorder.event(
            node,
            events.NORMAL,
            "NodeNotReady",
            "NodeNotReady",
            f"Node {name} status is now: NodeNotReady",
        )
        await self._mark_pods_not_ready(name)
        return updated

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        stamp = meta.format_time(self.clock.wall())
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name or not pods.is_ready(pod):
                continue
            conditions = [
                {**c, "status": "False", "lastTransitionTime": stamp}
                if c.get("type") == "Ready"
                else dict(c)
                for c in (pod.get("status") or {}).get("conditions") or []
            ]
            md = pod["metadata"]
            with contextlib.suppress(errors.NotFound):
                await self.client.patch(
                    PODS,
                    md["name"],
                    {"status": {"conditions": conditions}},
                    md.get("namespace"),
                    subresource="status",
                )

    # -- taints -------------------------------------------------------------------------

    async def _update_taints(self, node: Object) -> Object:
        ready = (_condition(node, "Ready") or {}).get("status")
        want: dict[tuple[str, str], dict[str, Any]] = {}
        if ready == "False":
            want[(NOT_READY, "NoSchedule")] = {"key": NOT_READY, "effect": "NoSchedule"}
            want[(NOT_READY, "NoExecute")] = {"key": NOT_READY, "effect": "NoExecute"}
        elif ready == "Unknown":
            want[(UNREACHABLE, "NoSchedule")] = {"key": UNREACHABLE, "effect": "NoSchedule"}
            want[(UNREACHABLE, "NoExecute")] = {"key": UNREACHABLE, "effect": "NoExecute"}
        if (node.get("spec") or {}).get("unschedulable"):
            want[(UNSCHEDULABLE, "NoSchedule")] = {"key": UNSCHEDULABLE, "effect": "NoSchedule"}
        ours = {NOT_READY, UNREACHABLE, UNSCHEDULABLE}
        current = list((node.get("spec") or {}).get("taints") or [])
        kept = [
            t for t in current if t.get("key") not in ours or (t["key"], t.get("effect")) in want
        ]
        have = {(t["key"], t.get("effect")) for t in kept if t.get("key") in ours}
        added = []
        stamp = meta.format_time(self.clock.wall())
        for k, taint in want.items():
            if k not in have:
                t = dict(taint)
                if t["effect"] == "NoExecute":
                    t["timeAdded"] = stamp
                added.append(t)
        if not added and len(kept) == len(current):
            return node
        taints = [dict(t) for t in kept] + added
        return await self.client.patch(
            NODES,
            node["metadata"]["name"],
            {"spec": {"taints": taints or None}},
        )

    # -- eviction -----------------------------------------------------------------------

    async def _evict(self, node: Object) -> None:
        taints = [
            t
            for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") == "NoExecute"
        ]
        if not taints:
            return
        name = node["metadata"]["name"]
        now = self.clock.wall()
        next_check: float | None = None
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != name or not pods.is_active(pod):
                continue
            due = eviction_time(taints, (pod.get("spec") or {}).get("tolerations") or [])
            if due is None:
                continue
            left = (due - now).total_seconds()
            if left > 0:
                next_check = left if next_check is None else min(next_check, left)
                continue
            await self._delete(pod, name)
        if next_check is not None:
            self.queue.add_after(name, next_check + 0.5)

    async def _delete(self, pod: Object, node: str) -> None:
        md = pod["metadata"]
        log.info("evicting pod %s/%s from tainted node %s", md.get("namespace"), md["name"], node)
        self.recorder.event(
            pod,
            events.NORMAL,
            "TaintManagerEviction",
            "Evict",
            f"Marking for deletion Pod {md.get('namespace')}/{md['name']}",
        )
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                PODS, md["name"], md.get("namespace"), preconditions={"uid": md["uid"]}
            )


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")


def eviction_time(
    taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]]
) -> datetime.datetime | None:
    """When a pod with ``tolerations`` must go from a node with NoExecute ``taints``.

    ``None``: it may stay forever. A taint it does not tolerate: now (the epoch).
    """
    due: datetime.datetime | None = None
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching and taint.get("key") in (NOT_READY, UNREACHABLE):
            matching = [{"tolerationSeconds": DEFAULT_TOLERATION_SECONDS}]
        if not matching:
            return datetime.datetime.fromtimestamp(0, datetime.UTC)
        seconds = [
            t["tolerationSeconds"] for t in matching if t.get("tolerationSeconds") is not None
        ]
        if not seconds:
            continue
        added = taint.get("timeAdded")
        start = meta.parse_time(added) if added else datetime.datetime.now(datetime.UTC)
        at = start + datetime.timedelta(seconds=max(min(int(s) for s in seconds), 0))
        due = at if due is None else min(due, at)
    return due


def _condition(node: Object, type_: str) -> Mapping[str, Any] | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def new(ctx: manager_.ControllerContext) -> NodeLifecycleController:
    return NodeLifecycleController(ctx)

"""Taint eviction: pods on a node with NoExecute taints they do not tolerate are deleted.

Mirrors ``pkg/controller/tainteviction/taint_eviction.go`` (kube-controller-manager's
``taint-eviction-controller``): for a pod on a node with NoExecute taints
(``processPodOnNode``), a taint no toleration matches means deletion now; else
the smallest ``tolerationSeconds`` of the tolerations used
(``getMinTolerationTime``; none set: the pod stays) counted from when the
controller first saw the pod there; the scheduled deletion is cancelled (event
``TaintManagerEviction`` "Cancelling deletion of Pod ns/name") when the taints
go away or the pod tolerates them for ever. Deleting (``addConditionAndDeletePod``)
sets the pod's ``DisruptionTarget`` condition (``DeletionByTaintManager``)
first, with the event "Marking for deletion Pod ns/name".
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client import events, rest
from pyk8s.client.cache import store
from pyk8s.controllers import base, taints
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import NODES, PODS

log = logging.getLogger(__name__)

Object = Mapping[str, Any]


@dataclass
class Scheduled:
    node: str
    created: float
    fire_at: float


def min_toleration_seconds(used: Sequence[Object]) -> float:
    """``getMinTolerationTime``: 0 = now, -1 = never, else the smallest tolerationSeconds."""
    if not used:
        return 0.0
    smallest: float | None = None
    for t in used:
        seconds = t.get("tolerationSeconds")
        if seconds is None:
            continue
        if int(seconds) <= 0:
            return 0.0
        smallest = float(seconds) if smallest is None else min(smallest, float(seconds))
    return -1.0 if smallest is None else smallest


class TaintEvictionController(base.Controller):
    name = "taint-eviction-controller"
    workers = 2

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.recorder = ctx.recorder("taint-eviction-controller")
        self.nodes = ctx.informers.lister(NODES)
        self.pods = ctx.informers.lister(PODS)
        self.scheduled: dict[str, Scheduled] = {}
        self.watch(
            ctx.informers.for_resource(NODES),
            add=self._node_changed,
            update=self._node_updated,
            delete=self._node_changed,
        )
        self.watch(
            ctx.informers.for_resource(PODS),
            add=self._pod_changed,
            update=lambda old, new: self._pod_changed(new),
            delete=self._pod_changed,
        )

    def _node_changed(self, node: Object) -> None:
        self.queue.add(node["metadata"]["name"])

    def _node_updated(self, old: Object, new: Object) -> None:
        if taints.no_execute(old) != taints.no_execute(new):
            self._node_changed(new)

    def _pod_changed(self, pod: Object) -> None:
        if (pod.get("spec") or {}).get("nodeName") or store.meta_namespace_key(pod) in (
            self.scheduled
        ):
            self.enqueue(pod)

    async def reconcile(self, key: str) -> None:
        if "/" in key:
            await self._sync_pod(key)
        else:
            await self._sync_node(key)

    async def _sync_node(self, name: str) -> None:
        try:
            node_taints = taints.no_execute(self.nodes.get(name))
        except errors.NotFound:
            node_taints = []
        on_node = [p for p in self.pods.list() if (p.get("spec") or {}).get("nodeName") == name]
        for pod in on_node:
            await self._process(pod, node_taints)
        for key, s in list(self.scheduled.items()):
            if s.node == name and key not in {store.meta_namespace_key(p) for p in on_node}:
                self.scheduled.pop(key, None)

    async def _sync_pod(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        try:
            pod = self.pods.namespace(namespace).get(name)
        except errors.NotFound:
            self.scheduled.pop(key, None)
            return
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            return
        try:
            node_taints = taints.no_execute(self.nodes.get(node))
        except errors.NotFound:
            node_taints = []
        await self._process(pod, node_taints)

    async def _process(self, pod: Object, node_taints: list[Object]) -> None:
        """``processPodOnNode``, then the deletion if it is due."""
        key = store.meta_namespace_key(pod)
        node = pod["spec"]["nodeName"]
        if pod["metadata"].get("deletionTimestamp"):
            self.scheduled.pop(key, None)
            return
        if not node_taints:
            self._cancel(pod)
            return
        tolerated, used = taints.matching_tolerations(
            node_taints, (pod.get("spec") or {}).get("tolerations") or []
        )
        now = self.clock.now()
        if not tolerated:
            self._cancel(pod)
            self.scheduled[key] = Scheduled(node, now, now)
        else:
            seconds = min_toleration_seconds(used)
            if seconds < 0:
                self._cancel(pod)
                return
            trigger = now + seconds
            current = self.scheduled.get(key)
            if current is None or current.node != node:
                self.scheduled[key] = Scheduled(node, now, trigger)
            elif not current.created + seconds < trigger:
                self._cancel(pod)
                self.scheduled[key] = Scheduled(node, current.created, trigger)
        due = self.scheduled[key]
        if due.fire_at > now:
            self.queue.add_after(key, due.fire_at - now)
            return
        await self._evict(pod)
        self.scheduled.pop(key, None)

    def _cancel(self, pod: Object) -> None:
        key = store.meta_namespace_key(pod)
        if self.scheduled.pop(key, None) is not None:
            self.recorder.event(
                pod,
                events.NORMAL,
                "TaintManagerEviction",
                "Cancel",
                f"Cancelling deletion of Pod {key}",
            )

    async def _evict(self, pod: Object) -> None:
        key = store.meta_namespace_key(pod)
        md = pod["metadata"]
        log.info("deleting pod %s from node %s: NoExecute taint", key, pod["spec"]["nodeName"])
        self.recorder.event(
            pod, events.NORMAL, "TaintManagerEviction", "Delete", f"Marking for deletion Pod {key}"
        )
        with contextlib.suppress(errors.NotFound):
            await self._add_disruption_condition(pod)
            await self.client.delete(PODS, md["name"], md.get("namespace"))

    async def _add_disruption_condition(self, pod: Object) -> None:
        conditions = [
            copy.deepcopy(dict(c)) for c in (pod.get("status") or {}).get("conditions") or []
        ]
        wanted = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
        }
        for c in conditions:
            if c.get("type") == "DisruptionTarget":
                if all(c.get(k) == v for k, v in wanted.items()):
                    return
                c.update(wanted, lastTransitionTime=meta.format_time(self.clock.wall()))
                break
        else:
            conditions.append({**wanted, "lastTransitionTime": meta.format_time(self.clock.wall())})
        await self.client.patch(
            PODS,
            pod["metadata"]["name"],
            {
                "metadata": {"uid": pod["metadata"]["uid"]},
                "status": {"conditions": conditions},
            },
            pod["metadata"].get("namespace"),
            subresource="status",
        )


def new(ctx: manager_.ControllerContext) -> TaintEvictionController:
    return TaintEvictionController(ctx)

"""Pod garbage collection: pods of deleted nodes, old terminated pods, unscheduled terminating pods.

Mirrors ``pkg/controller/podgc/gc_controller.go`` (``gc`` every period:
``gcTerminated`` deletes the oldest finished pods above
``--terminated-pod-gc-threshold``; ``gcOrphaned`` force-deletes pods bound to
nodes that no longer exist: a node name must have been missing from the cache for
``quarantineTime`` (40 s) and then be missing from the API too, so a pod bound to a node
that is still registering (the server's DNS pod before its node agent is up) is left alone;
``gcUnscheduledTerminating`` force-deletes terminating pods never bound to a
node; ``gcTerminating`` force-deletes terminating pods on nodes that are not Ready
and carry the ``node.kubernetes.io/out-of-service`` taint). A pod force-deleted
this way is first set to phase Failed (``markFailedAndDeletePodWithCondition``),
orphaned ones with the ``DisruptionTarget`` condition, as upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client import rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import NODES, PODS

log = logging.getLogger(__name__)

Object = Mapping[str, Any]
TICK = "gc"
QUARANTINE = 40.0  # upstream's quarantineTime: how long a node may be missing from the cache
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


class PodGCController(base.Controller):
    name = "pod-garbage-collector-controller"
    workers = 1

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.threshold = ctx.config.terminated_pod_gc_threshold
        self.period = ctx.config.pod_gc_period
        self.pods = ctx.informers.lister(PODS)
        self.nodes = ctx.informers.lister(NODES)
        self.quarantine = QUARANTINE
        # upstream's nodeQueue: node names pods are bound to that the cache did not have,
        # with when they were first seen missing
        self._missing_since: dict[str, float] = {}
        self.watch(ctx.informers.for_resource(PODS))
        self.watch(ctx.informers.for_resource(NODES))
        self.queue.add(TICK)

    async def reconcile(self, key: str) -> None:
        try:
            await self.gc()
        finally:
            self.queue.add_after(TICK, self.period)

    async def gc(self) -> None:
        pods = self.pods.list()
        await self.gc_terminated(pods)
        await self.gc_terminating(pods)
        await self.gc_orphaned(pods)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list[Object]) -> None:
        if self.threshold <= 0:
            return
        finished = [
            p for p in pods if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        ]
        excess = len(finished) - self.threshold
        if excess <= 0:
            return
        finished.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
        await asyncio.gather(*(self._force_delete(p) for p in finished[:excess]))

    async def gc_terminating(self, pods: list[Object]) -> None:
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            if not pod["metadata"].get("deletionTimestamp") or phase in ("Succeeded", "Failed"):
                continue
            try:
                node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            except errors.NotFound:
                continue
            ready = next(
                (
                    c.get("status")
                    for c in (node.get("status") or {}).get("conditions") or []
                    if c.get("type") == "Ready"
                ),
                None,
            )
            out_of_service = any(
                t.get("key") == OUT_OF_SERVICE for t in (node.get("spec") or {}).get("taints") or []
            )
            if ready != "True" and out_of_service:
                log.info(
                    "pod gc: deleting terminating %s/%s of out-of-service node %s",
                    pod["metadata"].get("namespace"),
                    pod["metadata"]["name"],
                    node["metadata"]["name"],
                )
                await self._mark_failed(pod, None)
                await self._force_delete(pod)

    async def gc_orphaned(self, pods: list[Object]) -> None:
        known = {n["metadata"]["name"] for n in self.nodes.list()}
        now = self.clock.now()
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and node not in known:
                self._missing_since.setdefault(node, now)
        deleted: set[str] = set()
        for node, since in list(self._missing_since.items()):
            if now - since < self.quarantine:
                continue
            del self._missing_since[node]  # seen again next round if still needed
            if node in known:
                continue
            try:
                await self.client.get(NODES, node)
            except errors.NotFound:
                deleted.add(node)
            except errors.ApiError as e:
                log.warning("pod gc: cannot tell whether node %s exists: %s", node, e)
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node not in deleted:
                continue
            log.info(
                "pod gc: deleting %s/%s of deleted node %s",
                pod["metadata"].get("namespace"),
                pod["metadata"]["name"],
                node,
            )
            await self._mark_failed(pod, "PodGC: node no longer exists")
            await self._force_delete(pod)

    async def gc_unscheduled_terminating(self, pods: list[Object]) -> None:
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp") and not (pod.get("spec") or {}).get(
                "nodeName"
            ):
                await self._force_delete(pod)

    async def _mark_failed(self, pod: Object, disruption: str | None) -> None:
        """Phase Failed (and a ``DisruptionTarget`` condition saying ``disruption``)."""
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        status: dict[str, Any] = {"phase": "Failed"}
        if disruption is not None:
            condition = {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByPodGC",
                "message": disruption,
                "lastTransitionTime": meta.format_time(self.clock.wall()),
            }
            others = [
                c
                for c in (pod.get("status") or {}).get("conditions") or []
                if c.get("type") != "DisruptionTarget"
            ]
            status["conditions"] = [*others, condition]
        md = pod["metadata"]
        with contextlib.suppress(errors.NotFound):
            await self.client.patch(
                PODS, md["name"], {"status": status}, md.get("namespace"), subresource="status"
            )

    async def _force_delete(self, pod: Object) -> None:
        md = pod["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                PODS,
                md["name"],
                md.get("namespace"),
                grace_period_seconds=0,
                preconditions={"uid": md["uid"]},
            )


def new(ctx: manager_.ControllerContext) -> PodGCController:
    return PodGCController(ctx)

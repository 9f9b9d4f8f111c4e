"""The garbage collector controller: owners gone means dependents go, as the policy says.

Mirrors ``pkg/controller/garbagecollector/garbagecollector.go``:
``attemptToDeleteItem`` (owners classified as solid, dangling or waiting for
dependents' deletion; dangling references removed when a solid owner remains;
otherwise the dependent is deleted, in the foreground when its owner is being
deleted in the foreground and it has dependents itself),
``processDeletingDependentsItem`` (the ``foregroundDeletion`` finalizer is
removed once no dependent with ``blockOwnerDeletion`` is left) and
``orphanDependents`` (the ``orphan`` finalizer: owner references to the object
are removed from its dependents, then the finalizer). Owners missing from the
graph are looked up through the API before a dependent is deleted
(``isDangling``), so a slow informer never causes a wrong deletion.

Queue keys are object uids.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors, scheme
from pyk8s.client import rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers import resources as resources_
from pyk8s.controllers.garbagecollector import graph as graph_

log = logging.getLogger(__name__)

MONITORED = (
    ("v1", "Pod"),
    ("v1", "ReplicationController"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "Endpoints"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "PersistentVolume"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ControllerRevision"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("coordination.k8s.io/v1", "Lease"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
)
"""The kinds whose objects the graph holds (upstream: every deletable, listable resource)."""

SOLID, DANGLING, WAITING = "solid", "dangling", "waiting"
MONITOR_RESYNC = 30.0
RECHECK_FIRST, RECHECK_MAX = 1.0, MONITOR_RESYNC
"""How soon a dependent whose owner was found through the API, not among the watched objects,
is looked at again (doubling up to the monitors' resync): the owner's deletion is seen by no
informer until its kind is monitored (upstream requeues a dependent of an unobserved owner)."""


class GarbageCollector(base.Controller):
    name = "garbage-collector-controller"
    workers = 5

    def __init__(
        self,
        ctx: manager_.ControllerContext,
        monitored: tuple[tuple[str, str], ...] = MONITORED,
    ) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.informers = ctx.informers
        self.graph = graph_.Graph()
        self.absent: set[str] = set()
        self.rechecks: dict[str, int] = {}
        self.monitored: set[tuple[str, str]] = set()
        for api_version, kind in monitored:
            self._monitor(rest.for_kind(api_version, kind))

    def _monitor(self, ref: rest.ResourceRef) -> None:
        self.monitored.add((ref.group, ref.plural))
        self.watch(
            self.informers.for_resource(ref),
            add=lambda o: self._observe(ref, o),
            update=lambda old, new: self._observe(ref, new),
            delete=self._forget,
        )

    async def run(self, workers: int | None = None) -> None:
        resync = asyncio.create_task(self._resync_monitors(), name="gc monitors")
        try:
            await super().run(workers)
        finally:
            resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resync

    async def _resync_monitors(self) -> None:
        """Monitor the resources discovery adds (custom resources), every
        ``MONITOR_RESYNC`` seconds (upstream's ``GarbageCollector.Sync`` period)."""
        while True:
            try:
                found = await resources_.discovered(self.client, "list", "watch", "delete")
            except errors.ApiError as e:
                log.debug("garbage collector: discovery failed: %s", e)
                found = []
            added = False
            for ref in found:
                if (ref.group, ref.plural) not in self.monitored:
                    self._monitor(ref)
                    added = True
            if added:
                self.informers.start()
            await asyncio.sleep(MONITOR_RESYNC)

    # -- graph upkeep (informer handlers) ----------------------------------------------

    def _observe(self, ref: rest.ResourceRef, obj: base.Object) -> None:
        node = graph_.node_of(ref, obj)
        old = self.graph.get(node.uid)
        changed_owners = self.graph.upsert(node)
        self.absent.discard(node.uid)
        for uid in changed_owners:
            self.queue.add(uid)  # an owner in the foreground may be waiting for this one
        if node.owners:
            self.queue.add(node.uid)
        if node.deleting and (
            graph_.ORPHAN in node.finalizers or graph_.FOREGROUND in node.finalizers
        ):
            self.queue.add(node.uid)
        if old is not None and node.deleting != old.deleting:
            for dep in self.graph.dependents(node.uid):
                self.queue.add(dep.uid)

    def _forget(self, obj: base.Object) -> None:
        md = obj.get("metadata") or {}
        uid = md.get("uid")
        if not uid:
            return
        node = self.graph.remove(uid)
        self.absent.add(uid)
        self.rechecks.pop(uid, None)
        for dep in self.graph.dependents(uid):
            self.queue.add(dep.uid)
        if node is not None:
            for ref in node.owners:
                if ref.get("uid"):
                    self.queue.add(ref["uid"])

    # -- reconcile ------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        node = self.graph.get(key)
        if node is None:
            return
        if node.deleting:
            if graph_.ORPHAN in node.finalizers:
                await self._orphan_dependents(node)
            elif graph_.FOREGROUND in node.finalizers:
                await self._process_deleting_dependents(node)
            return
        if node.owners:
            await self._attempt_to_delete(node)

    async def _attempt_to_delete(self, node: graph_.Node) -> None:
        solid: list[Mapping[str, Any]] = []
        dangling: list[Mapping[str, Any]] = []
        waiting: list[Mapping[str, Any]] = []
        for ref in node.owners:
            state = await self._owner_state(node, ref)
            {SOLID: solid, DANGLING: dangling, WAITING: waiting}[state].append(ref)
        self._recheck_unobserved(node, solid)
        if solid:
            if not dangling and not waiting:
                return
            drop = {r.get("uid") for r in dangling + waiting}
            await self._remove_owner_refs(node, drop)
            return
        if waiting and self.graph.dependents(node.uid):
            policy = "Foreground"
        elif graph_.ORPHAN in node.finalizers:
            policy = "Orphan"
        elif graph_.FOREGROUND in node.finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        log.info(
            "garbage collector: deleting %s %s/%s (%s), its owners are gone",
            node.ref.plural,
            node.namespace,
            node.name,
            policy,
        )
        # NotFound: gone already; Conflict: a namesake, nothing of ours to delete.
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                node.ref,
                node.name,
                node.namespace or None,
                propagation_policy=policy,
                preconditions={"uid": node.uid},
            )

    def _recheck_unobserved(self, node: graph_.Node, solid: list[Mapping[str, Any]]) -> None:
        """Look at ``node`` again later while an owner that holds it was found only through
        the API (:data:`RECHECK_FIRST`)."""
        if all(self.graph.get(r.get("uid") or "") is not None for r in solid):
            self.rechecks.pop(node.uid, None)
            return
        n = self.rechecks.get(node.uid, 0)
        self.rechecks[node.uid] = n + 1
        self.queue.add_after(node.uid, min(RECHECK_FIRST * 2.0**n, RECHECK_MAX))

    async def _owner_state(self, node: graph_.Node, ref: Mapping[str, Any]) -> str:
        uid = ref.get("uid") or ""
        owner = self.graph.get(uid)
        if owner is not None:
            return WAITING if owner.waiting_for_dependents else SOLID
        if uid in self.absent:
            return DANGLING
        owner_ref = await self._resource_for(ref)
        if owner_ref is None:
            return SOLID  # a kind we cannot look up: never delete on a guess
        if owner_ref.namespaced and not node.namespace:
            return DANGLING  # a cluster-scoped object cannot have a namespaced owner
        try:
            obj = await self.client.get(
                owner_ref, ref.get("name", ""), node.namespace if owner_ref.namespaced else None
            )
        except errors.NotFound:
            self.absent.add(uid)
            return DANGLING
        md = obj.get("metadata") or {}
        if md.get("uid") != uid:
            self.absent.add(uid)
            return DANGLING
        if md.get("deletionTimestamp") and graph_.FOREGROUND in (md.get("finalizers") or ()):
            return WAITING
        return SOLID

    async def _resource_for(self, ref: Mapping[str, Any]) -> rest.ResourceRef | None:
        api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
        group, _, version = api_version.rpartition("/")
        res = scheme.DEFAULT.for_kind(group, version, kind)
        if res is not None:
            return rest.ResourceRef.from_resource(res)
        if isinstance(self.client, rest.Client):
            try:
                return await self.client.resource_for(api_version, kind)
            except errors.ApiError:
                return None
        return None

    async def _process_deleting_dependents(self, owner: graph_.Node) -> None:
        dependents = self.graph.dependents(owner.uid)
        blocking = [
            d for d in dependents if (d.owner_ref(owner.uid) or {}).get("blockOwnerDeletion")
        ]
        if not blocking:
            await self._remove_finalizer(owner, graph_.FOREGROUND)
            return
        for dep in dependents:
            if not dep.deleting:
                self.queue.add(dep.uid)

    async def _orphan_dependents(self, owner: graph_.Node) -> None:
        for dep in self.graph.dependents(owner.uid):
            await self._remove_owner_refs(dep, {owner.uid})
        await self._remove_finalizer(owner, graph_.ORPHAN)

    async def _remove_owner_refs(self, node: graph_.Node, uids: set[Any]) -> None:
        try:
            obj = await self.client.get(node.ref, node.name, node.namespace or None)
        except errors.NotFound:
            return
        if obj["metadata"].get("uid") != node.uid:
            return
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") not in uids]
        patch = {"metadata": {"ownerReferences": refs or None, "uid": node.uid}}
        with contextlib.suppress(errors.NotFound):
            await self.client.patch(node.ref, node.name, patch, node.namespace or None)

    async def _remove_finalizer(self, node: graph_.Node, finalizer: str) -> None:
        try:
            obj = await self.client.get(node.ref, node.name, node.namespace or None)
        except errors.NotFound:
            return
        md = obj["metadata"]
        if md.get("uid") != node.uid or finalizer not in (md.get("finalizers") or []):
            return
        body = copy.deepcopy(obj)
        body["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != finalizer]
        with contextlib.suppress(errors.NotFound):
            await self.client.update(node.ref, body, node.namespace or None)


def new(ctx: manager_.ControllerContext) -> GarbageCollector:
    return GarbageCollector(ctx)

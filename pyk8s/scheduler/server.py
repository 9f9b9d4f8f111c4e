"""The kube-scheduler component: informers feed the cache and queue; the API sits behind
the seams.

Mirrors ``cmd/kube-scheduler/app/server.go`` (``Setup``: configuration → profiles →
scheduler; ``Run``: start informers, wait for their caches, then schedule) and
``pkg/scheduler/eventhandlers.go`` ``addAllEventHandlers`` (assigned pods to the
cache, unassigned pods of our profiles to the queue; terminated pods leave both, as
upstream's informer field selector ``status.phase!=Succeeded,status.phase!=Failed``
makes them do). Each profile records events under its own scheduler name.
With ``leaderElection.leaderElect`` (the default) the caches fill first, then only
the holder of the ``kube-system/kube-scheduler`` Lease schedules; losing the lease
ends ``run``, as it ends the upstream process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
import uuid
from collections.abc import Mapping
from typing import Any

import pyk8s
from pyk8s.api import errors
from pyk8s.client import events, leaderelection, rest
from pyk8s.client.cache import listers, store
from pyk8s.client.informers import factory, shared_informer
from pyk8s.scheduler import config, eventhandlers
from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.runtime import Seams
from pyk8s.scheduler.framework.types import Obj, meta
from pyk8s.scheduler.plugins.registry import IN_TREE
from pyk8s.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
NAMESPACES = rest.ResourceRef("", "v1", "namespaces", False, "Namespace")
SERVICES = rest.ResourceRef("", "v1", "services", True, "Service")
REPLICATION_CONTROLLERS = rest.ResourceRef(
    "", "v1", "replicationcontrollers", True, "ReplicationController"
)
REPLICA_SETS = rest.ResourceRef("apps", "v1", "replicasets", True, "ReplicaSet")
STATEFUL_SETS = rest.ResourceRef("apps", "v1", "statefulsets", True, "StatefulSet")
PDBS = rest.ResourceRef("policy", "v1", "poddisruptionbudgets", True, "PodDisruptionBudget")
PVCS = rest.ResourceRef("", "v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
PVS = rest.ResourceRef("", "v1", "persistentvolumes", False, "PersistentVolume")

LISTED = {
    "namespaces": NAMESPACES,
    "services": SERVICES,
    "replicationcontrollers": REPLICATION_CONTROLLERS,
    "replicasets": REPLICA_SETS,
    "statefulsets": STATEFUL_SETS,
    "poddisruptionbudgets": PDBS,
    "persistentvolumeclaims": PVCS,
    "persistentvolumes": PVS,
}
STATUS_UPDATE_ATTEMPTS = 5
USER_AGENT = f"kube-scheduler/{pyk8s.KUBERNETES_VERSION} pyk8s/{pyk8s.__version__}"
"""The field manager of the scheduler's writes is the agent's first word, as upstream's."""


class APIBinder:
    """POST pods/<name>/binding."""

    def __init__(self, client: rest.Interface) -> None:
        self.client = client

    async def bind(self, binding: Obj) -> None:
        m = meta(binding)
        await self.client.create(
            PODS, binding, m.get("namespace"), name=m.get("name"), subresource="binding"
        )


class APIPodDeleter:
    """DELETE a pod, only if it is still the same pod (UID precondition)."""

    def __init__(self, client: rest.Interface) -> None:
        self.client = client

    async def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        with contextlib.suppress(errors.NotFound):  # already gone: done
            await self.client.delete(
                PODS, name, namespace, preconditions={"uid": uid} if uid else None
            )


def set_condition(status: dict[str, Any], condition: Mapping[str, Any]) -> None:
    """Replace the condition of the same type, keeping its lastTransitionTime if the
    status did not change (``podutil.UpdatePodCondition``)."""
    conditions = [dict(c) for c in status.get("conditions") or ()]
    for i, c in enumerate(conditions):
        if c.get("type") == condition.get("type"):
            new = dict(condition)
            if c.get("status") == condition.get("status") and c.get("lastTransitionTime"):
                new["lastTransitionTime"] = c["lastTransitionTime"]
            conditions[i] = new
            break
    else:
        conditions.append(dict(condition))
    status["conditions"] = conditions


class APIStatusUpdater:
    """Read-modify-write of pods/<name>/status, retried on conflicts.

    A strategic merge patch would do it in one call; this server does not merge
    lists in strategic patches yet, and a JSON merge patch would replace the whole
    condition list, losing the kubelet's concurrent changes.
    """

    def __init__(self, client: rest.Interface) -> None:
        self.client = client

    async def update_pod_status(
        self, pod: Obj, condition: Obj | None, nominated_node_name: str | None
    ) -> None:
        m = meta(pod)
        ns, name, uid = m.get("namespace", ""), m.get("name", ""), m.get("uid")
        for _ in range(STATUS_UPDATE_ATTEMPTS):
            try:
                fresh = await self.client.get(PODS, name, ns)
            except errors.NotFound:
                return
            if uid and meta(fresh).get("uid") != uid:
                return
            body = copy.deepcopy(dict(fresh))
            status = body.setdefault("status", {})
            if condition is not None:
                set_condition(status, condition)
            if nominated_node_name is not None:
                if nominated_node_name:
                    status["nominatedNodeName"] = nominated_node_name
                else:
                    status.pop("nominatedNodeName", None)
            try:
                await self.client.update(PODS, body, ns, subresource="status")
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return
        log.warning("gave up updating the status of pod %s/%s after conflicts", ns, name)


class InformerLister:
    """An informer's lister as the plugins' ObjectLister."""

    def __init__(self, lister: listers.Lister) -> None:
        self.lister = lister

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return self.lister.list()
        return self.lister.namespace(namespace).list()

    def get(self, namespace: str, name: str) -> Obj | None:
        try:
            if namespace:
                return self.lister.namespace(namespace).get(name)
            return self.lister.get(name)
        except errors.NotFound:
            return None


def _terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _unwrap(obj: Obj | store.DeletedFinalStateUnknown) -> Obj:
    return obj.obj if isinstance(obj, store.DeletedFinalStateUnknown) else obj


def add_event_handlers(
    s: Scheduler,
    pods: shared_informer.SharedIndexInformer,
    nodes: shared_informer.SharedIndexInformer,
) -> None:
    """Feed informer events to the scheduler (``addAllEventHandlers``)."""

    def pod_add(pod: Obj) -> None:
        if not _terminated(pod):
            eventhandlers.on_pod_add(s, pod)

    def pod_update(old: Obj, new: Obj) -> None:
        if old is new:
            return  # a resync: nothing changed
        if _terminated(new):
            if not _terminated(old):
                eventhandlers.on_pod_delete(s, old)
            return
        eventhandlers.on_pod_update(s, old, new)

    def pod_delete(obj: Obj | store.DeletedFinalStateUnknown) -> None:
        pod = _unwrap(obj)
        if not _terminated(pod):
            eventhandlers.on_pod_delete(s, pod)

    def node_update(old: Obj, new: Obj) -> None:
        if old is not new:
            eventhandlers.on_node_update(s, old, new)

    pods.add_event_handler(
        shared_informer.EventHandlerFuncs(add=pod_add, update=pod_update, delete=pod_delete)
    )
    nodes.add_event_handler(
        shared_informer.EventHandlerFuncs(
            add=lambda n: eventhandlers.on_node_add(s, n),
            update=node_update,
            delete=lambda n: eventhandlers.on_node_delete(s, _unwrap(n)),
        )
    )


def add_volume_event_handlers(
    s: Scheduler,
    claims: shared_informer.SharedIndexInformer,
    volumes: shared_informer.SharedIndexInformer,
) -> None:
    """Claims and volumes added or changed requeue the pods VolumeBinding rejected."""
    for informer, resource in (
        (claims, fw.EventResource.PERSISTENT_VOLUME_CLAIM),
        (volumes, fw.EventResource.PERSISTENT_VOLUME),
    ):

        def add(obj: Obj, resource: fw.EventResource = resource) -> None:
            eventhandlers.on_volume_event(s, resource, None, obj)

        def update(old: Obj, new: Obj, resource: fw.EventResource = resource) -> None:
            if old is not new:
                eventhandlers.on_volume_event(s, resource, old, new)

        informer.add_event_handler(shared_informer.EventHandlerFuncs(add=add, update=update))


async def run(
    cfg: config.KubeSchedulerConfiguration,
    client: rest.Interface,
    ready: asyncio.Event | None = None,
    *,
    identity: str | None = None,
) -> None:
    """Schedule the pods of ``cfg``'s profiles on ``client``'s cluster until cancelled
    (or, when leader-elected, until the lease is lost)."""
    async with factory.SharedInformerFactory(client) as informers:
        pods = informers.for_resource(PODS)
        nodes = informers.for_resource(NODES)
        object_listers = {
            name: InformerLister(informers.lister(ref)) for name, ref in LISTED.items()
        }
        pod_lister = InformerLister(informers.lister(PODS))
        object_listers["pods"] = pod_lister
        recorders = {
            prof.scheduler_name: events.EventRecorder(client, prof.scheduler_name)
            for prof in cfg.profiles
        }
        binder, deleter, updater = (
            APIBinder(client),
            APIPodDeleter(client),
            APIStatusUpdater(client),
        )

        def seams_for(profile: str) -> Seams:
            return Seams(binder, deleter, updater, recorders[profile], dict(object_listers))

        frameworks = config.build_frameworks(cfg, IN_TREE, seams_for)
        sched = Scheduler(
            frameworks,
            percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score,
            pod_initial_backoff=cfg.pod_initial_backoff_seconds,
            pod_max_backoff=cfg.pod_max_backoff_seconds,
            get_pod=pod_lister.get,
        )
        add_event_handlers(sched, pods, nodes)
        add_volume_event_handlers(sched, informers.for_resource(PVCS), informers.for_resource(PVS))
        informers.start()
        await informers.wait_for_cache_sync()
        log.info("scheduler caches synced; profiles: %s", ", ".join(frameworks))
        if ready is not None:
            ready.set()

        async def lead() -> None:
            try:
                async with asyncio.TaskGroup() as tg:
                    for recorder in recorders.values():
                        tg.create_task(recorder.run())
                    tg.create_task(sched.run())
            finally:
                sched.stop()

        le = cfg.leader_election
        if not le.leader_elect:
            await lead()
            return
        lock = leaderelection.LeaseLock(
            client,
            le.resource_namespace,
            le.resource_name,
            identity or f"{socket.gethostname()}_{uuid.uuid4()}",
        )
        elector = leaderelection.LeaderElector(
            lock,
            lead,
            lease_duration=le.lease_duration,
            renew_deadline=le.renew_deadline,
            retry_period=le.retry_period,
        )
        await elector.run()
        log.error("leader election lost: the scheduler stops")

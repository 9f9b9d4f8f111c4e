"""The kubelet: registers the node, then keeps the pods bound to it running as their specs say.

Mirrors ``pkg/kubelet/kubelet.go``: ``Run`` (node status and lease loops, the sync loop),
``syncLoopIteration`` (pod config updates from the API watch, PLEG events, the housekeeping
tick), ``SyncPod`` / ``SyncTerminatingPod`` / ``SyncTerminatedPod`` (here :meth:`Kubelet.sync`),
``HandlePodCleanups`` (here :meth:`Kubelet.housekeeping`: runtime pods the API no longer
has are killed and removed); ``pkg/kubelet/pleg/generic.go`` (``relist``: compare the runtime's
containers with the last relist and wake the pods that changed) and
``pkg/kubelet/status/status_manager.go`` (write the status when it changed; delete a
terminated pod that is being deleted, with grace period 0 and a UID precondition).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client import events, rest
from pyk8s.client.informers import factory as informers_factory
from pyk8s.client.informers import shared_informer
from pyk8s.images import service as image_service
from pyk8s.kubelet import (
    container_config,
    container_log_manager,
    image_gc,
    node_lease,
    node_status,
    pod_workers,
    prober,
    runtime_cache,
    static_pods,
    status,
    token_manager,
)
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.runtime import actions
from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.runtime_manager import RuntimeManager
from pyk8s.kubelet.server import server as kubelet_server
from pyk8s.kubelet.stats import summary as stats_summary
from pyk8s.kubelet.volumes.manager import VolumeManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
SERVICES = rest.ResourceRef("", "v1", "services", True, "Service")
SERVICES_SYNC_WAIT = 30.0  # a container waits this long for the Services to be read
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
REFS = {
    "ConfigMap": rest.ResourceRef("", "v1", "configmaps", True, "ConfigMap"),
    "Secret": rest.ResourceRef("", "v1", "secrets", True, "Secret"),
    "PersistentVolumeClaim": rest.ResourceRef(
        "", "v1", "persistentvolumeclaims", True, "PersistentVolumeClaim"
    ),
    "PersistentVolume": rest.ResourceRef("", "v1", "persistentvolumes", False, "PersistentVolume"),
}
CONFIG_VOLUME_RESYNC = 10.0  # configMap/secret volumes follow updates this often


class Kubelet:
    def __init__(
        self,
        config: KubeletConfig,
        client: rest.Interface,
        runtime: cri.ContainerRuntime,
        images: image_service.ImageService,
    ) -> None:
        self.config = config
        self.client = client
        self.runtime = runtime_cache.CachedRuntime(runtime, config.pleg_relist_period)
        self.images = images
        self.recorder = events.EventRecorder(client, "kubelet", config.node_name)
        self.machine: node_status.MachineInfo | None = None
        self.runtime_version = ""
        self.node: Obj = {}
        self.observed: dict[str, status.Observed] = {}
        self.last_status: dict[str, Obj] = {}
        self.probes = prober.ProberManager(self.runtime, self._wake, self._unhealthy)
        self.tokens = token_manager.TokenManager(client)
        self.volumes = VolumeManager(config.pods_dir, self.get, self.tokens)
        self.manager = RuntimeManager(
            config,
            self.runtime,
            images,
            self.volumes,
            self.probes,
            self.record,
            self.get,
            self.host_ip,
            self.allocatable,
            self.services,
        )
        self.workers = pod_workers.PodWorkers(self.sync, config.sync_frequency)
        self.log_manager = container_log_manager.ContainerLogManager(
            self.runtime,
            config.container_log_max_size,
            config.container_log_max_files,
            config.container_log_monitor_interval,
        )
        self.lease = node_lease.LeaseController(
            client,
            config.node_name,
            config.node_lease_duration_seconds,
            config.node_lease_renew_interval,
        )
        self.informers = informers_factory.SharedInformerFactory(client)
        self.pod_informer = self.informers.for_resource(
            PODS, field_selector=f"spec.nodeName={config.node_name}"
        )
        self.service_informer = self.informers.for_resource(SERVICES)
        self.image_gc = image_gc.ImageGCManager(
            self.runtime,
            images,
            self._image_fs_usage,
            image_gc.Policy(
                config.image_gc_high_threshold_percent,
                config.image_gc_low_threshold_percent,
                config.image_minimum_gc_age,
                config.image_gc_period,
            ),
            self._node_event,
        )
        self.summary = stats_summary.SummaryProvider(
            self.runtime,
            lambda: self.config.node_name,
            self._pods,
            config.root_dir,
            config.pods_dir,
            self._image_fs,
        )
        self.server: kubelet_server.KubeletServer | None = None
        self.port = config.port
        self._pleg_state: dict[str, frozenset[tuple[str, str]]] = {}
        self.static: dict[str, Obj] = {}  # static pods by UID

    # -- helpers used by the managers

    def host_ip(self) -> str:
        if self.machine is None:
            return "127.0.0.1"
        return next((a for t, a in self.machine.addresses if t == "InternalIP"), "127.0.0.1")

    def allocatable(self) -> dict[str, str]:
        if self.machine is None:
            return {}
        return node_status.capacity(self.machine, self.config.max_pods)

    async def get(self, kind: str, namespace: str, name: str) -> Obj:
        ref = REFS[kind]
        return await self.client.get(ref, name, namespace if ref.namespaced else None)

    async def services(self, synced: bool) -> list[Obj]:
        """Every Service (``serviceLister``), for the containers' environment; as upstream,
        an error until they have been read at least once, unless ``synced`` is False (a
        static pod takes what is known)."""
        if synced and not self.service_informer.has_synced():
            try:
                await asyncio.wait_for(self.service_informer.wait_for_sync(), SERVICES_SYNC_WAIT)
            except TimeoutError:
                raise container_config.ConfigError(
                    "services have not yet been read at least once, cannot construct envvars"
                ) from None
        return [dict(s) for s in self.service_informer.lister("services").list()]

    def record(self, pod: Obj, type_: str, reason: str, note: str) -> None:
        regarding = {"apiVersion": "v1", "kind": "Pod", **pod}
        with contextlib.suppress(ValueError):
            self.recorder.event(regarding, type_, reason, reason, note)

    def _wake(self, uid: str) -> None:
        self.workers.wake(uid)

    def _unhealthy(self, uid: str, container: str, kind: str, output: str) -> None:
        pod = self.workers.pod(uid)
        if pod is not None:
            self.record(pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {output}")

    def _pods(self) -> list[Obj]:
        """The pods this kubelet runs: from the API (not mirrors) and static ones."""
        api = [
            dict(p) for p in self.pod_informer.lister("pods").list() if not static_pods.is_mirror(p)
        ]
        return api + list(self.static.values())

    async def _image_fs_usage(self) -> tuple[int, int]:
        st = await asyncio.to_thread(os.statvfs, self.images.store_root)
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    def _node_event(self, type_: str, reason: str, note: str) -> None:
        meta = self.node.get("metadata") or {"name": self.config.node_name}
        regarding = {"apiVersion": "v1", "kind": "Node", "metadata": meta}
        with contextlib.suppress(ValueError):
            self.recorder.event(regarding, type_, reason, reason, note)

    async def _image_fs(self) -> tuple[str, int]:
        info = await self.images.fs_info()
        return str(info["mountpoint"]), int(info["used_bytes"])

    def find_pod(self, namespace: str, name: str) -> Obj | None:
        try:
            pod = dict(self.pod_informer.lister("pods").namespace(namespace).get(name))
        except errors.NotFound:
            return None
        if static_pods.is_mirror(pod):
            return self.static.get(static_pods.static_uid(pod))
        return pod

    # -- the node

    async def register_node(self) -> None:
        """``registerWithAPIServer``: create the Node, or take over the existing one."""
        assert self.machine is not None
        labels = node_status.labels(
            self.config.node_name, self.machine, self.config.node_labels, self.config.control_plane
        )
        node_st = await self._node_status([])
        node = node_status.initial_node(self.config.node_name, labels, node_st)
        try:
            self.node = await self.client.create(NODES, node)
            log.info("registered node %s", self.config.node_name)
            return
        except errors.AlreadyExists:
            pass
        existing = await self.client.get(NODES, self.config.node_name)
        merged = dict(existing["metadata"].get("labels") or {})
        merged.update(labels)
        await self.client.patch(NODES, self.config.node_name, {"metadata": {"labels": merged}})
        self.node = await self.client.patch(
            NODES, self.config.node_name, {"status": node_st}, subresource="status"
        )

    async def _node_status(self, previous_conditions: list[Obj]) -> Obj:
        assert self.machine is not None
        p = await asyncio.to_thread(node_status.pressure, self.config.data_dir)
        conds = node_status.conditions(
            previous_conditions, self.machine, p, True, node_status.now()
        )
        imgs = []
        with contextlib.suppress(Exception):
            for info in (await self.images.list())[:50]:
                imgs.append(
                    {"names": [*info.repo_digests, *info.repo_tags], "sizeBytes": info.size}
                )
        return node_status.status(
            self.machine,
            max_pods=self.config.max_pods,
            runtime_version=self.runtime_version,
            port=self.port,
            conds=conds,
            images=imgs,
        )

    async def node_status_loop(self) -> None:
        """``syncNodeStatus``: patch when something changed, or every report period."""
        last_report = time.monotonic()
        last: Obj = self.node.get("status") or {}
        while True:
            await asyncio.sleep(self.config.node_status_update_frequency)
            try:
                new = await self._node_status(list(last.get("conditions") or []))
                if _without_heartbeats(new) != _without_heartbeats(last) or (
                    time.monotonic() - last_report >= self.config.node_status_report_frequency
                ):
                    await self.client.patch(
                        NODES, self.config.node_name, {"status": new}, subresource="status"
                    )
                    last, last_report = new, time.monotonic()
            except (errors.ApiError, OSError) as e:
                log.warning("node status update failed: %s", e)

    # -- pods

    async def sync(self, pod: Obj, removed: bool) -> float | None:
        uid = pod["metadata"]["uid"]
        meta = pod["metadata"]
        if removed or meta.get("deletionTimestamp"):
            return await self._sync_terminating(pod, removed)
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or (
            (self.last_status.get(uid) or {}).get("phase") in ("Succeeded", "Failed")
        ):
            st = await self.manager.pod_status(uid)
            if any(c.state == cri.ContainerState.RUNNING for c in st.containers):
                await self.manager.kill_pod(pod, st, None)
            return None
        observed = self.observed.setdefault(uid, status.Observed())
        delay = await self.manager.sync_pod(pod, observed)
        rst = await self.manager.pod_status(uid)
        self._probe(pod, rst, observed)
        await self.update_status(pod, rst, observed)
        if any(
            k in v
            for v in (pod.get("spec") or {}).get("volumes") or []
            for k in ("configMap", "secret", "projected", "downwardAPI")
        ):
            delay = min(delay or CONFIG_VOLUME_RESYNC, CONFIG_VOLUME_RESYNC)
        return delay

    async def _sync_terminating(self, pod: Obj, removed: bool) -> float | None:
        uid = pod["metadata"]["uid"]
        st = await self.manager.pod_status(uid)
        running = any(c.state != cri.ContainerState.EXITED for c in st.containers) or any(
            s.state == cri.SandboxState.READY for s in st.sandboxes
        )
        if running:
            grace = pod["metadata"].get("deletionGracePeriodSeconds")
            await self.manager.kill_pod(pod, st, int(grace) if grace is not None else None)
            st = await self.manager.pod_status(uid)
        if not removed:
            observed = self.observed.setdefault(uid, status.Observed())
            with contextlib.suppress(errors.NotFound):
                await self.update_status(pod, st, observed, terminating=True)
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.delete(
                    PODS,
                    pod["metadata"]["name"],
                    pod["metadata"].get("namespace"),
                    grace_period_seconds=0,
                    preconditions={"uid": uid},
                )
            return 5.0  # the watch's DELETED event comes next
        await self.manager.remove_pod(uid)
        self.observed.pop(uid, None)
        self.last_status.pop(uid, None)
        return None

    def _probe(self, pod: Obj, rst: actions.PodStatus, observed: status.Observed) -> None:
        uid = pod["metadata"]["uid"]
        spec = pod.get("spec") or {}
        specs = {
            c["name"]: c
            for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
        }
        running: set[str] = set()
        for c in rst.containers:
            if c.state != cri.ContainerState.RUNNING or c.metadata.name not in specs:
                continue
            running.add(c.id)
            cspec = specs[c.metadata.name]
            ports = {
                p["name"]: int(p["containerPort"])
                for p in cspec.get("ports") or []
                if p.get("name")
            }
            target = prober.Target(
                uid, c.metadata.name, c.id, c.sandbox_id, bool(spec.get("hostNetwork")), ports
            )
            self.probes.ensure(cspec, target)
        self.probes.keep_only(uid, running)
        ready = self.probes.results["readiness"]
        started = self.probes.results["startup"]
        observed.ready = {
            cid: r is actions.ProbeResult.SUCCESS for cid, r in ready.items() if cid in running
        }
        observed.started = {
            cid: r is actions.ProbeResult.SUCCESS for cid, r in started.items() if cid in running
        }

    async def update_status(
        self,
        pod: Obj,
        rst: actions.PodStatus,
        observed: status.Observed,
        terminating: bool = False,
    ) -> None:
        uid = pod["metadata"]["uid"]
        base = dict(pod)
        if uid in self.last_status:
            base["status"] = {**(pod.get("status") or {}), **self.last_status[uid]}
        new = status.generate(
            base,
            rst,
            observed,
            host_ip=self.host_ip(),
            now=node_status.now(),
            terminating=terminating,
        )
        if self.last_status.get(uid) == new:
            return
        try:
            await self.client.patch(
                PODS,
                pod["metadata"]["name"],
                {"status": new},
                pod["metadata"].get("namespace"),
                subresource="status",
            )
        except errors.NotFound:
            if uid not in self.static:
                raise
            return  # the mirror pod comes with the next look at the manifests
        self.last_status[uid] = new

    # -- loops

    def _on_add(self, obj: Mapping[str, Any]) -> None:
        if not static_pods.is_mirror(obj):  # the static pod runs; its mirror only shows it
            self.workers.update(dict(obj))

    def _on_update(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if not static_pods.is_mirror(new):
            self.workers.update(dict(new))

    def _on_delete(self, obj: Any) -> None:
        pod = getattr(obj, "obj", obj)
        if isinstance(pod, Mapping) and "metadata" in pod and not static_pods.is_mirror(pod):
            self.workers.update(dict(pod), removed=True)

    async def static_pod_source(self) -> None:
        """``file.go``: re-read the manifests; start, update or remove static pods; keep
        their mirror pods in the API."""
        path = self.config.static_pod_path
        assert path is not None
        while True:
            found = await asyncio.to_thread(static_pods.read_manifests, path, self.config.node_name)
            for uid, pod in found.items():
                if uid not in self.static:
                    log.info("static pod %s from %s", pod["metadata"]["name"], path)
                    self.workers.update(pod)
            for uid, pod in self.static.items():
                if uid not in found:
                    self.workers.update(pod, removed=True)
                    await self._delete_mirror(pod, None)
            self.static = found
            for pod in found.values():
                try:
                    await self._ensure_mirror(pod)
                except (errors.ApiError, OSError) as e:
                    log.warning("mirror pod of %s: %s", pod["metadata"]["name"], e)
            await asyncio.sleep(self.config.file_check_frequency)

    async def _ensure_mirror(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            existing: Obj | None = dict(
                self.pod_informer.lister("pods").namespace(meta["namespace"]).get(meta["name"])
            )
        except errors.NotFound:
            existing = None
        ours = existing is not None and static_pods.static_uid(existing) == meta["uid"]
        if existing is not None and ours and not existing["metadata"].get("deletionTimestamp"):
            return
        if existing is not None:  # being deleted, stale (older manifest) or in the way
            await self._delete_mirror(pod, existing["metadata"].get("uid"))
            return
        with contextlib.suppress(errors.AlreadyExists):
            await self.client.create(
                PODS, static_pods.mirror_pod(pod, self.node), meta["namespace"]
            )
        self.last_status.pop(meta["uid"], None)  # write the status onto the new mirror
        self.workers.wake(meta["uid"])

    async def _delete_mirror(self, pod: Obj, uid: str | None) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(
                PODS,
                meta["name"],
                meta["namespace"],
                grace_period_seconds=0,
                preconditions={"uid": uid} if uid else None,
            )

    async def pleg(self) -> None:
        """``relist``: wake the pods whose containers changed state since the last look."""
        while True:
            await asyncio.sleep(self.config.pleg_relist_period)
            try:
                sandboxes, containers = await self.runtime.listing(fresh=True)
            except cri.ContainerRuntimeError as e:
                log.warning("PLEG relist failed: %s", e)
                continue
            owner = {s.id: s.metadata.uid for s in sandboxes}
            state: dict[str, set[tuple[str, str]]] = {}
            for s in sandboxes:
                state.setdefault(s.metadata.uid, set()).add((s.id, s.state.value))
            for c in containers:
                uid = owner.get(c.sandbox_id)
                if uid is not None:
                    state.setdefault(uid, set()).add((c.id, c.state.value))
            frozen = {uid: frozenset(v) for uid, v in state.items()}
            for uid, v in frozen.items():
                if self._pleg_state.get(uid) != v:
                    self.workers.wake(uid)
            self._pleg_state = frozen

    async def housekeeping(self) -> None:
        """``HandlePodCleanups``: remove what belongs to pods the API no longer has."""
        await self.pod_informer.wait_for_sync()
        while True:
            await asyncio.sleep(self.config.housekeeping_interval)
            try:
                known = {p["metadata"]["uid"] for p in self.pod_informer.lister("pods").list()}
                known |= set(self.static)
                for s in await self.runtime.list_pod_sandboxes():
                    uid = s.metadata.uid
                    if uid not in known and not self.workers.known(uid):
                        log.info("removing orphaned pod sandbox %s (pod %s)", s.id, uid)
                        await self.manager.remove_pod(uid)
                for uid in await self.volumes.known_pods():
                    if uid not in known and not self.workers.known(uid):
                        await self.volumes.teardown(uid)
                self.manager.backoff.gc()
            except Exception:
                log.exception("housekeeping failed")

    async def run(self, ready: asyncio.Event | None = None) -> None:
        self.machine = await asyncio.to_thread(
            node_status.machine_info,
            self.config.node_name,
            self.config.data_dir,
            self.config.node_ip,
        )
        self.runtime_version = await self.runtime.version()
        self.server = kubelet_server.KubeletServer(self.config, self)
        self.port = await self.server.start()
        try:
            while True:
                try:
                    await self.register_node()
                    break
                except (errors.ApiError, OSError) as e:
                    log.warning("unable to register node %s: %s", self.config.node_name, e)
                    await asyncio.sleep(2)
            self.pod_informer.add_event_handler(
                shared_informer.EventHandlerFuncs(
                    add=self._on_add, update=self._on_update, delete=self._on_delete
                )
            )
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.recorder.run())
                tg.create_task(self.lease.run())
                self.informers.start()
                await self.pod_informer.wait_for_sync()
                if ready is not None:
                    ready.set()
                tg.create_task(self.node_status_loop())
                tg.create_task(self.pleg())
                tg.create_task(self.housekeeping())
                tg.create_task(self.log_manager.run())
                tg.create_task(self.image_gc.run())
                if self.config.static_pod_path is not None:
                    tg.create_task(self.static_pod_source())
        finally:
            await self.workers.close()
            await self.probes.close()
            await self.informers.shutdown()
            await self.server.stop()


def _without_heartbeats(st: Obj) -> Obj:
    out = dict(st)
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in st.get("conditions") or []
    ]
    return out

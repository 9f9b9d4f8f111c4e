"""``sync_pod`` and ``kill_pod``: carrying out ``compute_pod_actions`` on the runtime.

Mirrors ``pkg/kubelet/kuberuntime/kuberuntime_manager.go`` (``SyncPod`` and its numbered
steps, ``KillPod``, ``GetPodStatus``, ``doBackOff``), ``kuberuntime_container.go``
(``startContainer``: pull, create, start, postStart; ``killContainer``: preStop within the
grace period, then stop), ``kuberuntime_sandbox.go`` (``generatePodSandboxConfig``) and
``pkg/kubelet/images/image_manager.go`` (``EnsureImageExists``: pull policy, events and
``ImagePullBackOff``).

What the worker must remember between syncs (why a container is waiting) is kept in
:class:`~.status.Observed`, which :mod:`.status` turns into container states.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pyk8s.api import errors
from pyk8s.images import registries
from pyk8s.images import service as image_service
from pyk8s.kubelet import container_config, envvars, prober, static_pods, termination_message
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.runtime import actions, backoff
from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.status import Observed
from pyk8s.kubelet.volumes.manager import VolumeManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Recorder = Callable[[Obj, str, str, str], None]
"""``record(pod, type, reason, note)``."""
Getter = Callable[[str, str, str], Awaitable[Obj]]

DEFAULT_GRACE = 30
MIN_GRACE = 2  # upstream's minimumGracePeriodInSeconds
RESTART_COUNT = "io.kubernetes.container.restartCount"


def pull_policy(container: Obj) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(container.get("image", ""))
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


class RuntimeManager:
    def __init__(
        self,
        config: KubeletConfig,
        runtime: cri.ContainerRuntime,
        images: image_service.ImageService,
        volumes: VolumeManager,
        probes: prober.ProberManager,
        record: Recorder,
        get: Getter,
        host_ip: Callable[[], str],
        allocatable: Callable[[], dict[str, str]],
        services: Callable[[bool], Awaitable[list[Obj]]] | None = None,
    ) -> None:
        self.config = config
        self.services = services  # None: a kubelet without an API server, no Service env
        self.runtime = runtime
        self.images = images
        self.volumes = volumes
        self.probes = probes
        self.record = record
        self.get = get
        self.host_ip = host_ip
        self.allocatable = allocatable
        self.backoff = backoff.BackOff(config.backoff_initial, config.backoff_max, time.time)
        self.pull_backoff = backoff.BackOff(config.backoff_initial, config.backoff_max, time.time)
        self._pull_failures: dict[str, float] = {}  # key → when the last pull failed
        self._messages: dict[str, str] = {}  # exited container id → its termination message

    # -- status

    async def pod_status(self, uid: str) -> actions.PodStatus:
        """``GetPodStatus``: the pod's sandboxes and containers (all attempts)."""
        sandboxes = [s for s in await self.runtime.list_pod_sandboxes() if s.metadata.uid == uid]
        ids = {s.id for s in sandboxes}
        containers = [c for c in await self.runtime.list_containers() if c.sandbox_id in ids]
        exited = [c for c in containers if c.state == cri.ContainerState.EXITED]
        if any(c.id not in self._messages for c in exited):
            await asyncio.to_thread(self._read_messages, exited)
        containers = [
            _with_message(c, self._messages[c.id]) if c.id in self._messages else c
            for c in containers
        ]
        return actions.PodStatus(tuple(sandboxes), tuple(containers))

    def _read_messages(self, exited: list[cri.ContainerStatus]) -> None:
        """Termination messages of newly exited containers (an exit never changes, so once)."""
        for c in exited:
            if c.id not in self._messages:
                self._messages[c.id] = termination_message.message(
                    c.annotations, c.log_path, c.exit_code, c.reason
                )

    # -- sync

    async def sync_pod(self, pod: Obj, observed: Observed) -> float | None:
        """Bring the runtime to what ``pod`` asks for; return when to look again (seconds;
        ``None``: nothing pending beyond the periodic resync)."""
        uid = pod["metadata"]["uid"]
        wake: float | None = None
        # Volumes first (upstream: WaitForAttachAndMount before SyncPod).
        try:
            volume_paths = await self.volumes.setup(
                pod, self.host_ip(), self._pod_ips(pod, None), self.allocatable()
            )
        except Exception as e:
            self.record(pod, "Warning", "FailedMount", str(e))
            return 2.0
        status = await self.pod_status(uid)
        # Step 1: compute sandbox and container changes.
        changes = actions.compute_pod_actions(
            pod,
            status,
            liveness=self.probes.results["liveness"],
            startup=self.probes.results["startup"],
        )
        # Step 2: kill the pod if the sandbox changed (or nothing may run any more).
        if changes.kill_pod:
            if any(c.state == cri.ContainerState.RUNNING for c in status.containers) or any(
                s.state == cri.SandboxState.READY for s in status.sandboxes
            ):
                await self.kill_pod(pod, status, None)
            if not changes.create_sandbox:
                return None
        else:
            # Step 3: kill containers that must not keep running.
            for k in changes.containers_to_kill:
                spec = self._spec_of(pod, k.name)
                if k.reason == actions.KillReason.LIVENESS_PROBE:
                    self.record(pod, "Normal", "Killing", k.message)
                await self.kill_container(pod, spec, k.container_id, None, k.message)
        # Step 4: create the sandbox.
        sandbox_id = changes.sandbox_id
        sandbox_config = self.sandbox_config(pod, changes.attempt)
        if changes.create_sandbox:
            try:
                sandbox_id = await self.runtime.run_pod_sandbox(sandbox_config)
            except cri.ContainerRuntimeError as e:
                self.record(
                    pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}"
                )
                return 2.0
            # Only the new sandbox is needed (for its IPs): ask for it alone, not a listing.
            new = await self.runtime.pod_sandbox_status(sandbox_id)
            status = actions.PodStatus((*status.sandboxes, new), status.containers)
        sandbox = next((s for s in status.sandboxes if s.id == sandbox_id), None)
        pod_ips = self._pod_ips(pod, sandbox)
        spec = pod.get("spec") or {}

        async def start(c: Obj, is_init: bool) -> tuple[bool, float | None]:
            return await self.start_container(
                pod,
                c,
                status,
                observed,
                sandbox_id,
                sandbox_config,
                volume_paths,
                pod_ips,
                is_init,
            )

        # Step 5: ephemeral containers (kubectl debug), never restarted.
        for i in changes.ephemeral_containers_to_start:
            ec = spec["ephemeralContainers"][i]
            _, delay = await self.start_container(
                pod, ec, status, observed, sandbox_id, sandbox_config, volume_paths, pod_ips,
                False, target=ec.get("targetContainerName") or "",
            )  # fmt: skip
            wake = _min(wake, delay)
        # Step 6: init containers (one regular one at a time; sidecars go on).
        for i in changes.init_containers_to_start:
            c = spec["initContainers"][i]
            _, delay = await start(c, True)
            wake = _min(wake, delay)
            if not actions.is_restartable_init_container(c):
                break
        # Step 7: the regular containers.
        for i in changes.containers_to_start:
            _, delay = await start(spec["containers"][i], False)
            wake = _min(wake, delay)
        if (
            len(status.containers) > len({c.metadata.name for c in status.containers})
            or len(status.sandboxes) > 1
        ):
            await self._gc_containers(uid)  # something older than the previous attempt may go
        return wake

    def _spec_of(self, pod: Obj, name: str) -> Obj:
        spec = pod.get("spec") or {}
        for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
            if c["name"] == name:
                return dict(c)
        return {"name": name}

    def _pod_ips(self, pod: Obj, sandbox: cri.PodSandboxStatus | None) -> list[str]:
        if (pod.get("spec") or {}).get("hostNetwork"):
            return [self.host_ip()]
        return list(sandbox.ips) if sandbox is not None else []

    def sandbox_config(self, pod: Obj, attempt: int) -> cri.PodSandboxConfig:
        """``generatePodSandboxConfig``: hostname, DNS, log directory, namespaces."""
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        ns = meta.get("namespace", "default")
        host_network = bool(spec.get("hostNetwork"))
        hostname = spec.get("hostname") or meta["name"]
        return cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(meta["name"], meta["uid"], ns, attempt),
            hostname="" if host_network else hostname[:63],
            log_directory=str(self.config.logs_dir / f"{ns}_{meta['name']}_{meta['uid']}"),
            dns=self._dns(pod),
            host_aliases=tuple(
                cri.HostAlias(a["ip"], tuple(a.get("hostnames") or ()))
                for a in spec.get("hostAliases") or []
            ),
            port_mappings=() if host_network else port_mappings(pod),
            host_network=host_network,
            host_ipc=bool(spec.get("hostIPC")),
            host_pid=bool(spec.get("hostPID")),
            share_process_namespace=bool(spec.get("shareProcessNamespace")),
            sysctls={
                s["name"]: str(s["value"])
                for s in (spec.get("securityContext") or {}).get("sysctls") or []
            },
            labels={
                cri.POD_NAME_LABEL: meta["name"],
                cri.POD_NAMESPACE_LABEL: ns,
                cri.POD_UID_LABEL: meta["uid"],
            },
        )

    def _dns(self, pod: Obj) -> cri.DNSConfig | None:
        """``dnsPolicy``: ClusterFirst (cluster DNS and search paths), Default (the host's),
        None (only ``dnsConfig``)."""
        spec = pod.get("spec") or {}
        policy = spec.get("dnsPolicy") or "ClusterFirst"
        if policy == "ClusterFirstWithHostNet":
            policy = "ClusterFirst"
        elif policy == "ClusterFirst" and spec.get("hostNetwork"):
            policy = "Default"
        extra = spec.get("dnsConfig") or {}
        if policy == "Default" and not extra:
            return None
        servers: list[str] = []
        searches: list[str] = []
        options: list[str] = []
        if policy == "ClusterFirst" and self.config.cluster_dns:
            ns = pod["metadata"].get("namespace", "default")
            d = self.config.cluster_domain
            servers = list(self.config.cluster_dns)
            searches = [f"{ns}.svc.{d}", f"svc.{d}", d]
            options = ["ndots:5"]
        elif policy in ("ClusterFirst", "Default"):
            return (
                None
                if not extra
                else cri.DNSConfig(
                    tuple(extra.get("nameservers") or ()), tuple(extra.get("searches") or ())
                )
            )
        servers += [s for s in extra.get("nameservers") or [] if s not in servers]
        searches += [s for s in extra.get("searches") or [] if s not in searches]
        for o in extra.get("options") or []:
            opt = o["name"] + (f":{o['value']}" if o.get("value") else "")
            options = [x for x in options if x.split(":")[0] != o["name"]] + [opt]
        return cri.DNSConfig(tuple(servers), tuple(searches), tuple(options))

    # -- images

    async def ensure_image(self, pod: Obj, c: Obj, observed: Observed) -> str | None:
        """``EnsureImageExists``: the image reference to run, or None (waiting reason set)."""
        image = str(c.get("image", ""))
        name = c["name"]
        uid = pod["metadata"]["uid"]
        policy = pull_policy(c)
        present = await self.images.status(image)
        # The local store is authoritative for what it holds: a bootstrapped or imported
        # image is used as is even under Always (there may be no registry to ask).
        if present is not None:
            self.record(
                pod, "Normal", "Pulled", f'Container image "{image}" already present on machine'
            )
            return image
        if policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            observed.waiting[name] = ("ErrImageNeverPull", msg)
            self.record(pod, "Warning", "ErrImageNeverPull", msg)
            return None
        key = f"{uid}_{image}"
        failed_at = self._pull_failures.get(key)
        if failed_at is not None and self.pull_backoff.in_backoff_since(key, failed_at):
            msg = f'Back-off pulling image "{image}"'
            observed.waiting[name] = ("ImagePullBackOff", msg)
            self.record(pod, "Normal", "BackOff", msg)
            return None
        self.record(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            info = await self.images.pull(image, credentials=await self._credentials(pod))
        except Exception as e:
            msg = f'Failed to pull image "{image}": {e}'
            self.pull_backoff.next(key)
            self._pull_failures[key] = time.time()
            observed.waiting[name] = ("ErrImagePull", msg)
            self.record(pod, "Warning", "Failed", msg)
            self.record(pod, "Warning", "Failed", "Error: ErrImagePull")
            return None
        took = time.monotonic() - started
        self.pull_backoff.reset(key)
        self._pull_failures.pop(key, None)
        self.record(
            pod,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{image}" in {took:.3f}s. Image size: {info.size} bytes.',
        )
        return image

    async def _credentials(self, pod: Obj) -> dict[str, registries.Auth] | None:
        secrets = (pod.get("spec") or {}).get("imagePullSecrets") or []
        if not secrets:
            return None
        ns = pod["metadata"].get("namespace", "default")
        out: dict[str, registries.Auth] = {}
        for ref in secrets:
            with contextlib.suppress(errors.NotFound):
                s = await self.get("Secret", ns, ref.get("name", ""))
                for key in (".dockerconfigjson", ".dockercfg"):
                    raw = (s.get("data") or {}).get(key)
                    if raw:
                        out.update(
                            image_service.credentials_from_dockerconfig(base64.b64decode(raw))
                        )
        return out

    # -- containers

    async def start_container(
        self,
        pod: Obj,
        c: Obj,
        status: actions.PodStatus,
        observed: Observed,
        sandbox_id: str,
        sandbox_config: cri.PodSandboxConfig,
        volume_paths: dict[str, str],
        pod_ips: list[str],
        is_init: bool,
        target: str = "",
    ) -> tuple[bool, float | None]:
        """``startContainer``; (started, when to look again). ``target``: the container whose
        process namespace an ephemeral container joins."""
        name = c["name"]
        uid = pod["metadata"]["uid"]
        meta = pod["metadata"]
        prev = status.find(name)
        spec_hash = actions.container_hash(c)
        bkey = backoff.key(uid, name, spec_hash)
        if prev is not None and prev.state == cri.ContainerState.EXITED:
            finished = prev.finished_at / 1e9
            if self.backoff.in_backoff_since(bkey, finished):
                remaining = self.backoff.get(bkey) - (time.time() - finished)
                msg = (
                    f"back-off {self.backoff.get(bkey):g}s restarting failed container={name} "
                    f"pod={meta['name']}_{meta.get('namespace', 'default')}({uid})"
                )
                observed.waiting[name] = ("CrashLoopBackOff", msg)
                self.record(
                    pod,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {name} in pod "
                    f"{meta['name']}_{meta.get('namespace', 'default')}({uid})",
                )
                return False, max(remaining, 0.1)
            self.backoff.next(bkey)
        image = await self.ensure_image(pod, c, observed)
        if image is None:
            return False, self.pull_backoff.get(f"{uid}_{c.get('image', '')}") or 2.0
        try:
            rimg = await self.images.runtime_image(image)
            cfg = await self._container_config(pod, c, rimg, prev, volume_paths, pod_ips, spec_hash)
        except container_config.ConfigError as e:
            observed.waiting[name] = ("CreateContainerConfigError", str(e))
            self.record(pod, "Warning", "Failed", f"Error: {e}")
            return False, 2.0
        if target:
            running = status.find(target)
            if running is None or running.state != cri.ContainerState.RUNNING:
                observed.waiting[name] = ("CreateContainerError", f"target container {target} "
                                          "is not running")  # fmt: skip
                return False, 2.0
            cfg = dataclasses.replace(cfg, target_id=running.id)
        try:
            cid = await self.runtime.create_container(sandbox_id, cfg, sandbox_config)
        except cri.ContainerRuntimeError as e:
            observed.waiting[name] = ("CreateContainerError", str(e))
            self.record(pod, "Warning", "Failed", f"Error: {e}")
            return False, 2.0
        self.record(pod, "Normal", "Created", f"Created container: {name}")
        try:
            await self.runtime.start_container(cid)
        except cri.ContainerRuntimeError as e:
            observed.waiting[name] = ("RunContainerError", str(e))
            self.record(pod, "Warning", "Failed", f"Error: {e}")
            return False, 2.0
        observed.waiting.pop(name, None)
        self.record(pod, "Normal", "Started", f"Started container {name}")
        post = ((c.get("lifecycle") or {}).get("postStart")) or None
        if post:
            ok, msg = await self._hook(pod, cid, sandbox_id, c, post, 30.0)
            if not ok:
                self.record(pod, "Warning", "FailedPostStartHook", msg)
                await self.kill_container(pod, c, cid, 0, f"FailedPostStartHook: {msg}")
                return False, 1.0
        return True, None

    async def _container_config(
        self,
        pod: Obj,
        c: Obj,
        rimg: image_service.RuntimeImage,
        prev: cri.ContainerStatus | None,
        volume_paths: dict[str, str],
        pod_ips: list[str],
        spec_hash: str,
    ) -> cri.ContainerConfig:
        service_vars: dict[str, str] = {}
        if self.services is not None:
            spec = pod.get("spec") or {}
            # a static pod may start before the API server answers: it takes what is known
            service_vars = envvars.service_env(
                await self.services(not static_pods.is_static(pod)),
                pod["metadata"].get("namespace", "default"),
                spec.get("enableServiceLinks", True) is not False,
            )
        env = await container_config.environment(
            pod,
            c,
            rimg,
            self.get,
            host_ip=self.host_ip(),
            pod_ips=pod_ips,
            allocatable=self.allocatable(),
            service_vars=service_vars,
        )
        command, args = container_config.command_and_args(c, rimg, dict(env))
        mounts = container_config.mounts(c, volume_paths, None)
        for m in mounts:
            if m.host_path not in volume_paths.values():
                await asyncio.to_thread(os.makedirs, m.host_path, exist_ok=True)
        attempt = prev.metadata.attempt + 1 if prev is not None else 0
        meta = pod["metadata"]
        annotations = {actions.HASH_ANNOTATION: spec_hash, RESTART_COUNT: str(attempt)}
        msg_path = str(c.get("terminationMessagePath") or "")
        if msg_path and not any(m.container_path == msg_path for m in mounts):
            host = await asyncio.to_thread(
                termination_message.create_file,
                self.volumes.pod_dir(meta["uid"]),
                c["name"],
                attempt,
            )
            mounts = (*mounts, cri.Mount(msg_path, str(host)))
            annotations[termination_message.PATH_ANNOTATION] = msg_path
            annotations[termination_message.FILE_ANNOTATION] = str(host)
        policy = str(c.get("terminationMessagePolicy") or "File")
        annotations[termination_message.POLICY_ANNOTATION] = policy
        return cri.ContainerConfig(
            metadata=cri.ContainerMetadata(c["name"], attempt),
            layers=tuple(str(p) for p in rimg.layers),
            command=command,
            args=args,
            working_dir=str(c.get("workingDir") or rimg.working_dir or ""),
            envs=tuple(env),
            mounts=mounts,
            image=str(c.get("image", "")),
            image_ref=rimg.id,
            log_path=f"{c['name']}/{attempt}.log",
            stdin=bool(c.get("stdin")),
            stdin_once=bool(c.get("stdinOnce")),
            tty=bool(c.get("tty")),
            resources=container_config.resources(c),
            security=container_config.security(pod, c, rimg),
            labels={
                cri.POD_NAME_LABEL: meta["name"],
                cri.POD_NAMESPACE_LABEL: meta.get("namespace", "default"),
                cri.POD_UID_LABEL: meta["uid"],
                cri.CONTAINER_NAME_LABEL: c["name"],
            },
            annotations=annotations,
        )

    async def _hook(
        self, pod: Obj, cid: str, sandbox_id: str, c: Obj, handler: Obj, timeout: float
    ) -> tuple[bool, str]:
        """Run a lifecycle hook (exec or httpGet; sleep as upstream's PodLifecycleSleepAction)."""
        if "sleep" in handler:
            await asyncio.sleep(float(handler["sleep"].get("seconds") or 0))
            return True, ""
        target = prober.Target(
            pod["metadata"]["uid"],
            c["name"],
            cid,
            sandbox_id,
            bool((pod.get("spec") or {}).get("hostNetwork")),
            _ports(c),
        )
        probe = dict(handler)
        probe["timeoutSeconds"] = max(int(timeout), 1)
        ok, out = await prober.run_probe(self.runtime, probe, target)
        return ok, out

    async def kill_container(
        self, pod: Obj, c: Obj, container_id: str, grace: int | None, message: str
    ) -> None:
        """``killContainer``: preStop within the grace period, then SIGTERM and SIGKILL."""
        spec = pod.get("spec") or {}
        if grace is None:
            meta_grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
            spec_grace = spec.get("terminationGracePeriodSeconds")
            grace = int(
                meta_grace
                if meta_grace is not None
                else spec_grace
                if spec_grace is not None
                else DEFAULT_GRACE
            )
        self.record(pod, "Normal", "Killing", f"Stopping container {c['name']}")
        started = time.monotonic()
        pre = ((c.get("lifecycle") or {}).get("preStop")) or None
        if pre and grace > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    st = await self.runtime.container_status(container_id)
                    if st.state == cri.ContainerState.RUNNING:
                        ok, out = await self._hook(
                            pod, container_id, st.sandbox_id, c, pre, float(grace)
                        )
                        if not ok:
                            self.record(
                                pod, "Warning", "FailedPreStopHook", f"PreStopHook failed: {out}"
                            )
        remaining = grace - (time.monotonic() - started)
        if grace > 0:
            remaining = max(remaining, MIN_GRACE)
        await self.runtime.stop_container(container_id, max(remaining, 0))

    async def kill_pod(self, pod: Obj, status: actions.PodStatus | None, grace: int | None) -> None:
        """``KillPod``: regular containers in parallel, then sidecars (last started first),
        then the sandbox."""
        uid = pod["metadata"]["uid"]
        if status is None:
            status = await self.pod_status(uid)
        running = [c for c in status.containers if c.state != cri.ContainerState.EXITED]
        spec = pod.get("spec") or {}
        sidecars = [
            c["name"]
            for c in spec.get("initContainers") or []
            if actions.is_restartable_init_container(c)
        ]
        regular = [c for c in running if c.metadata.name not in sidecars]
        side = [c for c in running if c.metadata.name in sidecars]
        await asyncio.gather(
            *(
                self.kill_container(pod, self._spec_of(pod, c.metadata.name), c.id, grace, "")
                for c in regular
            )
        )
        for c in sorted(side, key=lambda c: c.created_at, reverse=True):
            await self.kill_container(pod, self._spec_of(pod, c.metadata.name), c.id, grace, "")
        for s in status.sandboxes:
            if s.state == cri.SandboxState.READY:
                await self.runtime.stop_pod_sandbox(s.id)
        self.probes.remove_pod(uid)

    async def remove_pod(self, uid: str) -> None:
        """Everything of a pod that is gone from the API: sandboxes, containers, volumes."""
        self.probes.remove_pod(uid)
        for s in await self.runtime.list_pod_sandboxes():
            if s.metadata.uid == uid:
                for c in await self.runtime.list_containers(s.id):
                    self._messages.pop(c.id, None)
                await self.runtime.remove_pod_sandbox(s.id)
        await self.volumes.teardown(uid)

    async def _gc_containers(self, uid: str) -> None:
        """Keep the current and the previous container of each name; remove older ones, and
        sandboxes that are neither the newest nor holding one of those."""
        status = await self.pod_status(uid)
        by_name: dict[str, list[cri.ContainerStatus]] = {}
        for c in status.containers:
            by_name.setdefault(c.metadata.name, []).append(c)
        keep: set[str] = set()
        for cs in by_name.values():
            cs.sort(key=lambda c: c.created_at, reverse=True)
            keep |= {c.sandbox_id for c in cs[:2]}
            for old in cs[2:]:
                if old.state == cri.ContainerState.EXITED:
                    await self.runtime.remove_container(old.id)
                    self._messages.pop(old.id, None)
        latest = status.latest_sandbox()
        for s in status.sandboxes:
            stale = latest is not None and s.id != latest.id and s.id not in keep
            if stale and s.state != cri.SandboxState.READY:
                await self.runtime.remove_pod_sandbox(s.id)


def _with_message(c: cri.ContainerStatus, message: str) -> cri.ContainerStatus:
    """Upstream appends the termination message to the runtime's own message."""
    if not message:
        return c
    return dataclasses.replace(c, message=f"{c.message}: {message}" if c.message else message)


def _ports(c: Obj) -> dict[str, int]:
    return {p["name"]: int(p["containerPort"]) for p in c.get("ports") or [] if p.get("name")}


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def port_mappings(pod: Obj) -> tuple[cri.PortMapping, ...]:
    """The pod's ``hostPort``s as CRI port mappings (``generatePodSandboxConfig`` with
    ``MakePortMappings``): one per distinct (protocol, hostIP, hostPort)."""
    out: dict[tuple[str, str, int], cri.PortMapping] = {}
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            host_port = int(p.get("hostPort") or 0)
            if host_port <= 0:
                continue
            m = cri.PortMapping(
                protocol=p.get("protocol") or "TCP",
                container_port=int(p["containerPort"]),
                host_port=host_port,
                host_ip=p.get("hostIP") or "",
            )
            out.setdefault((m.protocol, m.host_ip, m.host_port), m)
    return tuple(out.values())

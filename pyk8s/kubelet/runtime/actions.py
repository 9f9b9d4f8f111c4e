"""What a pod needs from the runtime right now: ``compute_pod_actions(pod, status)``. Pure.

Mirrors ``pkg/kubelet/kuberuntime/kuberuntime_manager.go`` (``computePodActions``,
``podActions``), ``kuberuntime_container.go`` (``computeInitContainerActions``,
``hasAnyRegularContainerCreated``, ``isInitContainerFailed``),
``pkg/kubelet/runtime/util.go`` (``PodSandboxChanged``) and ``pkg/kubelet/container/helpers.go``
(``ShouldContainerBeRestarted``), with sidecars (init containers with ``restartPolicy: Always``)
handled as upstream does since the SidecarContainers feature. In-place resize is not
modelled. The pod is the API object as a dict; ``status`` is the runtime's view of it.

The kubelet's ``sync_pod`` executes the result in upstream's numbered steps: kill the pod if
asked (and stop there unless a sandbox is to be created), kill ``containers_to_kill``, create
the sandbox, start ephemeral containers, the init containers, then the regular containers,
each start gated by the CrashLoopBackOff back-off (:mod:`.backoff`).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.kubelet.runtime.interface import (
    ContainerState,
    ContainerStatus,
    PodSandboxStatus,
    SandboxState,
)

HASH_ANNOTATION = "io.kubernetes.container.hash"

Obj = dict[str, Any]


class ProbeResult(enum.Enum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"


class KillReason(enum.Enum):
    NONE = ""
    LIVENESS_PROBE = "LivenessProbe"
    STARTUP_PROBE = "StartupProbe"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class PodStatus:
    """The runtime's view of one pod: its sandboxes and containers, in any order."""

    sandboxes: tuple[PodSandboxStatus, ...] = ()
    containers: tuple[ContainerStatus, ...] = ()

    def latest_sandbox(self) -> PodSandboxStatus | None:
        return max(self.sandboxes, key=lambda s: s.created_at, default=None)

    def find(self, name: str) -> ContainerStatus | None:
        """The newest container of that name (``FindContainerStatusByName``)."""
        found = [c for c in self.containers if c.metadata.name == name]
        return max(found, key=lambda c: c.created_at, default=None)


@dataclass(frozen=True)
class ContainerToKill:
    container_id: str
    name: str
    message: str
    reason: KillReason = KillReason.NONE


@dataclass(frozen=True)
class PodActions:
    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    init_containers_to_start: tuple[int, ...] = ()
    containers_to_start: tuple[int, ...] = ()
    containers_to_kill: tuple[ContainerToKill, ...] = ()
    ephemeral_containers_to_start: tuple[int, ...] = ()


@dataclass
class _Changes:
    kill_pod: bool
    create_sandbox: bool
    sandbox_id: str
    attempt: int
    init_start: list[int] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    kill: dict[str, ContainerToKill] = field(default_factory=dict)
    ephemeral: list[int] = field(default_factory=list)

    def freeze(self) -> PodActions:
        return PodActions(
            kill_pod=self.kill_pod,
            create_sandbox=self.create_sandbox,
            sandbox_id=self.sandbox_id,
            attempt=self.attempt,
            init_containers_to_start=tuple(self.init_start),
            containers_to_start=tuple(self.start),
            containers_to_kill=tuple(self.kill.values()),
            ephemeral_containers_to_start=tuple(self.ephemeral),
        )


def container_hash(container: Mapping[str, Any]) -> str:
    """A stable hash of a container's spec; a running container whose hash differs from its
    spec's is restarted (upstream ``HashContainer``). Resources are left out, as upstream
    does, so that a resize does not restart."""
    spec = {k: v for k, v in container.items() if k != "resources"}
    data = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def _spec(pod: Obj) -> Obj:
    spec: Obj = pod.get("spec") or {}
    return spec


def restart_policy(pod: Obj) -> str:
    return str(_spec(pod).get("restartPolicy") or "Always")


def should_restart_on_failure(pod: Obj) -> bool:
    return restart_policy(pod) != "Never"


def is_restartable_init_container(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def is_init_container_failed(status: ContainerStatus) -> bool:
    if "OOMKilled" in status.reason:
        return True
    if status.state == ContainerState.EXITED and status.exit_code != 0:
        return True
    return status.state == ContainerState.UNKNOWN


def _succeeded(status: ContainerStatus | None) -> bool:
    return status is not None and status.state == ContainerState.EXITED and status.exit_code == 0


def should_container_be_restarted(
    container: Mapping[str, Any], pod: Obj, status: PodStatus
) -> bool:
    """``ShouldContainerBeRestarted``: is a container that is not running to be (re)started?"""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    cs = status.find(container["name"])
    if cs is None:
        return True
    if cs.state == ContainerState.RUNNING:
        return False
    if cs.state in (ContainerState.UNKNOWN, ContainerState.CREATED):
        return True
    policy = restart_policy(pod)
    if policy == "Never":
        return False
    return not (policy == "OnFailure" and cs.exit_code == 0)


def pod_sandbox_changed(pod: Obj, status: PodStatus) -> tuple[bool, int, str]:
    """``PodSandboxChanged``: (create a new sandbox?, its attempt, the current sandbox id)."""
    latest = status.latest_sandbox()
    if latest is None:
        return True, 0, ""
    attempt = latest.metadata.attempt + 1
    ready = sum(1 for s in status.sandboxes if s.state == SandboxState.READY)
    if ready > 1 or latest.state != SandboxState.READY:
        return True, attempt, latest.id
    if bool(_spec(pod).get("hostNetwork")) != (latest.netns_path == ""):
        return True, attempt, ""
    # Upstream also replaces a sandbox that has no IP; ours have none until the pod network
    # is plugged in (loopback only), so that rule waits for it.
    return False, latest.metadata.attempt, latest.id


def _changed(container: Mapping[str, Any], cs: ContainerStatus) -> bool:
    recorded = cs.annotations.get(HASH_ANNOTATION, "")
    return bool(recorded) and recorded != container_hash(container)


def compute_pod_actions(
    pod: Obj,
    status: PodStatus,
    *,
    liveness: Mapping[str, ProbeResult] | None = None,
    startup: Mapping[str, ProbeResult] | None = None,
) -> PodActions:
    """Decide sandbox, init, sidecar and regular container actions for ``pod``.

    ``liveness``/``startup`` are the prober's latest results by container id (absent: the
    probe has not run yet)."""
    liveness = liveness or {}
    startup = startup or {}
    spec = _spec(pod)
    containers: list[Obj] = list(spec.get("containers") or [])
    init_containers: list[Obj] = list(spec.get("initContainers") or [])

    create, attempt, sandbox_id = pod_sandbox_changed(pod, status)
    ch = _Changes(kill_pod=create, create_sandbox=create, sandbox_id=sandbox_id, attempt=attempt)

    if create:
        if not should_restart_on_failure(pod) and attempt != 0 and status.containers:
            # Every container already ran and none may restart: only kill what is left.
            ch.create_sandbox = False
            return ch.freeze()
        to_start = [
            i
            for i, c in enumerate(containers)
            if not (restart_policy(pod) == "OnFailure" and _succeeded(status.find(c["name"])))
        ]
        if not to_start and _any_regular_created(containers, status):
            ch.create_sandbox = False
            return ch.freeze()
        if init_containers:
            ch.init_start = [0]
            return ch.freeze()
        ch.start = to_start
        return ch.freeze()

    for i, ec in enumerate(spec.get("ephemeralContainers") or []):
        if status.find(ec["name"]) is None:
            ch.ephemeral.append(i)

    initialized = _compute_init_actions(
        pod, init_containers, containers, status, ch, startup, liveness
    )
    if ch.kill_pod or not initialized:
        return ch.freeze()

    keep = 0
    for i, c in enumerate(containers):
        cs = status.find(c["name"])
        if cs is None or cs.state != ContainerState.RUNNING:
            if should_container_be_restarted(c, pod, status):
                ch.start.append(i)
                if cs is not None and cs.state == ContainerState.UNKNOWN:
                    ch.kill[cs.id] = ContainerToKill(
                        cs.id,
                        c["name"],
                        'Container is in "unknown" state, try killing it before restart',
                        KillReason.UNKNOWN,
                    )
            continue
        restart = should_restart_on_failure(pod)
        reason = KillReason.NONE
        if _changed(c, cs):
            message = f"Container {c['name']} definition changed"
            restart = True
        elif liveness.get(cs.id) == ProbeResult.FAILURE:
            message = f"Container {c['name']} failed liveness probe"
            reason = KillReason.LIVENESS_PROBE
        elif startup.get(cs.id) == ProbeResult.FAILURE:
            message = f"Container {c['name']} failed startup probe"
            reason = KillReason.STARTUP_PROBE
        else:
            keep += 1
            continue
        if restart:
            message += ", will be restarted"
            ch.start.append(i)
        ch.kill[cs.id] = ContainerToKill(cs.id, c["name"], message, reason)

    if keep == 0 and not ch.start:
        ch.kill_pod = True
        ch.init_start = []  # sidecars alone must not keep the pod alive
    return ch.freeze()


def _any_regular_created(containers: list[Obj], status: PodStatus) -> bool:
    for c in containers:
        cs = status.find(c["name"])
        if cs is not None and cs.state in (
            ContainerState.CREATED,
            ContainerState.RUNNING,
            ContainerState.EXITED,
        ):
            return True
    return False


def _compute_init_actions(
    pod: Obj,
    init_containers: list[Obj],
    containers: list[Obj],
    status: PodStatus,
    ch: _Changes,
    startup: Mapping[str, ProbeResult],
    liveness: Mapping[str, ProbeResult],
) -> bool:
    """``computeInitContainerActions``: fills ``ch``; True once the pod is initialized."""
    if not init_containers:
        return True
    initialized = any(
        (cs := status.find(c["name"])) is not None
        and cs.state in (ContainerState.CREATED, ContainerState.RUNNING)
        for c in containers
    )
    previously = initialized
    restart_on_failure = should_restart_on_failure(pod)
    last = len(init_containers) - 1
    starts: list[int] = []

    def kill(cs: ContainerStatus, name: str, message: str, reason: KillReason) -> None:
        ch.kill[cs.id] = ContainerToKill(cs.id, name, message, reason)

    for i in range(last, -1, -1):
        c = init_containers[i]
        name = c["name"]
        sidecar = is_restartable_init_container(c)
        cs = status.find(name)
        if cs is None:
            if previously and sidecar:
                starts.append(i)
            continue
        if previously and not sidecar:
            continue
        if cs.state == ContainerState.CREATED:
            starts.append(i)
        elif cs.state == ContainerState.RUNNING:
            if sidecar:
                _sidecar_running(c, cs, i, last, previously, starts, kill, startup, liveness)
                if i == last and _sidecar_started(c, cs, startup):
                    initialized = True
        elif cs.state == ContainerState.EXITED:
            if sidecar:
                starts.append(i)
            elif is_init_container_failed(cs):
                if not restart_on_failure:
                    ch.kill_pod = True
                    ch.init_start = []
                    return False
                starts.append(i)
            elif i == last:
                initialized = True
            else:
                starts.append(i + 1)
        else:  # unknown
            message = 'Init container is in "unknown" state, try killing it before restart'
            if not sidecar and not restart_on_failure:
                ch.kill_pod = True
                ch.init_start = []
                return False
            kill(cs, name, message, KillReason.UNKNOWN)
            starts.append(i)
        previously = True

    if not previously:
        starts.append(0)
    ch.init_start = list(reversed(starts))
    return initialized


def _sidecar_started(
    c: Mapping[str, Any], cs: ContainerStatus, startup: Mapping[str, ProbeResult]
) -> bool:
    return not c.get("startupProbe") or startup.get(cs.id) == ProbeResult.SUCCESS


def _sidecar_running(
    c: Mapping[str, Any],
    cs: ContainerStatus,
    i: int,
    last: int,
    previously: bool,
    starts: list[int],
    kill: Callable[[ContainerStatus, str, str, KillReason], None],
    startup: Mapping[str, ProbeResult],
    liveness: Mapping[str, ProbeResult],
) -> None:
    name = c["name"]
    if c.get("startupProbe"):
        result = startup.get(cs.id)
        if result is None:
            return  # wait for the startup probe
        if result != ProbeResult.SUCCESS:
            if result == ProbeResult.FAILURE:
                kill(
                    cs,
                    name,
                    f"Init container {name} failed startup probe",
                    KillReason.STARTUP_PROBE,
                )
                starts.append(i)
            return
    if i != last and not previously:
        starts.append(i + 1)  # started for the first time: go on with the next one
    if _changed(c, cs):
        kill(cs, name, f"Init container {name} definition changed", KillReason.NONE)
        starts.append(i)
        return
    if c.get("livenessProbe") and liveness.get(cs.id) == ProbeResult.FAILURE:
        kill(cs, name, f"Init container {name} failed liveness probe", KillReason.LIVENESS_PROBE)
        starts.append(i)

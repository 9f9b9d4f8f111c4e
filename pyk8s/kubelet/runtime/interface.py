"""The container runtime seam: a CRI-shaped protocol and its value types.

Mirrors the CRI (``staging/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto``:
``RunPodSandbox``, ``CreateContainer``, ``ContainerStatus``, ``ExecSync``, ``ContainerStats``)
and ``pkg/kubelet/container/runtime.go`` for the kubelet's view of a pod. The kubelet talks
to the runtime only through :class:`ContainerRuntime`; :mod:`.runc` is the real one and
:mod:`.fake` the in-package fake for kubelet tests.

Differences from the CRI, on purpose: images are resolved by the kubelet's image store, so a
:class:`ContainerConfig` carries the unpacked layer directories (``layers``) and the final
``command``/``args`` (already merged with the image's Entrypoint and Cmd). Times are integer
nanoseconds since the epoch, as in the CRI.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

RUNTIME_NAME = "runc"

# Labels the kubelet puts on sandboxes and containers (pkg/kubelet/types/labels.go).
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"


class ContainerRuntimeError(Exception):
    """A runtime operation failed (runc error, bad config, missing file)."""


class NotFoundError(ContainerRuntimeError):
    """No sandbox or container with that id."""


class SandboxState(enum.Enum):
    READY = "SANDBOX_READY"
    NOTREADY = "SANDBOX_NOTREADY"


class ContainerState(enum.Enum):
    CREATED = "CONTAINER_CREATED"
    RUNNING = "CONTAINER_RUNNING"
    EXITED = "CONTAINER_EXITED"
    UNKNOWN = "CONTAINER_UNKNOWN"


@dataclass(frozen=True)
class PodSandboxMetadata:
    name: str
    uid: str
    namespace: str
    attempt: int = 0


@dataclass(frozen=True)
class ContainerMetadata:
    name: str
    attempt: int = 0


@dataclass(frozen=True)
class DNSConfig:
    """resolv.conf content; ``None`` in the sandbox config means "the host's resolv.conf"."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostAlias:
    ip: str
    hostnames: tuple[str, ...]


@dataclass(frozen=True)
class PortMapping:
    """A container port published on the node (CRI ``PortMapping``, from ``hostPort``)."""

    protocol: str  # TCP | UDP | SCTP
    container_port: int
    host_port: int
    host_ip: str = ""  # empty: every address of the node (and localhost)


@dataclass(frozen=True)
class PodSandboxConfig:
    """What the kubelet asks of a pod sandbox (CRI ``PodSandboxConfig``).

    ``host_network``/``host_ipc`` share the node's namespaces (hostname is then the node's);
    otherwise the sandbox owns a network, IPC and UTS namespace that its containers join.
    """

    metadata: PodSandboxMetadata
    hostname: str = ""
    log_directory: str = ""
    dns: DNSConfig | None = None
    host_aliases: tuple[HostAlias, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    host_network: bool = False
    host_ipc: bool = False
    host_pid: bool = False
    share_process_namespace: bool = False
    sysctls: Mapping[str, str] = field(default_factory=dict)  # namespaced ones only
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Mount:
    container_path: str
    host_path: str
    readonly: bool = False
    propagation: str = "private"  # private | rslave | rshared (CRI MountPropagation)


@dataclass(frozen=True)
class Capabilities:
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()  # "ALL" drops every capability before adding


@dataclass(frozen=True)
class SecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: tuple[int, ...] = ()
    privileged: bool = False
    capabilities: Capabilities = field(default_factory=Capabilities)
    readonly_rootfs: bool = False
    no_new_privs: bool = False


@dataclass(frozen=True)
class Resources:
    """Linux resources as the kubelet computes them (CRI ``LinuxContainerResources``)."""

    cpu_period: int = 0  # microseconds; 0 = default
    cpu_quota: int = 0  # microseconds per period; 0 = no limit
    cpu_shares: int = 0  # 0 = default
    memory_limit_in_bytes: int = 0  # 0 = no limit
    oom_score_adj: int = 0


@dataclass(frozen=True)
class ContainerConfig:
    """What the kubelet asks of a container (CRI ``ContainerConfig``).

    ``layers`` are unpacked image layer directories, bottom first; the root filesystem is an
    overlay of them with a private writable layer. ``log_path`` is relative to the sandbox's
    ``log_directory``.
    """

    metadata: ContainerMetadata
    layers: tuple[str, ...]
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str = ""
    envs: tuple[tuple[str, str], ...] = ()
    mounts: tuple[Mount, ...] = ()
    image: str = ""
    image_ref: str = ""
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: Resources = field(default_factory=Resources)
    security: SecurityContext = field(default_factory=SecurityContext)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    target_id: str = ""
    """Join this running container's pid namespace (CRI ``NamespaceMode_TARGET``: an
    ephemeral container's ``targetContainerName``)."""


@dataclass(frozen=True)
class PodSandboxStatus:
    id: str
    metadata: PodSandboxMetadata
    state: SandboxState
    created_at: int
    ips: tuple[str, ...] = ()
    netns_path: str = ""  # "" for hostNetwork
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerStatus:
    """CRI ``ContainerStatus``; once exited, ``reason`` is OOMKilled, Completed or Error."""

    id: str
    sandbox_id: str
    metadata: ContainerMetadata
    state: ContainerState
    created_at: int
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    pid: int = 0
    image: str = ""
    image_ref: str = ""
    reason: str = ""
    message: str = ""
    log_path: str = ""  # absolute
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerStats:
    id: str
    timestamp: int
    cpu_usage_core_nanoseconds: int = 0
    memory_usage_bytes: int = 0
    memory_working_set_bytes: int = 0
    pids: int = 0
    memory_rss_bytes: int = 0
    page_faults: int = 0
    major_page_faults: int = 0
    writable_layer_bytes: int = 0  # the container's own files (its overlay upper dir)
    writable_layer_inodes: int = 0


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


class Input(Protocol):
    """Where a session's stdin goes (an ``asyncio.StreamWriter`` is one)."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class ExecSession(Protocol):
    """A running ``exec`` or ``attach``: write to ``stdin`` (``None`` unless asked for), read
    the outputs, then ``wait()`` for the exit code. ``kill()`` ends an exec early; ``resize``
    changes a tty's window size (ignored without a tty)."""

    @property
    def stdin(self) -> Input | None: ...

    @property
    def stdout(self) -> asyncio.StreamReader: ...

    @property
    def stderr(self) -> asyncio.StreamReader | None:
        """``None`` with a tty (its output is all on stdout)."""

    async def wait(self) -> int: ...

    async def kill(self) -> None: ...

    async def resize(self, cols: int, rows: int) -> None: ...


class PodNetwork(Protocol):
    """Pod networking, plugged into the runtime (the CNI's place). Without one, a pod's
    network namespace has only loopback."""

    async def setup(self, sandbox_id: str, netns_path: str, config: PodSandboxConfig) -> list[str]:
        """Connect the namespace; return the pod's IPs (IPv4 first)."""

    async def teardown(self, sandbox_id: str, netns_path: str, config: PodSandboxConfig) -> None:
        """Undo :meth:`setup`; called again on an already torn-down sandbox, do nothing."""


@runtime_checkable
class ContainerRuntime(Protocol):
    """The CRI's RuntimeService, as the kubelet uses it. All methods are idempotent where the
    CRI says so: stopping or removing something already gone is not an error."""

    async def version(self) -> str:
        """``<runtime name>://<version>``, e.g. ``runc://1.1.5``."""

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        """Create the pod's namespaces, resolv.conf and hosts file; return the sandbox id."""

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Kill every container of the sandbox (no grace) and tear down its network."""

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """Remove the sandbox and every container in it; everything it put on the host goes."""

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        """Raise :class:`NotFoundError` for an unknown id."""

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        """Prepare the container (root filesystem, bundle, log file); it stays CREATED."""

    async def start_container(self, container_id: str) -> None:
        """Start the created container's process."""

    async def stop_container(self, container_id: str, timeout: float) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; return once the container exited."""

    async def remove_container(self, container_id: str) -> None:
        """Remove an exited container (killing it first if it still runs) and its rootfs."""

    async def container_status(self, container_id: str) -> ContainerStatus:
        """Raise :class:`NotFoundError` for an unknown id."""

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> ExecResult:
        """Run ``cmd`` in the container and collect its output (probes, hooks)."""

    async def exec(
        self, container_id: str, cmd: list[str], *, stdin: bool = False, tty: bool = False
    ) -> ExecSession:
        """Start ``cmd`` in the container with streams (``kubectl exec``)."""

    async def attach(self, container_id: str, *, stdin: bool = False) -> ExecSession:
        """Connect to a running container's stdio (``kubectl attach``, ``kubectl run -it``):
        its output from now on, and its stdin if the container was created with ``stdin``.
        ``wait()`` returns the container's exit code, or -1 if the client detached first."""

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``localhost:port`` in the pod's network namespace."""

    async def reopen_container_log(self, container_id: str) -> None:
        """Make the log writer reopen its file after the kubelet rotated it."""

    async def container_stats(self, container_id: str) -> ContainerStats: ...

"""Build a container's OCI runtime spec (``config.json``) from the CRI-shaped configs. Pure.

Mirrors containerd's ``internal/cri/server/container_create_linux.go`` (``containerSpec``:
namespaces joined from the sandbox, hostname, /etc files, capabilities, masked paths) and
``pkg/oci/spec.go`` (``populateDefaultUnixSpec``: the default mounts and Docker's default
capability set), for runc's spec version 1.0.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyk8s.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's (and containerd's) default capability set.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Every capability, in kernel bit order (include/uapi/linux/capability.h).
ALL_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


@dataclass(frozen=True)
class SandboxPaths:
    """Host paths the sandbox provides to its containers ("" = not provided: host's own)."""

    netns: str = ""
    ipc: str = ""
    uts: str = ""
    hosts: str = ""
    resolv_conf: str = ""
    hostname: str = ""
    shm: str = ""
    pid: str = ""  # the pod's shared pid namespace (shareProcessNamespace)


def bounding_set(cap_bnd_hex: str) -> frozenset[str]:
    """Capability names from a ``CapBnd:`` mask of ``/proc/self/status``."""
    mask = int(cap_bnd_hex, 16)
    return frozenset(c for i, c in enumerate(ALL_CAPABILITIES) if mask >> i & 1)


def capabilities(config: ContainerConfig, host: frozenset[str] | None = None) -> list[str]:
    """The container's capabilities, limited to what the host's bounding set can give
    (``host``; privileged means all of those, as containerd does)."""
    sec = config.security
    allowed = host if host is not None else frozenset(ALL_CAPABILITIES)
    if sec.privileged:
        return [c for c in ALL_CAPABILITIES if c in allowed]
    drop = {_cap(c) for c in sec.capabilities.drop}
    caps = [] if "CAP_ALL" in drop else [c for c in DEFAULT_CAPABILITIES if c not in drop]
    for c in sec.capabilities.add:
        name = _cap(c)
        if name == "CAP_ALL":
            return [c for c in ALL_CAPABILITIES if c in allowed]
        if name not in caps:
            caps.append(name)
    return [c for c in caps if c in allowed]


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def environment(config: ContainerConfig, hostname: str) -> list[str]:
    env = dict(config.envs)
    env.setdefault("PATH", DEFAULT_PATH)
    if hostname:
        env.setdefault("HOSTNAME", hostname)
    return [f"{k}={v}" for k, v in env.items()]


def _bind(dest: str, src: str, readonly: bool, propagation: str = "rprivate") -> dict[str, Any]:
    opts = ["rbind", propagation]
    if readonly:
        opts.append("ro")
    return {"destination": dest, "type": "bind", "source": src, "options": opts}


def mounts(config: ContainerConfig, paths: SandboxPaths) -> list[dict[str, Any]]:
    privileged = config.security.privileged
    sys_opts = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    out: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]
    if paths.shm:
        out.append(_bind("/dev/shm", paths.shm, False))
    else:
        out.append(
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            }
        )
    user_dests = {m.container_path for m in config.mounts}
    for dest, src in (
        ("/etc/hosts", paths.hosts),
        ("/etc/resolv.conf", paths.resolv_conf),
        ("/etc/hostname", paths.hostname),
    ):
        if src and dest not in user_dests:
            out.append(_bind(dest, src, config.security.readonly_rootfs))
    for m in config.mounts:
        out.append(
            _bind(m.container_path, m.host_path, m.readonly, "r" + m.propagation.lstrip("r"))
        )
    return out


def namespaces(sandbox: PodSandboxConfig, paths: SandboxPaths) -> list[dict[str, str]]:
    ns: list[dict[str, str]] = [{"type": "mount"}]
    if paths.pid:
        ns.append({"type": "pid", "path": paths.pid})
    elif not sandbox.host_pid:
        ns.append({"type": "pid"})
    if not sandbox.host_network:
        ns.append({"type": "network", "path": paths.netns})
        ns.append({"type": "uts", "path": paths.uts})
    if not sandbox.host_ipc:
        ns.append({"type": "ipc", "path": paths.ipc})
    return ns


def resources(config: ContainerConfig, limit_swap: bool = False) -> dict[str, Any]:
    """``limit_swap``: the host can cap swap, so a memory limit also forbids swapping (as
    containerd sets ``swap = limit``), and the OOM killer acts at the limit."""
    r = config.resources
    devices: list[dict[str, Any]] = [{"allow": config.security.privileged, "access": "rwm"}]
    out: dict[str, Any] = {"devices": devices}
    cpu: dict[str, int] = {}
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if r.cpu_quota:
        cpu["quota"] = r.cpu_quota
        cpu["period"] = r.cpu_period or 100_000
    elif r.cpu_period:
        cpu["period"] = r.cpu_period
    if cpu:
        out["cpu"] = cpu
    if r.memory_limit_in_bytes:
        out["memory"] = {"limit": r.memory_limit_in_bytes}
        if limit_swap:
            out["memory"]["swap"] = r.memory_limit_in_bytes
    return out


def build(
    config: ContainerConfig,
    sandbox: PodSandboxConfig,
    paths: SandboxPaths,
    *,
    rootfs: str,
    cgroups_path: str,
    host_capabilities: frozenset[str] | None = None,
    limit_swap: bool = False,
) -> dict[str, Any]:
    """The whole ``config.json`` for one container."""
    argv = [*config.command, *config.args]
    if not argv:
        raise ValueError(f"container {config.metadata.name!r}: no command to run")
    sec = config.security
    hostname = "" if sandbox.host_network else (sandbox.hostname or sandbox.metadata.name)
    caps = capabilities(config, host_capabilities)
    user: dict[str, Any] = {
        "uid": sec.run_as_user or 0,
        "gid": sec.run_as_group if sec.run_as_group is not None else 0,
    }
    if sec.supplemental_groups:
        user["additionalGids"] = list(sec.supplemental_groups)
    process: dict[str, Any] = {
        "terminal": config.tty,
        "user": user,
        "args": argv,
        "env": environment(config, hostname or sandbox.hostname),
        "cwd": config.working_dir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": sec.no_new_privs and not sec.privileged,
    }
    if config.resources.oom_score_adj:
        process["oomScoreAdj"] = config.resources.oom_score_adj
    linux: dict[str, Any] = {
        "namespaces": namespaces(sandbox, paths),
        "cgroupsPath": cgroups_path,
        "resources": resources(config, limit_swap),
    }
    if sandbox.sysctls:
        linux["sysctl"] = dict(sandbox.sysctls)
    if not sec.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": sec.readonly_rootfs},
        "mounts": mounts(config, paths),
        "linux": linux,
        "annotations": dict(config.annotations),
    }
    if hostname:
        spec["hostname"] = hostname
    return spec

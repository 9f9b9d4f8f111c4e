"""The Node this kubelet registers and keeps up to date: labels, capacity, addresses, nodeInfo,
conditions.

Mirrors ``pkg/kubelet/kubelet_node_status.go`` (``initialNode``, ``registerWithAPIServer``,
``tryUpdateNodeStatus``) and ``pkg/kubelet/nodestatus/setters.go`` (``NodeAddress``,
``MachineInfo``, ``VersionInfo``, ``ReadyCondition``, ``MemoryPressureCondition``,
``DiskPressureCondition``, ``PIDPressureCondition``). The machine facts are read once by
:func:`machine_info` (blocking: call it in a thread); building the objects is pure.
"""

from __future__ import annotations

import datetime
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyk8s

Obj = dict[str, Any]

ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


@dataclass(frozen=True)
class MachineInfo:
    cpus: int
    memory_bytes: int
    storage_bytes: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    architecture: str
    addresses: tuple[tuple[str, str], ...]  # (type, address)


@dataclass(frozen=True)
class Pressure:
    memory_available_bytes: int
    disk_available_bytes: int
    pids_available: int


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            out[key] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return out


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def internal_ip() -> str:
    """The address of the default route's interface (no packet is sent), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the source address
            return str(s.getsockname()[0])
        except OSError:
            pass
    return "127.0.0.1"


def machine_info(node_name: str, data_dir: Path, node_ip: str = "") -> MachineInfo:
    """What ``cadvisor`` would tell the kubelet about this machine (blocking)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    data_dir.mkdir(parents=True, exist_ok=True)
    st = os.statvfs(data_dir)
    machine_id = _read("/etc/machine-id")
    return MachineInfo(
        cpus=cpus,
        memory_bytes=_meminfo().get("MemTotal", 0),
        storage_bytes=st.f_blocks * st.f_frsize,
        machine_id=machine_id,
        system_uuid=_read("/sys/class/dmi/id/product_uuid", machine_id),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel_version=platform.release(),
        os_image=_os_image(),
        architecture=ARCH.get(platform.machine(), platform.machine()),
        addresses=(("InternalIP", node_ip or internal_ip()), ("Hostname", node_name)),
    )


def pressure(data_dir: Path) -> Pressure:
    """What is left of memory, disk and pids now (blocking; the eviction manager's signals)."""
    st = os.statvfs(data_dir)
    pid_max = int(_read("/proc/sys/kernel/pid_max", "32768") or 32768)
    running = sum(1 for e in os.listdir("/proc") if e.isdigit())
    return Pressure(
        memory_available_bytes=_meminfo().get("MemAvailable", 0),
        disk_available_bytes=st.f_bavail * st.f_frsize,
        pids_available=pid_max - running,
    )


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels(node_name: str, machine: MachineInfo, extra: dict[str, str], control_plane: bool) -> Obj:
    out = {
        "kubernetes.io/hostname": node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": machine.architecture,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": machine.architecture,
    }
    if control_plane:
        out[CONTROL_PLANE_LABEL] = "true"
    out.update(extra)
    return out


def capacity(machine: MachineInfo, max_pods: int) -> Obj:
    return {
        "cpu": str(machine.cpus),
        "memory": f"{machine.memory_bytes // 1024}Ki",
        "ephemeral-storage": f"{machine.storage_bytes // 1024}Ki",
        "pods": str(max_pods),
        "hugepages-2Mi": "0",
        "hugepages-1Gi": "0",
    }


# Eviction thresholds (upstream's hard defaults: memory.available<100Mi, nodefs.available<10%).
MEMORY_THRESHOLD = 100 * 1024 * 1024
DISK_FRACTION = 0.10
PID_THRESHOLD = 1000


def conditions(
    previous: list[Obj], machine: MachineInfo, p: Pressure, ready: bool, heartbeat: str
) -> list[Obj]:
    """The node's four conditions; ``lastTransitionTime`` moves only when the status does."""
    old = {c.get("type"): c for c in previous}

    def cond(type_: str, bad: bool, reasons: tuple[str, str], messages: tuple[str, str]) -> Obj:
        status = "True" if bad else "False"
        if type_ == "Ready":
            status = "False" if bad else "True"
        prev = old.get(type_) or {}
        transition = prev.get("lastTransitionTime") if prev.get("status") == status else None
        return {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": transition or heartbeat,
            "reason": reasons[1] if bad else reasons[0],
            "message": messages[1] if bad else messages[0],
        }

    disk_bad = p.disk_available_bytes < DISK_FRACTION * machine.storage_bytes
    return [
        cond(
            "MemoryPressure",
            p.memory_available_bytes < MEMORY_THRESHOLD,
            ("KubeletHasSufficientMemory", "KubeletHasInsufficientMemory"),
            (
                "kubelet has sufficient memory available",
                "kubelet has insufficient memory available",
            ),
        ),
        cond(
            "DiskPressure",
            disk_bad,
            ("KubeletHasNoDiskPressure", "KubeletHasDiskPressure"),
            ("kubelet has no disk pressure", "kubelet has disk pressure"),
        ),
        cond(
            "PIDPressure",
            p.pids_available < PID_THRESHOLD,
            ("KubeletHasSufficientPID", "KubeletHasInsufficientPID"),
            ("kubelet has sufficient PID available", "kubelet has insufficient PID available"),
        ),
        cond(
            "Ready",
            not ready,
            ("KubeletReady", "KubeletNotReady"),
            ("kubelet is posting ready status", "container runtime is down"),
        ),
    ]


def status(
    machine: MachineInfo,
    *,
    max_pods: int,
    runtime_version: str,
    port: int,
    conds: list[Obj],
    images: list[Obj],
) -> Obj:
    cap = capacity(machine, max_pods)
    return {
        "capacity": cap,
        "allocatable": dict(cap),
        "conditions": conds,
        "addresses": [{"type": t, "address": a} for t, a in machine.addresses],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {
            "machineID": machine.machine_id,
            "systemUUID": machine.system_uuid,
            "bootID": machine.boot_id,
            "kernelVersion": machine.kernel_version,
            "osImage": machine.os_image,
            "containerRuntimeVersion": runtime_version,
            "kubeletVersion": pyk8s.KUBERNETES_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": machine.architecture,
        },
        "images": images,
    }


def initial_node(name: str, node_labels: Obj, node_status: Obj) -> Obj:
    """``initialNode``: what the kubelet creates when it registers."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": node_labels,
            "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {},
        "status": node_status,
    }

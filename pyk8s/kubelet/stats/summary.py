"""The kubelet's ``/stats/summary``: node and pod cpu, memory and filesystem figures.

Mirrors ``pkg/kubelet/server/stats/summary.go`` (``SummaryProvider.Get``: node, its system
containers, and one entry per pod), ``pkg/kubelet/stats/cri_stats_provider.go`` (container
figures from the runtime's ``ContainerStats``; ``usageNanoCores`` from the previous sample of
the same container; pod figures as the sum of its containers; ``ephemeral-storage`` =
writable layers + logs + local volumes) and the JSON shape of
``staging/src/k8s.io/kubelet/pkg/apis/stats/v1alpha1/types.go`` (``Summary``, ``NodeStats``,
``PodStats``, ``ContainerStats``, ``CPUStats``, ``MemoryStats``, ``FsStats``, ``VolumeStats``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from pyk8s.kubelet.runtime import interface as cri
from pyk8s.kubelet.stats import host

Obj = dict[str, Any]
MIN_SAMPLE_GAP_NS = 100_000_000  # two cpu samples closer than this give no rate
SYSTEM = ("sys/kubelet", "sys/pods")
LOCAL_VOLUMES = ("empty-dir", "configmap", "secret", "projected", "downward-api")


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))


def _fs(f: host.Fs, now: str, used: int | None = None, inodes_used: int | None = None) -> Obj:
    out: Obj = {
        "time": now,
        "availableBytes": f.available,
        "capacityBytes": f.capacity,
        "usedBytes": f.used if used is None else used,
        "inodesFree": f.inodes_free,
        "inodes": f.inodes,
    }
    if inodes_used is not None:
        out["inodesUsed"] = inodes_used
    return out


def _file_usage(paths: list[str]) -> tuple[int, int]:
    used = inodes = 0
    for p in paths:
        with contextlib.suppress(OSError):
            used += os.stat(p).st_blocks * 512
            inodes += 1
    return used, inodes


def _tree_usage(top: Path) -> tuple[int, int]:
    used = inodes = 0
    for root, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                used += os.lstat(os.path.join(root, name)).st_blocks * 512
                inodes += 1
    return used, inodes


def _log_files(log_path: str) -> list[str]:
    d, base = os.path.split(log_path)
    try:
        return [os.path.join(d, n) for n in os.listdir(d) if n.startswith(base)]
    except OSError:
        return []


class SummaryProvider:
    """Builds the summary; keeps the previous cpu sample of each container and of the node."""

    def __init__(
        self,
        runtime: cri.ContainerRuntime,
        node_name: Callable[[], str],
        pods: Callable[[], list[Obj]],
        root_dir: Path,
        pods_dir: Path,
        image_fs: Callable[[], Awaitable[tuple[str, int]]],
    ) -> None:
        self.runtime = runtime
        self.node_name = node_name
        self.pods = pods
        self.root_dir = root_dir
        self.pods_dir = pods_dir
        self.image_fs = image_fs
        self._cpu: dict[str, tuple[int, int, int | None]] = {}  # key → (ts, usage, rate)
        self._new_samples = False  # a cpu figure lacked its previous sample

    def _nano_cores(self, key: str, ts: int, usage: int) -> int | None:
        """The rate since the previous sample; a sample too close to it keeps the last rate."""
        prev = self._cpu.get(key)
        if prev is None:
            self._cpu[key] = (ts, usage, None)
            self._new_samples = True
            return None
        if ts - prev[0] < MIN_SAMPLE_GAP_NS:
            return prev[2]
        rate = max(0, (usage - prev[1]) * 1_000_000_000 // (ts - prev[0]))
        self._cpu[key] = (ts, usage, rate)
        return rate

    def _cpu_stats(self, key: str, ts: int, usage: int) -> Obj:
        out: Obj = {"time": rfc3339(ts), "usageCoreNanoSeconds": usage}
        rate = self._nano_cores(key, ts, usage)
        if rate is not None:
            out["usageNanoCores"] = rate
        return out

    async def get(self) -> Obj:
        """The summary. When a cpu figure had no previous sample (the first call, a new
        container), it samples again 0.1 s later, so ``usageNanoCores`` is always there."""
        self._new_samples = False
        out = await self._collect()
        if self._new_samples:
            await asyncio.sleep(MIN_SAMPLE_GAP_NS / 1e9)
            out = await self._collect()
        return out

    async def _collect(self) -> Obj:
        now_ns = time.time_ns()
        now = rfc3339(now_ns)
        sandboxes = await self.runtime.list_pod_sandboxes()
        containers = await self.runtime.list_containers()
        running = [c for c in containers if c.state == cri.ContainerState.RUNNING]
        stats: dict[str, cri.ContainerStats] = {}
        for c in running:
            with contextlib.suppress(cri.ContainerRuntimeError):
                stats[c.id] = await self.runtime.container_stats(c.id)
        image_mount, image_used = await self.image_fs()
        node = await asyncio.to_thread(self._node_figures, image_mount)
        by_uid = {p["metadata"]["uid"]: p for p in self.pods()}
        sandbox_uid = {s.id: s.metadata.uid for s in sandboxes}
        pods: dict[str, list[tuple[cri.ContainerStatus, cri.ContainerStats]]] = {}
        for c in running:
            uid = sandbox_uid.get(c.sandbox_id, "")
            if uid in by_uid and c.id in stats:
                pods.setdefault(uid, []).append((c, stats[c.id]))
        pod_entries = []
        for uid, members in pods.items():
            pod_entries.append(
                await asyncio.to_thread(self._pod, by_uid[uid], members, node["containerFs"], now)
            )
        live = set(stats) | {f"pod/{uid}" for uid in pods}
        self._cpu = {k: v for k, v in self._cpu.items() if k in live or k in ("node", *SYSTEM)}
        return self._summary(node, pod_entries, image_used, stats, now_ns, now)

    def _node_figures(self, image_mount: str) -> Obj:
        return {
            "cpu": host.cpu(),
            "memory": host.memory(),
            "fs": host.fs(str(self.root_dir)),
            "imageFs": host.fs(image_mount),
            "containerFs": host.fs(str(self.root_dir)),
            "rlimit": host.process_counts(),
            "own": host.own_usage(),
            "boot": host.boot_time_ns(),
        }

    def _container(
        self, c: cri.ContainerStatus, s: cri.ContainerStats, fs: host.Fs, now: str
    ) -> tuple[Obj, int, int]:
        log_used, log_inodes = _file_usage(_log_files(c.log_path))
        out = {
            "name": c.metadata.name,
            "startTime": rfc3339(c.started_at or c.created_at),
            "cpu": self._cpu_stats(c.id, s.timestamp, s.cpu_usage_core_nanoseconds),
            "memory": self._memory(s),
            "rootfs": _fs(fs, now, s.writable_layer_bytes, s.writable_layer_inodes),
            "logs": _fs(fs, now, log_used, log_inodes),
        }
        return out, s.writable_layer_bytes + log_used, s.writable_layer_inodes + log_inodes

    def _memory(self, s: cri.ContainerStats) -> Obj:
        return {
            "time": rfc3339(s.timestamp),
            "usageBytes": s.memory_usage_bytes,
            "workingSetBytes": s.memory_working_set_bytes,
            "rssBytes": s.memory_rss_bytes,
            "pageFaults": s.page_faults,
            "majorPageFaults": s.major_page_faults,
        }

    def _pod(
        self,
        pod: Obj,
        members: list[tuple[cri.ContainerStatus, cri.ContainerStats]],
        fs: host.Fs,
        now: str,
    ) -> Obj:
        meta = pod["metadata"]
        containers = []
        eph_used = eph_inodes = 0
        for c, s in sorted(members, key=lambda m: m[0].metadata.name):
            entry, used, inodes = self._container(c, s, fs, now)
            containers.append(entry)
            eph_used += used
            eph_inodes += inodes
        volumes = []
        for name, path in self._volumes(meta["uid"]).items():
            used, inodes = _tree_usage(path)
            vfs = host.fs(str(path))
            volumes.append({**_fs(vfs, now, used, inodes), "name": name})
            if path.parent.name.endswith("empty-dir"):
                eph_used += used
                eph_inodes += inodes
        ts = max((s.timestamp for _, s in members), default=time.time_ns())
        cpu_total = sum(s.cpu_usage_core_nanoseconds for _, s in members)
        mem = {
            "time": rfc3339(ts),
            **{
                k: sum(self._memory(s)[k] for _, s in members)
                for k in ("usageBytes", "workingSetBytes", "rssBytes", "pageFaults",
                          "majorPageFaults")
            },
        }  # fmt: skip
        start = (pod.get("status") or {}).get("startTime") or min(
            c["startTime"] for c in containers
        )
        return {
            "podRef": {
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta["uid"],
            },
            "startTime": start,
            "containers": containers,
            "cpu": self._cpu_stats(f"pod/{meta['uid']}", ts, cpu_total),
            "memory": mem,
            "volume": volumes,
            "ephemeral-storage": _fs(fs, now, eph_used, eph_inodes),
            "process_stats": {"process_count": sum(s.pids for _, s in members)},
        }

    def _volumes(self, uid: str) -> Mapping[str, Path]:
        """``<pod dir>/volumes/kubernetes.io~<plugin>/<name>`` of the local volume plugins."""
        out: dict[str, Path] = {}
        base = self.pods_dir / uid / "volumes"
        with contextlib.suppress(OSError):
            for plugin in sorted(base.iterdir()):
                if plugin.name.removeprefix("kubernetes.io~") in LOCAL_VOLUMES:
                    for v in sorted(plugin.iterdir()):
                        out[v.name] = v
        return out

    def _summary(
        self,
        node: Obj,
        pods: list[Obj],
        image_used: int,
        stats: Mapping[str, cri.ContainerStats],
        now_ns: int,
        now: str,
    ) -> Obj:
        cpu: host.Cpu = node["cpu"]
        mem: host.Memory = node["memory"]
        own_cpu, own_rss = node["own"]
        pid_max, procs = node["rlimit"]
        writable = sum(s.writable_layer_bytes for s in stats.values())
        pods_cpu = sum(s.cpu_usage_core_nanoseconds for s in stats.values())
        pods_mem = {
            "time": now,
            "usageBytes": sum(s.memory_usage_bytes for s in stats.values()),
            "workingSetBytes": sum(s.memory_working_set_bytes for s in stats.values()),
            "rssBytes": sum(s.memory_rss_bytes for s in stats.values()),
            "pageFaults": sum(s.page_faults for s in stats.values()),
            "majorPageFaults": sum(s.major_page_faults for s in stats.values()),
            "availableBytes": max(
                0, mem.capacity - sum(s.memory_working_set_bytes for s in stats.values())
            ),
        }
        start = rfc3339(node["boot"])
        return {
            "node": {
                "nodeName": self.node_name(),
                "systemContainers": [
                    {
                        "name": "kubelet",
                        "startTime": start,
                        "cpu": self._cpu_stats("sys/kubelet", now_ns, own_cpu),
                        "memory": {
                            "time": now,
                            "usageBytes": own_rss,
                            "workingSetBytes": own_rss,
                            "rssBytes": own_rss,
                        },
                    },
                    {
                        "name": "pods",
                        "startTime": start,
                        "cpu": self._cpu_stats("sys/pods", now_ns, pods_cpu),
                        "memory": pods_mem,
                    },
                ],
                "startTime": start,
                "cpu": self._cpu_stats("node", now_ns, cpu.usage_core_ns),
                "memory": {
                    "time": now,
                    "availableBytes": mem.available,
                    "usageBytes": mem.usage,
                    "workingSetBytes": mem.working_set,
                    "rssBytes": mem.rss,
                    "pageFaults": mem.page_faults,
                    "majorPageFaults": mem.major_page_faults,
                },
                "fs": _fs(node["fs"], now),
                "runtime": {
                    "imageFs": _fs(node["imageFs"], now, image_used),
                    "containerFs": _fs(node["containerFs"], now, writable),
                },
                "rlimit": {"time": now, "maxpid": pid_max, "curproc": procs},
            },
            "pods": sorted(pods, key=lambda p: (p["podRef"]["namespace"], p["podRef"]["name"])),
        }

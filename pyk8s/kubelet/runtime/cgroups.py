"""cgroup v1 and v2 helpers: where a cgroup lives, its OOM kills, its usage, and removal.

runc creates and fills the container cgroups from the OCI spec (``linux.cgroupsPath``,
``linux.resources``); this module only reads them and removes what is left behind. It mirrors
the parts of ``pkg/kubelet/cm/cgroup_manager_linux.go`` (``CgroupManager``: paths per
hierarchy, ``Destroy``) and of cAdvisor/containerd's stats (``memory.events`` ``oom_kill``,
working set = usage - inactive_file) that the runtime needs.

Every function blocks (sysfs I/O): call it from a thread or from the shim.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Hierarchy:
    mountpoint: Path
    root: str  # the mount's root inside the hierarchy ("/" normally)
    controllers: frozenset[str]  # {"unified"} for cgroup2

    def path(self, cgroup: str) -> Path:
        rel = cgroup.lstrip("/")
        if self.root not in ("", "/") and cgroup.startswith(self.root):
            rel = cgroup[len(self.root) :].lstrip("/")
        return self.mountpoint / rel


def hierarchies() -> list[Hierarchy]:
    """Every mounted cgroup hierarchy (v1 controllers, named ones, and the unified one)."""
    out: list[Hierarchy] = []
    seen: set[frozenset[str]] = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            fstype, _source, superopts = right.split()[:3]
            if fstype not in ("cgroup", "cgroup2"):
                continue
            if fstype == "cgroup2":
                ctrls = frozenset({"unified"})
            else:
                ctrls = frozenset(
                    o for o in superopts.split(",") if o not in ("rw", "ro") and "=" not in o
                ) | frozenset(o for o in superopts.split(",") if o.startswith("name="))
            if ctrls in seen:
                continue
            seen.add(ctrls)
            out.append(Hierarchy(Path(fields[4]), fields[3], ctrls))
    return out


def is_v2() -> bool:
    """True on a pure cgroup2 host (what runc calls unified mode)."""
    return any(h.mountpoint == CGROUP_ROOT and "unified" in h.controllers for h in hierarchies())


def _find(controller: str) -> Hierarchy | None:
    hs = hierarchies()
    for h in hs:
        if controller in h.controllers:
            return h
    for h in hs:
        if h.mountpoint == CGROUP_ROOT and "unified" in h.controllers:
            return h
    return None


def _read_kv(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[k] = int(v)
    return out


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def oom_kill_count(cgroup: str) -> int:
    """How many processes of ``cgroup`` the OOM killer killed (v2 ``memory.events``, v1
    ``memory.oom_control``)."""
    h = _find("memory")
    if h is None:
        return 0
    d = h.path(cgroup)
    if "unified" in h.controllers:
        return _read_kv(d / "memory.events").get("oom_kill", 0)
    return _read_kv(d / "memory.oom_control").get("oom_kill", 0)


@dataclass(frozen=True)
class Usage:
    cpu_ns: int
    memory_usage: int
    memory_working_set: int
    pids: int


def usage(cgroup: str) -> Usage:
    mem = _find("memory")
    cpu = _find("cpuacct") or _find("cpu")
    pids_h = _find("pids")
    cpu_ns = mem_usage = inactive = npids = 0
    if cpu is not None:
        if "unified" in cpu.controllers:
            cpu_ns = _read_kv(cpu.path(cgroup) / "cpu.stat").get("usage_usec", 0) * 1000
        else:
            cpu_ns = _read_int(cpu.path(cgroup) / "cpuacct.usage")
    if mem is not None:
        d = mem.path(cgroup)
        if "unified" in mem.controllers:
            mem_usage = _read_int(d / "memory.current")
            inactive = _read_kv(d / "memory.stat").get("inactive_file", 0)
        else:
            mem_usage = _read_int(d / "memory.usage_in_bytes")
            inactive = _read_kv(d / "memory.stat").get("total_inactive_file", 0)
    if pids_h is not None:
        npids = _read_int(pids_h.path(cgroup) / "pids.current")
    return Usage(cpu_ns, mem_usage, max(0, mem_usage - inactive), npids)


def _kill_procs(d: Path) -> None:
    if (d / "cgroup.kill").exists():
        with contextlib.suppress(OSError):
            (d / "cgroup.kill").write_text("1")
        return
    try:
        pids = (d / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def remove(cgroup: str, deadline: float = 5.0) -> None:
    """Remove ``cgroup`` and everything below it in every hierarchy, killing what still runs
    there. Missing directories are fine."""
    if cgroup.strip("/") == "":
        raise ValueError("refusing to remove the root cgroup")
    for h in hierarchies():
        top = h.path(cgroup)
        if not top.is_dir():
            continue
        dirs = [Path(root) for root, _, _ in os.walk(top)]
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            end = time.monotonic() + deadline
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > end:
                        raise
                    _kill_procs(d)
                    time.sleep(0.02)

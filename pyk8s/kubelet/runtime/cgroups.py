"""cgroup v1 and v2 helpers: where a cgroup lives, its OOM kills, its usage, and removal.

runc creates and fills the container cgroups from the OCI spec (``linux.cgroupsPath``,
``linux.resources``); this module only reads them and removes what is left behind. It mirrors
the parts of ``pkg/kubelet/cm/cgroup_manager_linux.go`` (``CgroupManager``: paths per
hierarchy, ``Destroy``) and of cAdvisor/containerd's stats (``memory.events`` ``oom_kill``,
working set = usage - inactive_file) that the runtime needs.

Every function blocks (sysfs I/O): call it from a thread or from the shim. The shim imports
this module at every container start, so it keeps to cheap imports (no dataclasses, pathlib).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from typing import NamedTuple

CGROUP_ROOT = "/sys/fs/cgroup"
MOUNTINFO = "/proc/self/mountinfo"


class Hierarchy(NamedTuple):
    mountpoint: str
    root: str  # the mount's root inside the hierarchy ("/" normally)
    controllers: frozenset[str]  # {"unified"} for cgroup2

    def path(self, cgroup: str) -> str:
        rel = cgroup.lstrip("/")
        if self.root not in ("", "/") and cgroup.startswith(self.root):
            rel = cgroup[len(self.root) :].lstrip("/")
        return os.path.join(self.mountpoint, rel)


def hierarchies(mountinfo: str = MOUNTINFO) -> list[Hierarchy]:
    """Every mounted cgroup hierarchy (v1 controllers, named ones, and the unified one).
    ``mountinfo`` is a parameter so tests can describe a fake cgroupfs."""
    out: list[Hierarchy] = []
    seen: set[frozenset[str]] = set()
    with open(mountinfo) as f:
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
            out.append(Hierarchy(fields[4], fields[3], ctrls))
    return out


def is_v2(hs: list[Hierarchy] | None = None) -> bool:
    """True on a pure cgroup2 host (what runc calls unified mode): the unified hierarchy
    and no v1 controller hierarchy."""
    hs = hierarchies() if hs is None else hs
    unified = any("unified" in h.controllers for h in hs)
    v1 = any(c for h in hs for c in h.controllers if c != "unified" and not c.startswith("name="))
    return unified and not v1


def _find(controller: str, hs: list[Hierarchy] | None = None) -> Hierarchy | None:
    """The hierarchy of a v1 controller, else the unified one (v2, or hybrid with v1 lacking
    that controller)."""
    hs = hierarchies() if hs is None else hs
    for h in hs:
        if controller in h.controllers:
            return h
    for h in hs:
        if "unified" in h.controllers and (h.mountpoint == CGROUP_ROOT or is_v2(hs)):
            return h
    return None


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _read_kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = _read(path)
    except OSError:
        return out
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[k] = int(v)
    return out


def _read_int(path: str) -> int:
    try:
        return int(_read(path).split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def oom_kill_count(cgroup: str, hs: list[Hierarchy] | None = None) -> int:
    """How many processes of ``cgroup`` the OOM killer killed (v2 ``memory.events``, v1
    ``memory.oom_control``)."""
    h = _find("memory", hs)
    if h is None:
        return 0
    d = h.path(cgroup)
    name = "memory.events" if "unified" in h.controllers else "memory.oom_control"
    return _read_kv(os.path.join(d, name)).get("oom_kill", 0)


class Usage(NamedTuple):
    cpu_ns: int
    memory_usage: int
    memory_working_set: int
    pids: int
    memory_rss: int = 0
    page_faults: int = 0
    major_page_faults: int = 0


def usage(cgroup: str, hs: list[Hierarchy] | None = None) -> Usage:
    """What cAdvisor reports for a cgroup: cpu time, memory usage and working set (usage
    less inactive file pages), rss (v1 ``total_rss``, v2 ``anon``), page faults, pids."""
    hs = hierarchies() if hs is None else hs
    mem = _find("memory", hs)
    cpu = _find("cpuacct", hs) or _find("cpu", hs)
    pids_h = _find("pids", hs)
    cpu_ns = mem_usage = inactive = npids = rss = faults = major = 0
    if cpu is not None:
        if "unified" in cpu.controllers:
            stat = os.path.join(cpu.path(cgroup), "cpu.stat")
            cpu_ns = _read_kv(stat).get("usage_usec", 0) * 1000
        else:
            cpu_ns = _read_int(os.path.join(cpu.path(cgroup), "cpuacct.usage"))
    if mem is not None:
        d = mem.path(cgroup)
        if "unified" in mem.controllers:
            mem_usage = _read_int(os.path.join(d, "memory.current"))
            mstat = _read_kv(os.path.join(d, "memory.stat"))
            inactive = mstat.get("inactive_file", 0)
            rss = mstat.get("anon", 0)
            faults, major = mstat.get("pgfault", 0), mstat.get("pgmajfault", 0)
        else:
            mem_usage = _read_int(os.path.join(d, "memory.usage_in_bytes"))
            mstat = _read_kv(os.path.join(d, "memory.stat"))
            inactive = mstat.get("total_inactive_file", 0)
            rss = mstat.get("total_rss", 0)
            faults, major = mstat.get("total_pgfault", 0), mstat.get("total_pgmajfault", 0)
    if pids_h is not None:
        npids = _read_int(os.path.join(pids_h.path(cgroup), "pids.current"))
    return Usage(cpu_ns, mem_usage, max(0, mem_usage - inactive), npids, rss, faults, major)


def _kill_procs(d: str) -> None:
    kill_file = os.path.join(d, "cgroup.kill")
    if os.path.exists(kill_file):
        with contextlib.suppress(OSError), open(kill_file, "w") as f:
            f.write("1")
        return
    try:
        pids = _read(os.path.join(d, "cgroup.procs")).split()
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def remove(cgroup: str, deadline: float = 5.0, hs: list[Hierarchy] | None = None) -> None:
    """Remove ``cgroup`` and everything below it in every hierarchy, killing what still runs
    there (v2 ``cgroup.kill`` when there is one). Missing directories are fine."""
    if cgroup.strip("/") == "":
        raise ValueError("refusing to remove the root cgroup")
    for h in hierarchies() if hs is None else hs:
        top = h.path(cgroup)
        if not os.path.isdir(top):
            continue
        dirs = [root for root, _, _ in os.walk(top)]
        for d in sorted(dirs, key=lambda p: p.count("/"), reverse=True):
            end = time.monotonic() + deadline
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > end:
                        raise
                    _kill_procs(d)
                    time.sleep(0.02)

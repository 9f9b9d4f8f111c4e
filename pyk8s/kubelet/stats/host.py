"""The node's own figures for the summary API: cpu, memory, filesystems, processes.

Mirrors what cAdvisor reports for the root container and what
``pkg/kubelet/stats/helper.go`` / ``provider.go`` make of it (working set = usage less
inactive file pages; available = capacity less working set), read from ``/proc`` and
``statvfs``. Every function blocks: call it from a thread.
"""

from __future__ import annotations

import os
from typing import NamedTuple

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


class Cpu(NamedTuple):
    usage_core_ns: int


class Memory(NamedTuple):
    capacity: int
    usage: int
    working_set: int
    available: int
    rss: int
    page_faults: int
    major_page_faults: int


class Fs(NamedTuple):
    capacity: int
    available: int
    used: int
    inodes: int
    inodes_free: int


def _kv(path: str, scale_kb: bool) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.replace(":", " ", 1).partition(" ")
            parts = rest.split()
            if parts and parts[0].isdigit():
                mult = 1024 if scale_kb and len(parts) > 1 and parts[1] == "kB" else 1
                out[key] = int(parts[0]) * mult
    return out


def cpu(proc: str = "/proc") -> Cpu:
    """Time spent by all cpus outside idle and iowait (the first line of ``/proc/stat``)."""
    with open(f"{proc}/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    ticks = user + nice + system + irq + softirq + steal
    return Cpu(ticks * 1_000_000_000 // CLOCK_TICK)


def memory(proc: str = "/proc") -> Memory:
    info = _kv(f"{proc}/meminfo", scale_kb=True)
    vm = _kv(f"{proc}/vmstat", scale_kb=False)
    total = info.get("MemTotal", 0)
    usage = total - info.get("MemFree", 0)
    working_set = max(0, usage - info.get("Inactive(file)", 0))
    return Memory(
        capacity=total,
        usage=usage,
        working_set=working_set,
        available=max(0, total - working_set),
        rss=info.get("AnonPages", 0),
        page_faults=vm.get("pgfault", 0),
        major_page_faults=vm.get("pgmajfault", 0),
    )


def fs(path: str, used: int | None = None) -> Fs:
    """The filesystem holding ``path``; ``used`` defaults to what is used on it in all."""
    st = os.statvfs(path)
    capacity = st.f_blocks * st.f_frsize
    available = st.f_bavail * st.f_frsize
    if used is None:
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return Fs(capacity, available, used, st.f_files, st.f_ffree)


def process_counts(proc: str = "/proc") -> tuple[int, int]:
    """(``pid_max``, processes running now): the summary's ``rlimit``."""
    with open(f"{proc}/sys/kernel/pid_max") as f:
        pid_max = int(f.read().strip())
    running = sum(1 for e in os.listdir(proc) if e.isdigit())
    return pid_max, running


def own_usage(proc: str = "/proc") -> tuple[int, int]:
    """This process's (cpu ns, rss bytes): the ``kubelet`` system container."""
    with open(f"{proc}/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_ns = (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLOCK_TICK
    rss = _kv(f"{proc}/self/status", scale_kb=True).get("VmRSS", 0)
    return cpu_ns, rss


def boot_time_ns(proc: str = "/proc") -> int:
    return _kv(f"{proc}/stat", scale_kb=False).get("btime", 0) * 1_000_000_000

"""Remove everything one cluster's node agent put on this host, and nothing else.

The ``k3s-killall.sh`` of pyk8s: kills every runc container and shim of the cluster, unmounts
its root filesystems, pod namespaces and shm mounts, deletes its network namespaces and cgroups.
Selection is by the cluster's prefix (:mod:`.naming`), so another cluster on the same machine
is untouched. :func:`leftovers` lists what remains, for tests and for the CLI's report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from pathlib import Path

from pyk8s.kubelet.network import bridge
from pyk8s.kubelet.runtime import cgroups, command
from pyk8s.kubelet.runtime.naming import NETNS_DIR, run_dir

SHIM_MODULE = b"pyk8s.kubelet.runtime.shim"
PIDNS_MODULE = b"pyk8s.kubelet.runtime.pidns"


def _mountpoints() -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # Mount points escape spaces as \040; ours never contain any.
            out.append(line.split()[4])
    return out


def _owned_mounts(prefix: str, data_dir: Path | None) -> list[str]:
    roots = [str(run_dir(prefix)) + "/"]
    if data_dir is not None:
        roots.append(os.path.normpath(os.path.join(os.getcwd(), data_dir)) + "/")
    netns = str(NETNS_DIR) + "/" + prefix + "-"
    found = [
        m for m in _mountpoints() if m.startswith(netns) or any(m.startswith(r) for r in roots)
    ]
    return sorted(set(found), key=len, reverse=True)


def _netns_names(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix + "-"))
    except FileNotFoundError:
        return []


def _shim_pids(prefix: str) -> list[int]:
    root = str(run_dir(prefix) / "runc").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a == SHIM_MODULE for a in argv) and root in argv:
            pids.append(int(entry))
    return pids


def _pidns_holder_pids(prefix: str) -> list[int]:
    """Pid-namespace holders of the cluster's sandboxes (their ids carry the prefix)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if PIDNS_MODULE in argv and any(a.startswith(prefix.encode() + b"-") for a in argv):
            pids.append(int(entry))
    return pids


def _cgroup_dirs(prefix: str) -> list[str]:
    dirs = [h.path("/" + prefix) for h in cgroups.hierarchies()]
    return [d for d in dirs if os.path.isdir(d)]


def leftovers(prefix: str, data_dir: Path | None = None) -> list[str]:
    """Human-readable list of what of cluster ``prefix`` is still on the host (blocking)."""
    out = [f"mount {m}" for m in _owned_mounts(prefix, data_dir)]
    out += [f"netns {n}" for n in _netns_names(prefix)]
    out += [f"link {n}" for n in bridge.host_links(prefix)]
    out += [f"cgroup {d}" for d in _cgroup_dirs(prefix)]
    out += [f"shim pid {p}" for p in _shim_pids(prefix)]
    out += [f"pid namespace holder {p}" for p in _pidns_holder_pids(prefix)]
    root = run_dir(prefix) / "runc"
    if root.is_dir():
        out += [f"runc container {d.name}" for d in root.iterdir() if d.is_dir()]
    return out


async def killall(prefix: str, data_dir: Path | None = None, runc: str = "runc") -> None:
    """Kill and remove every container, mount, netns and cgroup of cluster ``prefix``.

    With ``data_dir``, mounts below it (volumes) are removed too; the data itself is kept.
    Stop the cluster's kubelet first (as ``k3s-killall.sh`` stops k3s): a running kubelet
    recreates what this removes.
    """
    if not prefix or "/" in prefix:
        raise ValueError(f"bad cluster prefix {prefix!r}")
    root = run_dir(prefix) / "runc"
    if await asyncio.to_thread(root.is_dir):
        runc_cmd = (runc, "--root", str(root))
        out = await command.run(*runc_cmd, "list", "--format", "json", check=False)
        with contextlib.suppress(ValueError):
            for entry in json.loads(out or "null") or []:
                cid = entry["id"]
                await command.run(*runc_cmd, "kill", "--all", cid, "KILL", check=False)
                await command.run(*runc_cmd, "delete", "--force", cid, check=False)
    holders = await asyncio.to_thread(_pidns_holder_pids, prefix)
    for pid in holders + await asyncio.to_thread(_shim_pids, prefix):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for name in await asyncio.to_thread(_netns_names, prefix):
        await command.run("ip", "netns", "delete", name, check=False)
    for mount in await asyncio.to_thread(_owned_mounts, prefix, data_dir):
        await command.run("umount", mount, check=False)
    for mount in await asyncio.to_thread(_owned_mounts, prefix, data_dir):
        await command.run("umount", "-l", mount, check=False)
    for name in await asyncio.to_thread(_netns_names, prefix):
        # EBUSY while a still-running kubelet of that cluster recreates pods: carry on,
        # leftovers() reports what stayed.
        with contextlib.suppress(OSError):
            await asyncio.to_thread(os.unlink, NETNS_DIR / name)
    await bridge.cleanup(prefix, data_dir)  # the pod network's bridge, veths and addresses
    await asyncio.to_thread(cgroups.remove, "/" + prefix)
    await asyncio.to_thread(_remove_run_dir, prefix)


def _remove_run_dir(prefix: str) -> None:
    # Never recurse into something still mounted (a hostPath bind would lose its data);
    # leftovers() names what stayed.
    if not _owned_mounts(prefix, None):
        shutil.rmtree(run_dir(prefix), ignore_errors=True)

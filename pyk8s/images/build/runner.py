"""Run one build step (a ``RUN``) in runc, on an overlayfs of the image so far.

The overlay is mounted inside a private mount namespace (``unshare --mount``) that also runs
``runc run``, so the mount goes away with the step however it ends. The container shares the
host's network (as ``docker build`` does by default) with the host's ``resolv.conf`` and
``hosts`` bound read-only; it gets its own PID, IPC, UTS and mount namespaces and docker's
default capabilities. The overlay's upper dir is the step's layer. Mirrors moby/buildkit
``executor/runcexecutor/executor.go`` and ``executor/oci/spec.go``.

Blocks: call it from a thread.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

RUNC_ROOT = Path("/run/pyk8s/build-runc")
CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]  # fmt: skip
# Files and dirs runc creates in the rootfs only to mount over them; not part of the layer.
MOUNTPOINTS = ("etc/resolv.conf", "etc/hosts", "proc", "dev", "sys")


class RunError(RuntimeError):
    pass


def spec(
    rootfs: Path, argv: list[str], env: list[str], cwd: str, uid: int, gid: int, gids: list[int]
) -> dict[str, Any]:
    user: dict[str, Any] = {"uid": uid, "gid": gid}
    if gids:
        user["additionalGids"] = gids
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": user,
            "args": argv,
            "env": env,
            "cwd": cwd or "/",
            "capabilities": {k: CAPS for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": "buildkitsandbox",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf",
             "options": ["rbind", "ro"]},
            {"destination": "/etc/hosts", "type": "bind", "source": "/etc/hosts",
             "options": ["rbind", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ],
        },
    }  # fmt: skip


def run(
    lowers: list[Path],
    work: Path,
    argv: list[str],
    env: list[str],
    cwd: str,
    uid: int,
    gid: int,
    gids: list[int],
    output: Callable[[str], None],
) -> tuple[int, Path]:
    """Run ``argv``; returns (exit code, upper dir holding the changes)."""
    upper, ovl, merged, bundle = work / "upper", work / "ovl", work / "merged", work / "bundle"
    for d in (upper, ovl, merged, bundle):
        d.mkdir(parents=True, exist_ok=True)
    if not lowers:
        empty = work / "empty"
        empty.mkdir(exist_ok=True)
        lowers = [empty]
    (bundle / "config.json").write_text(json.dumps(spec(merged, argv, env, cwd, uid, gid, gids)))
    RUNC_ROOT.mkdir(parents=True, exist_ok=True)
    ident = "pyk8s-build-" + secrets.token_hex(6)
    lowerdir = ":".join(str(p) for p in reversed(lowers))  # top layer first
    opts = f"lowerdir={lowerdir},upperdir={upper},workdir={ovl}"
    root, b = shlex.quote(str(RUNC_ROOT)), shlex.quote(str(bundle))
    script = (
        "set -e\n"
        f"mount -t overlay overlay -o {shlex.quote(opts)} {shlex.quote(str(merged))}\n"
        f"exec runc --root {root} run --bundle {b} {ident}\n"
    )
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            output(raw.decode(errors="replace").rstrip("\n"))
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(
            ["runc", "--root", str(RUNC_ROOT), "delete", "--force", ident],
            capture_output=True, check=False,
        )  # fmt: skip
    _drop_mountpoints(upper, lowers)
    return code, upper


def _drop_mountpoints(upper: Path, lowers: list[Path]) -> None:
    """Remove what runc made only to mount over, when no lower layer has it."""
    for rel in MOUNTPOINTS:
        p = upper / rel
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        if any(os.path.lexists(lower / rel) for lower in lowers):
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            p.unlink()
        elif stat.S_ISDIR(st.st_mode) and not any(p.iterdir()):
            p.rmdir()

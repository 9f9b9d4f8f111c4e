"""Writes a volume's files so that a reader sees the old set or the new set, never a mix.

Mirrors ``pkg/volume/util/atomic_writer.go``: the payload goes into a fresh hidden directory
``..<timestamp>``, the symlink ``..data`` is swapped to it with one rename, and every visible
file is a symlink through ``..data``; files that left the payload are removed. Because a
container bind-mounts the whole directory, it sees updates (the reason configMap and secret
volumes follow their objects, and subPath mounts of them do not). Blocking.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

DATA = "..data"


class File:
    __slots__ = ("content", "mode")

    def __init__(self, content: bytes, mode: int = 0o644) -> None:
        self.content = content
        self.mode = mode


def _current(target: Path) -> dict[str, tuple[bytes, int]]:
    data = target / DATA
    out: dict[str, tuple[bytes, int]] = {}
    if not data.is_symlink():
        return out
    base = target / os.readlink(data)
    for root, _, files in os.walk(base):
        for f in files:
            p = Path(root) / f
            out[str(p.relative_to(base))] = (p.read_bytes(), p.stat().st_mode & 0o7777)
    return out


def write(target: Path, payload: Mapping[str, File]) -> bool:
    """Make ``target`` show exactly ``payload``; False when it already did."""
    for name in payload:
        if name.startswith("..") or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"invalid file name {name!r} in volume payload")
    target.mkdir(parents=True, exist_ok=True)
    wanted = {k: (v.content, v.mode) for k, v in payload.items()}
    if (target / DATA).is_symlink() and _current(target) == wanted:
        return False
    old = os.readlink(target / DATA) if (target / DATA).is_symlink() else None
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.") + f"{time.time_ns() % 10**9:09d}"
    new_dir = target / stamp
    new_dir.mkdir()
    for name, f in payload.items():
        p = new_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f.content)
        p.chmod(f.mode)
    tmp_link = target / "..data_tmp"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(stamp)
    tmp_link.rename(target / DATA)
    tops = {name.split("/", 1)[0] for name in payload}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            link.symlink_to(f"{DATA}/{top}")
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in tops:
            if entry.is_symlink() or entry.is_file():
                entry.unlink()
            else:
                shutil.rmtree(entry)
    if old is not None and old != stamp:
        shutil.rmtree(target / old, ignore_errors=True)
    return True

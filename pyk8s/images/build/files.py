"""Files into a layer tree for COPY and ADD: sources from the context or another stage,
owners, modes, parent dirs as the image has them, local tar extraction (moby
``builder/dockerfile/copy.go``)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

from pyk8s.images import layers
from pyk8s.images.build import dockerignore


def mkdirs(tree: Path, path: str, lowers: list[Path]) -> None:
    """Create ``path`` in ``tree`` with each directory's mode and owner as the image has it."""
    cur = tree
    rel = ""
    for part in [p for p in path.strip("/").split("/") if p]:
        cur = cur / part
        rel = f"{rel}/{part}"
        if cur.is_dir() and not cur.is_symlink():
            continue
        existing = layers.lookup(lowers, rel)
        cur.mkdir()
        if existing is not None and existing.is_dir():
            st = existing.stat()
            os.chmod(cur, stat.S_IMODE(st.st_mode))
            os.lchown(cur, st.st_uid, st.st_gid)
            os.utime(cur, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            os.chmod(cur, 0o755)


def copy_one(
    src: Path, target: Path, owner: tuple[int, int] | None, chmod: int | None, keep: bool = False
) -> None:
    """Copy one file or symlink; owner ``owner``, else the source's (``keep``), else root."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        layers.remove_tree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    if src.is_symlink():
        os.symlink(os.readlink(src), target)
    else:
        shutil.copy2(src, target, follow_symlinks=False)
        if chmod is not None:
            os.chmod(target, chmod)
    if owner is not None:
        os.lchown(target, *owner)
    elif keep:
        st = os.lstat(src)
        os.lchown(target, st.st_uid, st.st_gid)
    else:
        # COPY from the context: files belong to root, as docker makes them.
        os.lchown(target, 0, 0)


def copy_tree(
    src: Path,
    target: Path,
    root: Path,
    ignore: dockerignore.Matcher | None,
    owner: tuple[int, int] | None,
    chmod: int | None,
    keep: bool = False,
) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        out_dir = target if rel_dir == "." else target / rel_dir
        keep_dirs = []
        for d in sorted(dirnames):
            full = Path(dirpath, d)
            ctx_rel = os.path.relpath(full, root)
            if (
                ignore is not None
                and ignore.excluded(ctx_rel)
                and not ignore.may_contain_included(ctx_rel)
            ):
                continue
            if full.is_symlink():
                copy_one(full, out_dir / d, owner, None, keep)
                continue
            (out_dir / d).mkdir(parents=True, exist_ok=True)
            st = full.stat()
            os.chmod(out_dir / d, stat.S_IMODE(st.st_mode) if chmod is None else chmod)
            os.lchown(out_dir / d, *(owner or ((st.st_uid, st.st_gid) if keep else (0, 0))))
            keep_dirs.append(d)
        dirnames[:] = keep_dirs
        for f in sorted(filenames):
            full = Path(dirpath, f)
            if ignore is not None and ignore.excluded(os.path.relpath(full, root)):
                continue
            copy_one(full, out_dir / f, owner, chmod, keep)


def hash_sources(sources: list[tuple[Path, str]], root: Path) -> str:
    h = hashlib.sha256()
    for src, rel in sources:
        for p in [src] if not src.is_dir() or src.is_symlink() else sorted(walk(src)):
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, root)}\0{st.st_mode}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
        h.update(rel.encode() + b"\0")
    return h.hexdigest()


def walk(top: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            yield Path(dirpath, n)


def is_archive(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def extract(src: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(src) as tar:
        tar.extractall(target, filter="tar")


def copy_out(lowers: list[Path], srcs: list[str], staging: Path) -> None:
    """Copy ``srcs`` out of the merged view of ``lowers`` (``COPY --from``) into ``staging``."""
    if not lowers:
        raise ValueError("COPY --from a scratch stage: nothing to copy")
    if len(lowers) == 1:
        script = ""
        root = str(lowers[0])
    else:
        root = str(staging) + ".mnt"
        os.mkdir(root)
        lowerdir = ":".join(str(p) for p in reversed(lowers))
        script = (
            f"mount -t overlay overlay -o ro,lowerdir={shlex.quote(lowerdir)} {shlex.quote(root)}\n"
        )
    for s in srcs:
        src, dst = shlex.quote(s or "."), shlex.quote(str(staging))
        script += f"cd {shlex.quote(root)} && cp -a --parents -- {src} {dst}\n"
    p = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if root.endswith(".mnt"):
        os.rmdir(root)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        raise ValueError(f"COPY --from: {lines[-1] if lines else 'copy failed'}")

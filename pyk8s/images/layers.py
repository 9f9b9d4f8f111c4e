"""Layers: unpack a layer blob into a directory that is an overlayfs lower dir, and write a
directory (a plain tree, or an overlayfs upper dir) back into a layer blob.

Unpacked form (``layers/sha256/<diff-id hex>/fs``), as containerd's overlay snapshotter keeps it
(``archive/tar.go`` ``applyNaive`` with the overlay ``convertWhiteout``):

- a whiteout ``.wh.NAME`` in the tar becomes a character device 0/0 named ``NAME``;
- an opaque marker ``.wh..wh..opq`` becomes the xattr ``trusted.overlay.opaque=y`` on its dir.

Both need root (mknod, trusted.* xattrs). Unpacked without root, the ``.wh.`` files stay as
they are in the tar and ``meta.json`` says ``"whiteouts": "docker"``; only the root form can be
mounted. Writing goes the other way (a 0/0 char device or opaque dir becomes ``.wh.`` entries).

The uncompressed stream is hashed while tar unpacks it and must equal the config's diff_id,
else nothing is kept. Everything here blocks: call it from a thread.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import orjson

from pyk8s.images import blobs

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
CHUNK = 1 << 20


class LayerError(RuntimeError):
    """A layer that cannot be unpacked (bad tar, wrong diff_id, tar failed)."""


@dataclass(frozen=True)
class LayerInfo:
    diff_id: str
    size: int
    whiteouts: str  # "overlay" or "docker"


def compression_of(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return ""


def _chunks(src: Path) -> Iterator[bytes]:
    """The uncompressed bytes of a layer blob, whatever its compression."""
    with src.open("rb") as f:
        head = f.read(4)
        f.seek(0)
        kind = compression_of(head)
        if kind == "gzip":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while chunk := f.read(CHUNK):
                while chunk:
                    out = d.decompress(chunk)
                    if out:
                        yield out
                    chunk = b""
                    if d.eof:  # concatenated gzip members
                        chunk = d.unused_data
                        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        if not chunk:
                            break
            tail = d.flush()
            if tail:
                yield tail
        elif kind == "zstd":
            proc = subprocess.Popen(["zstd", "-dcq", "--", str(src)], stdout=subprocess.PIPE)
            assert proc.stdout is not None
            try:
                while chunk := proc.stdout.read(CHUNK):
                    yield chunk
            finally:
                proc.stdout.close()
                if proc.wait() != 0:
                    raise LayerError(f"zstd failed to decompress {src.name}")
        else:
            while chunk := f.read(CHUNK):
                yield chunk


def unpack(src: Path, dest: Path, expected_diff_id: str, tmp_root: Path) -> LayerInfo:
    """Unpack layer blob ``src`` into ``dest`` (``dest/fs`` + ``dest/meta.json``) atomically."""
    root = os.geteuid() == 0
    work = Path(tempfile.mkdtemp(prefix="layer-", dir=tmp_root))
    try:
        fs = work / "fs"
        fs.mkdir(mode=0o755)
        cmd = ["tar", "-x", "-f", "-", "-C", str(fs), "--numeric-owner"]
        cmd += ["--warning=no-unknown-keyword", "--warning=no-timestamp"]
        if root:
            cmd += ["--same-owner", "-p", "--xattrs", "--xattrs-include=*"]
            cmd += ["--xattrs-exclude=trusted.overlay.*"]
        else:
            cmd += ["--no-same-owner"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stderr is not None
        h = hashlib.sha256()
        size = 0
        broken = False
        try:
            for chunk in _chunks(src):
                h.update(chunk)
                size += len(chunk)
                if not broken:
                    try:
                        proc.stdin.write(chunk)
                    except BrokenPipeError:
                        broken = True  # tar stops at the end-of-archive blocks
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        except (zlib.error, OSError) as e:
            proc.kill()
            proc.wait()
            raise LayerError(f"cannot read layer {src.name}: {e}") from None
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        if proc.wait() != 0:
            raise LayerError(f"tar failed on layer {src.name}: {err}")
        diff_id = "sha256:" + h.hexdigest()
        if expected_diff_id and diff_id != expected_diff_id:
            raise LayerError(
                f"layer {src.name} unpacks to {diff_id}, but the config says {expected_diff_id}"
            )
        whiteouts = "docker"
        if root:
            convert_whiteouts(fs)
            whiteouts = "overlay"
        info = LayerInfo(diff_id, size, whiteouts)
        (work / "meta.json").write_bytes(
            orjson.dumps({"diff_id": diff_id, "size": size, "whiteouts": whiteouts})
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(work, dest)
        except OSError:
            if not (dest / "meta.json").exists():
                raise
        return info
    finally:
        if work.exists():
            remove_tree(work)


def adopt(tree: Path, dest: Path, info: LayerInfo, tmp_root: Path) -> None:
    """Keep ``tree`` (already in unpacked form) as the unpacked layer ``dest``, moving it."""
    if read_meta(dest) is not None:
        remove_tree(tree)
        return
    work = Path(tempfile.mkdtemp(prefix="layer-", dir=tmp_root))
    try:
        os.rename(tree, work / "fs")
        (work / "meta.json").write_bytes(
            orjson.dumps({"diff_id": info.diff_id, "size": info.size, "whiteouts": info.whiteouts})
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(work, dest)
        except OSError:
            if read_meta(dest) is None:
                raise
    finally:
        if work.exists():
            remove_tree(work)


def lookup(lowers: list[Path], rel: str) -> Path | None:
    """Where ``rel`` is in the merged view of ``lowers`` (bottom first), as overlayfs resolves
    it: the top layer that has it, unless a whiteout or an opaque dir above hides it."""
    parts = [p for p in rel.strip("/").split("/") if p]
    if not parts:
        return lowers[-1] if lowers else None
    for layer in reversed(lowers):
        cur = layer
        opaque = False
        for i, part in enumerate(parts):
            cur = cur / part
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                if opaque:  # an opaque dir on the way hides the layers below
                    return None
                break
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None
            if i == len(parts) - 1:
                return cur
            if not stat.S_ISDIR(st.st_mode):
                return None
            opaque = opaque or _is_opaque(str(cur))
    return None


def convert_whiteouts(fs: Path) -> None:
    """Turn docker's ``.wh.`` files into overlayfs whiteouts, in place (root only)."""
    for dirpath, dirnames, filenames in os.walk(fs):
        for name in [*filenames, *dirnames]:
            if not name.startswith(WHITEOUT_PREFIX):
                continue
            path = os.path.join(dirpath, name)
            if name == OPAQUE:
                os.setxattr(dirpath, OPAQUE_XATTR, b"y")
                _remove(path)
                continue
            target = os.path.join(dirpath, name[len(WHITEOUT_PREFIX) :])
            _remove(path)
            if os.path.lexists(target):
                _remove(target)
            os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))
        dirnames[:] = [d for d in dirnames if not d.startswith(WHITEOUT_PREFIX)]


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        remove_tree(Path(path))
    else:
        os.unlink(path)


def remove_tree(path: Path) -> None:
    def onerror(func: object, p: str, exc: object) -> None:
        # Read-only directories (0555) in a layer: make them writable and retry.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o755)
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)

    shutil.rmtree(path, onerror=onerror)


def read_meta(layer_dir: Path) -> LayerInfo | None:
    try:
        d = orjson.loads((layer_dir / "meta.json").read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return LayerInfo(str(d["diff_id"]), int(d["size"]), str(d.get("whiteouts", "docker")))


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _Tee:
    """A write-only file that hashes the uncompressed tar and passes it on."""

    def __init__(self, out: _Writable) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        pass


class _WriterFile:
    def __init__(self, w: blobs.BlobWriter) -> None:
        self.w = w

    def write(self, data: bytes) -> int:
        self.w.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def write_layer(
    src: Path, store: blobs.BlobStore, *, compress: bool = True, upper: bool = False
) -> tuple[str, str, int, int]:
    """Tar ``src`` into a new layer blob; returns (blob digest, diff_id, blob size, tar size).

    With ``upper``, ``src`` is an overlayfs upper dir: 0/0 char devices and opaque dirs become
    ``.wh.`` entries. Entries are sorted, owners numeric, so equal trees give equal layers.
    """
    with store.writer() as w:
        sink = _WriterFile(w)
        gz: gzip.GzipFile | None = None
        if compress:
            gz = gzip.GzipFile(fileobj=cast(BinaryIO, sink), mode="wb", compresslevel=6, mtime=0)
            tee = _Tee(gz)
        else:
            tee = _Tee(sink)
        with tarfile.open(fileobj=cast(BinaryIO, tee), mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_tree(tar, src, upper)
        if gz is not None:
            gz.close()
        diff_id = "sha256:" + tee.hash.hexdigest()
        size = w.size
        digest = w.commit()
    return digest, diff_id, size, tee.size


def _add_tree(tar: tarfile.TarFile, src: Path, upper: bool) -> None:
    def add(path: str, arcname: str) -> None:
        st = os.lstat(path)
        if upper and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            parent, name = os.path.split(arcname)
            info = tarfile.TarInfo(os.path.join(parent, WHITEOUT_PREFIX + name))
            info.mtime = int(st.st_mtime)
            tar.addfile(info)
            return
        if stat.S_ISSOCK(st.st_mode):
            return
        info = tar.gettarinfo(path, arcname)
        info.uname = info.gname = ""
        if info.isreg():
            with open(path, "rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)
        if upper and stat.S_ISDIR(st.st_mode) and _is_opaque(path):
            marker = tarfile.TarInfo(os.path.join(arcname, OPAQUE))
            marker.mtime = int(st.st_mtime)
            tar.addfile(marker)

    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel = os.path.relpath(dirpath, src)
        for name in sorted(
            [*filenames, *[d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]]
        ):
            arc = name if rel == "." else os.path.join(rel, name)
            add(os.path.join(dirpath, name), arc)
        real_dirs = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in real_dirs:
            arc = name if rel == "." else os.path.join(rel, name)
            add(os.path.join(dirpath, name), arc)
        dirnames[:] = real_dirs


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False

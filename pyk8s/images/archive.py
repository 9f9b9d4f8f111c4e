"""Image tarballs: import ``docker save`` and OCI layout archives, export both in one file.

An import streams the tarball once: every file is hashed into a staging directory, then the
blobs an image needs are verified (OCI blob names must match their content), moved into the
blob store, its layers unpacked (checking each diff_id), and only then its names written.
A bad tarball leaves no image behind.

The export is an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) that
also carries docker's ``manifest.json``, as ``docker save`` has written since Docker 25, so
``docker load``, ``skopeo`` (``oci-archive:``/``docker-archive:``) and ``ctr import`` read it.
Mirrors containerd ``images/archive/importer.go`` and ``exporter.go``.

Everything here blocks: call it from a thread.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import posixpath
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from pyk8s.images import blobs, layers, manifest, reference
from pyk8s.images import store as store_mod

CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"


class ArchiveError(ValueError):
    """A tarball that is not an image archive, or whose content does not verify."""


@dataclass(frozen=True)
class Imported:
    names: tuple[str, ...]
    image: store_mod.Image


@dataclass
class _Staged:
    path: Path
    digest: str
    size: int


class _Staging:
    def __init__(self, tmp: Path) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="import-", dir=tmp))
        self.files: dict[str, _Staged] = {}
        self.links: dict[str, str] = {}
        self.by_digest: dict[str, _Staged] = {}

    def add(self, name: str, f: Any) -> None:
        h = hashlib.sha256()
        size = 0
        path = self.dir / f"{len(self.files)}"
        with path.open("wb") as out:
            while chunk := f.read(blobs.CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        staged = _Staged(path, "sha256:" + h.hexdigest(), size)
        if name.startswith("blobs/sha256/"):
            want = "sha256:" + name.rsplit("/", 1)[1]
            if want != staged.digest:
                raise ArchiveError(f"{name} does not match its content (sha256 is {staged.digest})")
        self.files[name] = staged
        self.by_digest.setdefault(staged.digest, staged)

    def resolve(self, name: str) -> _Staged:
        name = _norm(name)
        for _ in range(16):
            if name in self.files:
                return self.files[name]
            if name not in self.links:
                break
            name = self.links[name]
        raise ArchiveError(f"the archive has no file {name!r}")

    def read(self, name: str) -> bytes:
        return self.resolve(name).path.read_bytes()

    def blob(self, digest: str) -> _Staged:
        if digest not in self.by_digest:
            raise ArchiveError(f"the archive lacks blob {digest}")
        return self.by_digest[digest]


def _norm(name: str) -> str:
    name = posixpath.normpath(name.lstrip("/"))
    return name.removeprefix("./")


def import_archive(store: store_mod.Store, path: Path | BinaryIO) -> list[Imported]:
    """Import a tarball from a file, or from a stream (``pyk8s image import < file``)."""
    with store.writing():
        staging = _Staging(store.blobs.tmp)
        try:
            _stage(staging, path)
            if "index.json" in staging.files:
                return _import_oci(store, staging)
            if "manifest.json" in staging.files:
                return _import_docker(store, staging)
            raise ArchiveError(
                f"{path} is neither an OCI layout nor a docker save tarball "
                "(it has no index.json or manifest.json)"
            )
        finally:
            shutil.rmtree(staging.dir, ignore_errors=True)


def _stage(staging: _Staging, path: Path | BinaryIO) -> None:
    if isinstance(path, Path) and not path.is_file():
        raise ArchiveError(f"cannot read {path}: no such file")
    try:
        kw: dict[str, Any] = {"name": path} if isinstance(path, Path) else {"fileobj": path}
        with tarfile.open(mode="r|*", **kw) as tar:
            for member in tar:
                name = _norm(member.name)
                if member.isreg():
                    f = tar.extractfile(member)
                    assert f is not None
                    staging.add(name, f)
                elif member.issym():
                    staging.links[name] = _norm(
                        posixpath.join(posixpath.dirname(name), member.linkname)
                    )
                elif member.islnk():
                    staging.links[name] = _norm(member.linkname)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise ArchiveError(
                f"no space left on device importing {path} into {staging.dir.parent.parent}"
            ) from None
        raise ArchiveError(f"cannot read {path}: {e}") from None
    except (tarfile.TarError, EOFError) as e:
        raise ArchiveError(f"cannot read {path}: {e}") from None


def _commit(store: store_mod.Store, staging: _Staging, digest: str) -> None:
    if store.blobs.has(digest):
        return
    staged = staging.blob(digest)
    dest = store.blobs.path(digest)
    with staged.path.open("rb+") as f:
        os.fsync(f.fileno())
    os.chmod(staged.path, 0o644)
    os.replace(staged.path, dest)


def _finish(store: store_mod.Store, staging: _Staging, target: str, names: list[str]) -> Imported:
    """Commit the blobs of ``target`` (index or manifest), unpack it, then name it."""
    _commit(store, staging, target)
    doc = manifest.parse(store.blobs.read(target))
    if isinstance(doc, manifest.Index):
        for m in doc.manifests:
            if m.digest in staging.by_digest:
                _commit(store, staging, m.digest)
        desc = doc.select(store.platform)
        doc = manifest.parse(store.blobs.read(desc.digest), desc.media_type)
        if isinstance(doc, manifest.Index):
            raise ArchiveError(f"nested index {desc.digest} is not supported")
    for digest in [doc.config.digest, *(layer.digest for layer in doc.layers)]:
        _commit(store, staging, digest)
    image = store.load(target)
    store.unpack(image)
    if names:
        store.set_refs(names, target, image.target_media_type)
    return Imported(tuple(names), image)


def _import_oci(store: store_mod.Store, staging: _Staging) -> list[Imported]:
    try:
        index = manifest.parse(staging.read("index.json"), manifest.OCI_INDEX)
    except manifest.ManifestError as e:
        raise ArchiveError(f"index.json: {e}") from None
    if not isinstance(index, manifest.Index):
        raise ArchiveError("index.json is not an image index")
    docker_tags = _docker_tags(staging)
    out: list[Imported] = []
    for desc in index.manifests:
        names = _names_for(desc, staging, docker_tags)
        out.append(_finish(store, staging, desc.digest, names))
    return out


def _docker_tags(staging: _Staging) -> dict[str, list[str]]:
    """config digest -> RepoTags, from docker's manifest.json when there is one."""
    if "manifest.json" not in staging.files:
        return {}
    out: dict[str, list[str]] = {}
    for entry in _load_docker_manifest(staging):
        cfg = staging.resolve(entry["Config"]).digest
        out.setdefault(cfg, []).extend(entry.get("RepoTags") or [])
    return out


def _names_for(
    desc: manifest.Descriptor, staging: _Staging, docker_tags: dict[str, list[str]]
) -> list[str]:
    ann = desc.annotations or {}
    for key in (CONTAINERD_NAME, OCI_REF_NAME):
        value = ann.get(key, "")
        if value and ("/" in value or ":" in value or key == CONTAINERD_NAME):
            try:
                return [str(reference.parse(value))]
            except reference.InvalidReference:
                continue
    try:
        doc = manifest.parse(staging.blob(desc.digest).path.read_bytes(), desc.media_type)
    except (ArchiveError, manifest.ManifestError, OSError):
        return []
    if isinstance(doc, manifest.Manifest):
        return [str(reference.parse(t)) for t in docker_tags.get(doc.config.digest, [])]
    return []


def _load_docker_manifest(staging: _Staging) -> list[dict[str, Any]]:
    try:
        entries = orjson.loads(staging.read("manifest.json"))
    except orjson.JSONDecodeError as e:
        raise ArchiveError(f"manifest.json: {e}") from None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and "Config" in e and isinstance(e.get("Layers"), list) for e in entries
    ):
        raise ArchiveError("manifest.json is not a docker save manifest")
    return entries


def _import_docker(store: store_mod.Store, staging: _Staging) -> list[Imported]:
    out: list[Imported] = []
    for entry in _load_docker_manifest(staging):
        cfg = staging.resolve(entry["Config"])
        layer_files = [staging.resolve(name) for name in entry["Layers"]]
        kinds = []
        for lf in layer_files:
            with lf.path.open("rb") as f:
                kinds.append(layers.compression_of(f.read(4)))
        oci = "zstd" in kinds
        layer_types = {
            "": manifest.OCI_LAYER if oci else manifest.DOCKER_LAYER,
            "gzip": manifest.OCI_LAYER_GZIP if oci else manifest.DOCKER_LAYER_GZIP,
            "zstd": manifest.OCI_LAYER_ZSTD,
        }
        doc = {
            "schemaVersion": 2,
            "mediaType": manifest.OCI_MANIFEST if oci else manifest.DOCKER_MANIFEST,
            "config": {
                "mediaType": manifest.OCI_CONFIG if oci else manifest.DOCKER_CONFIG,
                "digest": cfg.digest,
                "size": cfg.size,
            },
            "layers": [
                {"mediaType": layer_types[k], "digest": lf.digest, "size": lf.size}
                for lf, k in zip(layer_files, kinds, strict=True)
            ],
        }
        target = store.blobs.put(manifest.dumps(doc))
        names = [str(reference.parse(t)) for t in entry.get("RepoTags") or []]
        out.append(_finish(store, staging, target, names))
    return out


# -- export ------------------------------------------------------------------------------


def export_archive(store: store_mod.Store, refs: list[str], out: Path | BinaryIO) -> None:
    """Write the images ``refs`` name into one tarball at ``out`` (atomically), or to a
    stream (``pyk8s image export nginx > nginx.tar``)."""
    chosen: list[tuple[str | None, store_mod.Image]] = []
    for ref in refs:
        image = store.resolve(ref)
        name: str | None = None
        try:
            parsed = reference.parse(ref)
            if str(parsed) in store.refs() and parsed.tag:
                name = str(parsed)
        except reference.InvalidReference:
            pass
        chosen.append((name, image))
    if not isinstance(out, Path):
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _write_export(store, tar, chosen)
        out.flush()
        return
    out = out.absolute()
    fd, tmp = tempfile.mkstemp(prefix=".export-", dir=out.parent)
    try:
        with (
            os.fdopen(fd, "wb") as f,
            tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            _write_export(store, tar, chosen)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_export(
    store: store_mod.Store, tar: tarfile.TarFile, chosen: list[tuple[str | None, store_mod.Image]]
) -> None:
    now = int(time.time())

    def add_bytes(name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = now
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    written: set[str] = set()

    def add_blob(digest: str) -> None:
        if digest in written:
            return
        written.add(digest)
        path = store.blobs.path(digest)
        info = tar.gettarinfo(str(path), "blobs/sha256/" + digest.removeprefix("sha256:"))
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o644
        with path.open("rb") as f:
            tar.addfile(info, f)

    index: list[dict[str, Any]] = []
    docker: list[dict[str, Any]] = []
    add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    for name, image in chosen:
        add_blob(image.manifest_digest)
        for digest in image.blob_digests():
            add_blob(digest)
        desc: dict[str, Any] = {
            "mediaType": image.manifest.media_type,
            "digest": image.manifest_digest,
            "size": store.blobs.size(image.manifest_digest),
        }
        tags: list[str] = []
        if name:
            parsed = reference.parse(name)
            desc["annotations"] = {CONTAINERD_NAME: name, OCI_REF_NAME: parsed.tag}
            tags.append(parsed.familiar())
        index.append(desc)
        docker.append(
            {
                "Config": "blobs/sha256/" + image.id.removeprefix("sha256:"),
                "RepoTags": tags,
                "Layers": [
                    "blobs/sha256/" + layer.digest.removeprefix("sha256:")
                    for layer in image.manifest.layers
                ],
            }
        )
    add_bytes(
        "index.json",
        orjson.dumps({"schemaVersion": 2, "mediaType": manifest.OCI_INDEX, "manifests": index}),
    )
    add_bytes("manifest.json", orjson.dumps(docker))

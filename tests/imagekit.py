"""Test helpers: layer tars and image archives built by hand, byte by byte, so the store's
import, verification and unpacking are checked against content the test controls."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

# An entry: a path ending in "/" is a directory; "->target" makes a symlink; bytes a file.
Entries = dict[str, bytes | str]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(entries: Entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = 1_700_000_000
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif isinstance(content, str) and content.startswith("->"):
                info.type = tarfile.SYMTYPE
                info.linkname = content[2:]
                tar.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Built:
    """A hand-made image: its blobs by digest and the digests that matter."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifest: str = ""
    config: str = ""
    layers: list[str] = field(default_factory=list)
    diff_ids: list[str] = field(default_factory=list)
    raw_layers: list[bytes] = field(default_factory=list)

    def add(self, data: bytes) -> str:
        d = sha(data)
        self.blobs[d] = data
        return d


def build_image(
    layers: list[Entries],
    *,
    compress: bool = True,
    cmd: list[str] | None = None,
    arch: str = "amd64",
    docker_types: bool = False,
) -> Built:
    b = Built()
    descs = []
    for entries in layers:
        raw = layer_tar(entries)
        b.raw_layers.append(raw)
        b.diff_ids.append(sha(raw))
        blob = gzip.compress(raw, mtime=0) if compress else raw
        digest = b.add(blob)
        b.layers.append(digest)
        if docker_types:
            mt = "application/vnd.docker.image.rootfs.diff.tar" + (".gzip" if compress else "")
        else:
            mt = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
        descs.append({"mediaType": mt, "digest": digest, "size": len(blob)})
    config = {
        "architecture": arch,
        "os": "linux",
        "created": "2024-01-02T03:04:05.123456789Z",
        "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": b.diff_ids},
        "history": [
            {"created": "2024-01-02T03:04:05Z", "created_by": f"layer {i}"}
            for i in range(len(layers))
        ],
    }
    cfg = json.dumps(config).encode()
    b.config = b.add(cfg)
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json"
        if docker_types
        else "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json"
            if docker_types
            else "application/vnd.oci.image.config.v1+json",
            "digest": b.config,
            "size": len(cfg),
        },
        "layers": descs,
    }
    b.manifest = b.add(json.dumps(doc).encode())
    return b


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_oci_archive(
    path: Path,
    images: list[tuple[Built, str]],
    *,
    index_for: Built | None = None,
    corrupt: str = "",
) -> None:
    """An OCI layout tarball; ``images`` pairs an image with its ref name annotation."""
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        manifests = []
        seen: set[str] = set()
        for built, name in images:
            for d, data in built.blobs.items():
                if d in seen:
                    continue
                seen.add(d)
                content = data[:-1] + bytes([data[-1] ^ 1]) if d == corrupt else data
                _add(tar, "blobs/sha256/" + d.removeprefix("sha256:"), content)
            desc = {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": built.manifest,
                "size": len(built.blobs[built.manifest]),
            }
            if name:
                desc["annotations"] = {"io.containerd.image.name": name}
            manifests.append(desc)
        _add(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": manifests}).encode())


def write_docker_archive(path: Path, built: Built, repo_tags: list[str]) -> None:
    """The legacy ``docker save`` format: <id>/layer.tar, <config hex>.json, manifest.json."""
    with tarfile.open(path, "w") as tar:
        cfg_name = built.config.removeprefix("sha256:") + ".json"
        _add(tar, cfg_name, built.blobs[built.config])
        layer_names = []
        for i, raw in enumerate(built.raw_layers):
            name = f"{i:064x}/layer.tar"
            _add(tar, name, raw)
            _add(tar, f"{i:064x}/VERSION", b"1.0")
            layer_names.append(name)
        _add(
            tar,
            "manifest.json",
            json.dumps(
                [{"Config": cfg_name, "RepoTags": repo_tags, "Layers": layer_names}]
            ).encode(),
        )
        _add(tar, "repositories", b"{}")

"""Manifests, indexes and descriptors: OCI image-spec and Docker schema 2, and this machine's
platform. Mirrors opencontainers/image-spec ``specs-go/v1`` and containerd
``images/mediatypes.go`` and ``platforms`` (``DefaultSpec``, matching by os/arch/variant).
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass
from typing import Any

import orjson

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
LAYER_TYPES = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        OCI_LAYER_NONDIST_GZIP,
        DOCKER_LAYER,
        DOCKER_LAYER_GZIP,
        DOCKER_FOREIGN_LAYER,
        # Docker 1.x pushed this before the spec settled; registries still serve it.
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
    }
)
# What a client sends in Accept when it wants any of them.
ACCEPT = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)

_ARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


class ManifestError(ValueError):
    """A manifest, index or config that is malformed or does not fit this machine."""


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        s = f"{self.os}/{self.architecture}"
        return f"{s}/{self.variant}" if self.variant else s

    def matches(self, other: dict[str, Any]) -> bool:
        if other.get("os") != self.os or other.get("architecture") != self.architecture:
            return False
        variant = other.get("variant", "")
        # arm64 images often say nothing about the variant; v8 is implied.
        return not variant or not self.variant or variant == self.variant


def host_platform() -> Platform:
    arch, variant = _ARCH.get(_platform.machine().lower(), (_platform.machine().lower(), ""))
    return Platform("linux", arch, variant)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] | None = None

    @classmethod
    def from_json(cls, d: Any) -> Descriptor:
        if not isinstance(d, dict):
            raise ManifestError(f"descriptor is not an object: {d!r}")
        try:
            media_type = str(d.get("mediaType", ""))
            digest = str(d["digest"])
            size = int(d["size"])
        except (KeyError, TypeError, ValueError) as e:
            raise ManifestError(f"bad descriptor {d!r}: {e}") from None
        if not digest.startswith("sha256:") or len(digest) != 71:
            raise ManifestError(f"unsupported digest {digest!r} (only sha256)")
        if size < 0:
            raise ManifestError(f"negative size in descriptor {d!r}")
        return cls(media_type, digest, size, d.get("platform"), d.get("annotations"))

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            d["platform"] = self.platform
        if self.annotations:
            d["annotations"] = self.annotations
        return d


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    raw: dict[str, Any]


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]
    raw: dict[str, Any]

    def select(self, want: Platform) -> Descriptor:
        """The manifest for ``want``, as containerd's platform matcher picks it."""
        candidates = [
            m for m in self.manifests if m.media_type in MANIFEST_TYPES or not m.media_type
        ]
        exact = [
            m
            for m in candidates
            if m.platform
            and m.platform.get("variant", "") == want.variant
            and want.matches(m.platform)
        ]
        loose = [m for m in candidates if m.platform and want.matches(m.platform)]
        for group in (exact, loose):
            if group:
                return group[0]
        if len(candidates) == 1 and not candidates[0].platform:
            return candidates[0]
        have = ", ".join(_describe(m.platform) for m in candidates) or "none"
        raise ManifestError(f"no manifest for platform {want} in the index (it has: {have})")


def _describe(p: dict[str, Any] | None) -> str:
    if not p:
        return "unknown"
    s = f"{p.get('os', '?')}/{p.get('architecture', '?')}"
    return f"{s}/{p['variant']}" if p.get("variant") else s


def media_type_of(data: bytes, hint: str = "") -> str:
    """The media type of a manifest or index body (its own field, else its shape)."""
    doc = _load(data)
    mt = doc.get("mediaType") or hint
    if mt:
        return str(mt)
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    raise ManifestError("document is neither a manifest nor an index")


def parse(data: bytes, hint: str = "") -> Manifest | Index:
    doc = _load(data)
    mt = media_type_of(data, hint)
    if doc.get("schemaVersion") != 2:
        raise ManifestError(
            f"unsupported manifest schemaVersion {doc.get('schemaVersion')!r} (want 2)"
        )
    if mt in INDEX_TYPES:
        ms = doc.get("manifests")
        if not isinstance(ms, list):
            raise ManifestError("index has no manifests list")
        return Index(mt, tuple(Descriptor.from_json(m) for m in ms), doc)
    if mt in MANIFEST_TYPES:
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ManifestError("manifest has no layers list")
        return Manifest(
            mt,
            Descriptor.from_json(doc.get("config")),
            tuple(map(Descriptor.from_json, layers)),
            doc,
        )
    raise ManifestError(f"unsupported manifest media type {mt!r}")


def parse_config(data: bytes) -> dict[str, Any]:
    doc = _load(data)
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise ManifestError("image config has no rootfs.diff_ids")
    return doc


def _load(data: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ManifestError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ManifestError("not a JSON object")
    return doc


def dumps(doc: dict[str, Any]) -> bytes:
    """Canonical-enough JSON for new manifests and configs (stable key order, indented)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

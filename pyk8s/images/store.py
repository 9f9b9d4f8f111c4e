"""The image store: named references over content-addressed blobs and unpacked layers.

Layout under the store root (``<data-dir>/images``)::

    blobs/sha256/<hex>            manifests, indexes, configs, layer blobs (blobs.py)
    layers/sha256/<diff-id hex>/  fs/ (an overlayfs lower dir) + meta.json (layers.py)
    repositories.json             {"refs": {"docker.io/library/nginx:latest": {"digest": ...}}}
    tmp/                          in-flight writes; never read
    import/                       tarballs ``pyk8s server`` imports at start (k3s air-gap)

An image becomes visible only when its reference is written, which is the last step of an
import, pull or build, after every blob is verified and every layer unpacked; an interrupted
operation leaves unreferenced content that ``gc`` removes. Writers hold ``gc.lock`` shared for
their whole run and ``gc`` takes it exclusively, so a collection never removes what an
operation in flight has written but not yet named (containerd uses leases for this).

Mirrors containerd ``images/image.go`` (``Manifest``, ``RootFS``, ``Children``), its metadata
store and ``gc/gc.go`` (mark from roots, sweep the rest). Everything here blocks: from async
code call it in a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pyk8s.images import blobs, layers, manifest, reference

REFS_FILE = "repositories.json"
TMP_GRACE = 15 * 60  # seconds a temp file may be in use by a registry upload
PIN_TTL = 60 * 60  # seconds a pushed blob waits for the manifest that names it


class ImageNotFound(LookupError):
    def __init__(self, ref: str, root: Path) -> None:
        super().__init__(f"image {ref!r} not found in the image store at {root}")
        self.ref = ref
        self.root = root


class AmbiguousImage(LookupError):
    pass


@dataclass(frozen=True)
class Image:
    """An image for this machine's platform: the manifest, its config and its layers."""

    target: str  # what a reference points at: an index or a manifest digest
    target_media_type: str
    manifest_digest: str
    manifest: manifest.Manifest
    config: dict[str, Any]
    names: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.manifest.config.digest

    @property
    def diff_ids(self) -> list[str]:
        return [str(d) for d in self.config["rootfs"]["diff_ids"]]

    @property
    def created(self) -> str:
        return str(self.config.get("created") or "")

    def blob_digests(self) -> list[str]:
        return [self.manifest.config.digest, *(layer.digest for layer in self.manifest.layers)]


@dataclass
class GcResult:
    blobs: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    bytes_freed: int = 0


@dataclass(frozen=True)
class Usage:
    images: int
    blobs: int
    blob_bytes: int
    layers: int
    layer_bytes: int
    reclaimable_bytes: int


class Store:
    def __init__(self, root: Path, platform: manifest.Platform | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = blobs.BlobStore(self.root)
        self.layers_dir = self.root / "layers" / "sha256"
        self.layers_dir.mkdir(parents=True, exist_ok=True)
        self.import_dir = self.root / "import"
        self.platform = platform or manifest.host_platform()

    # -- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[None]:
        fd = os.open(self.root / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Held (shared) by an import, pull or build from its first blob to its last ref."""
        with self._flock("gc.lock", fcntl.LOCK_SH):
            yield

    def acquire_lease(self) -> int:
        """``writing`` for async callers: take it in a thread, ``release_lease`` when done."""
        fd = os.open(self.root / "gc.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def release_lease(fd: int) -> None:
        os.close(fd)

    # -- references ----------------------------------------------------------------------

    def refs(self) -> dict[str, dict[str, Any]]:
        try:
            doc = orjson.loads((self.root / REFS_FILE).read_bytes())
        except FileNotFoundError:
            return {}
        refs = doc.get("refs", {})
        assert isinstance(refs, dict)
        return refs

    def _write_refs(self, refs: dict[str, dict[str, Any]]) -> None:
        data = orjson.dumps(
            {"version": 1, "refs": refs}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        )
        fd, tmp = tempfile.mkstemp(prefix="refs-", dir=self.blobs.tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / REFS_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def set_refs(
        self, names: list[str], target: str, media_type: str, *, any_platform: bool = False
    ) -> None:
        """Point every name at ``target``, which must load as an image for this platform
        (or, with ``any_platform``, as the registry stores them, merely be complete)."""
        if any_platform:
            if missing := self.missing(target):
                raise blobs.BlobNotFound(missing[0])
        else:
            self.load(target)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._flock("refs.lock", fcntl.LOCK_EX):
            refs = self.refs()
            for name in names:
                refs[str(reference.parse(name))] = {
                    "digest": target,
                    "mediaType": media_type,
                    "updated": now,
                }
            self._write_refs(refs)

    def remove_refs(self, names: list[str]) -> list[str]:
        with self._flock("refs.lock", fcntl.LOCK_EX):
            refs = self.refs()
            removed = [n for n in names if refs.pop(n, None) is not None]
            if removed:
                self._write_refs(refs)
        return removed

    # -- where blobs came from (for cross-repository mounts on push) ---------------------

    def note_source(self, registry: str, digest: str, repo: str) -> None:
        """Remember that ``registry`` has ``digest`` in ``repo``."""
        path = self.root / "sources.json"
        with self._flock("refs.lock", fcntl.LOCK_EX):
            try:
                doc = orjson.loads(path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                doc = {}
            per = doc.setdefault(registry, {})
            if per.get(digest) == repo:
                return
            per[digest] = repo
            if len(per) > 10000:
                for k in list(per)[: len(per) - 10000]:
                    del per[k]
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(doc))
            os.replace(tmp, path)

    def source_of(self, registry: str, digest: str) -> str:
        try:
            doc = orjson.loads((self.root / "sources.json").read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return ""
        return str(doc.get(registry, {}).get(digest, ""))

    # -- loading -------------------------------------------------------------------------

    def missing(self, target: str) -> list[str]:
        """Blobs that manifest or index ``target`` names but the store lacks."""
        doc = manifest.parse(self.blobs.read(target))
        if isinstance(doc, manifest.Index):
            return [m.digest for m in doc.manifests if not self.blobs.has(m.digest)]
        wanted = [doc.config.digest, *(layer.digest for layer in doc.layers)]
        return [d for d in wanted if not self.blobs.has(d)]

    def load(self, target: str, names: tuple[str, ...] = ()) -> Image:
        """The image ``target`` (manifest or index digest) is for this machine's platform."""
        data = self.blobs.read(target)
        doc = manifest.parse(data)
        media_type = doc.media_type
        manifest_digest = target
        if isinstance(doc, manifest.Index):
            desc = doc.select(self.platform)
            manifest_digest = desc.digest
            doc = manifest.parse(self.blobs.read(desc.digest), desc.media_type)
            if isinstance(doc, manifest.Index):
                raise manifest.ManifestError(f"nested index {desc.digest} is not supported")
        config = manifest.parse_config(self.blobs.read(doc.config.digest))
        if len(config["rootfs"]["diff_ids"]) != len(doc.layers):
            raise manifest.ManifestError(
                f"manifest {manifest_digest} has {len(doc.layers)} layers but its config lists "
                f"{len(config['rootfs']['diff_ids'])} diff_ids"
            )
        return Image(target, media_type, manifest_digest, doc, config, names)

    def resolve(self, ref: str) -> Image:
        """Find an image by reference (``nginx``), ``name@digest``, or (a prefix of) its ID."""
        refs = self.refs()
        parsed: reference.Reference | None = None
        with contextlib.suppress(reference.InvalidReference):
            parsed = reference.parse(ref)
        if parsed is not None:
            key = str(parsed)
            if key in refs:
                return self.load(refs[key]["digest"], self._names_of(refs, refs[key]["digest"]))
            if parsed.digest and self.blobs.has(parsed.digest):
                return self.load(parsed.digest, self._names_of(refs, parsed.digest))
        by_id = self._find_by_id(ref, refs)
        if by_id is not None:
            return by_id
        raise ImageNotFound(ref, self.root)

    def _names_of(self, refs: dict[str, dict[str, Any]], target: str) -> tuple[str, ...]:
        return tuple(sorted(n for n, r in refs.items() if r["digest"] == target))

    def _find_by_id(self, ref: str, refs: dict[str, dict[str, Any]]) -> Image | None:
        hexpart = ref.removeprefix("sha256:")
        if not re.fullmatch(r"[a-f0-9]{4,64}", hexpart):
            return None
        found: dict[str, Image] = {}
        for target in {r["digest"] for r in refs.values()}:
            with contextlib.suppress(LookupError, manifest.ManifestError):
                img = self.load(target, self._names_of(refs, target))
                if img.id.removeprefix("sha256:").startswith(hexpart) or target.removeprefix(
                    "sha256:"
                ).startswith(hexpart):
                    found[img.id] = img
        if len(found) > 1:
            raise AmbiguousImage(f"image ID prefix {ref!r} matches {len(found)} images")
        return next(iter(found.values()), None)

    def images(self) -> list[tuple[str, Image | None]]:
        """Every reference with its image (None when its content is broken or missing)."""
        refs = self.refs()
        out: list[tuple[str, Image | None]] = []
        cache: dict[str, Image | None] = {}
        for name in sorted(refs):
            target = refs[name]["digest"]
            if target not in cache:
                try:
                    cache[target] = self.load(target, self._names_of(refs, target))
                except (LookupError, manifest.ManifestError):
                    cache[target] = None
            out.append((name, cache[target]))
        return out

    # -- layers --------------------------------------------------------------------------

    def layer_path(self, diff_id: str) -> Path:
        reference.validate_digest(diff_id)
        return self.layers_dir / diff_id.removeprefix("sha256:")

    def unpack(self, image: Image) -> list[Path]:
        """Unpack every layer not yet unpacked; returns the ``fs`` dirs, bottom layer first."""
        out: list[Path] = []
        for desc, diff_id in zip(image.manifest.layers, image.diff_ids, strict=True):
            dest = self.layer_path(diff_id)
            if layers.read_meta(dest) is None:
                src = self.blobs.path(desc.digest)
                if not src.is_file():
                    raise blobs.BlobNotFound(desc.digest)
                layers.unpack(src, dest, diff_id, self.blobs.tmp)
            out.append(dest / "fs")
        return out

    def layer_size(self, diff_id: str) -> int | None:
        info = layers.read_meta(self.layer_path(diff_id))
        return info.size if info else None

    def image_size(self, image: Image) -> int:
        """Unpacked size (as ``docker images`` shows it), compressed where not unpacked."""
        total = 0
        for desc, diff_id in zip(image.manifest.layers, image.diff_ids, strict=True):
            size = self.layer_size(diff_id)
            total += desc.size if size is None else size
        return total

    def lower_dirs(self, image: Image) -> list[Path]:
        """The overlayfs ``lowerdir`` list for a container of ``image``: top layer first."""
        return list(reversed(self.unpack(image)))

    # -- garbage collection --------------------------------------------------------------

    def _cache_roots(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Images and layers the build cache (``build-cache.json``) keeps alive."""
        try:
            doc = orjson.loads((self.root / "build-cache.json").read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return [], []
        lays = [
            (str(e["layer"]["digest"]), str(e["layer"]["diffID"]))
            for e in doc.get("entries", {}).values()
            if e.get("layer")
        ]
        return [str(t) for t in doc.get("images", [])], lays

    def clear_build_cache(self) -> None:
        (self.root / "build-cache.json").unlink(missing_ok=True)

    def _mark(self) -> tuple[set[str], set[str]]:
        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()
        cache_images, cache_layers = self._cache_roots()
        for digest, diff_id in cache_layers:
            keep_blobs.add(digest)
            keep_layers.add(diff_id)
        roots = [r["digest"] for r in self.refs().values()] + cache_images
        keep_blobs.update(self._pins())
        for target in roots:
            keep_blobs.add(target)
            with contextlib.suppress(LookupError, manifest.ManifestError):
                doc = manifest.parse(self.blobs.read(target))
                manifests = [target]
                if isinstance(doc, manifest.Index):
                    manifests = [m.digest for m in doc.manifests if self.blobs.has(m.digest)]
                for md in manifests:
                    keep_blobs.add(md)
                    with contextlib.suppress(LookupError, manifest.ManifestError):
                        m = manifest.parse(self.blobs.read(md))
                        if isinstance(m, manifest.Manifest):
                            keep_blobs.add(m.config.digest)
                            keep_blobs.update(layer.digest for layer in m.layers)
                            with contextlib.suppress(LookupError, manifest.ManifestError):
                                cfg = manifest.parse_config(self.blobs.read(m.config.digest))
                                keep_layers.update(cfg["rootfs"]["diff_ids"])
        return keep_blobs, keep_layers

    def reachable(self) -> set[str]:
        """Every blob some reference reaches (what ``gc`` keeps)."""
        return self._mark()[0]

    def gc(self, *, dry_run: bool = False) -> GcResult:
        """Remove blobs and unpacked layers no reference reaches, and stale temp files."""
        result = GcResult()
        with self._flock("gc.lock", fcntl.LOCK_EX):
            keep_blobs, keep_layers = self._mark()
            for digest in list(self.blobs.digests()):
                if digest not in keep_blobs:
                    result.blobs.append(digest)
                    result.bytes_freed += (
                        self.blobs.size(digest) if dry_run else self.blobs.delete(digest)
                    )
            for d in list(self.layers_dir.iterdir()):
                diff_id = "sha256:" + d.name
                if diff_id in keep_layers:
                    continue
                info = layers.read_meta(d)
                result.layers.append(diff_id)
                result.bytes_freed += info.size if info else 0
                if not dry_run:
                    layers.remove_tree(d)
            if not dry_run:
                # Writes in flight hold a lease (we waited for them); registry uploads do
                # not, so recent temp files stay until they are TMP_GRACE old.
                cutoff = time.time() - TMP_GRACE
                for p in list(self.blobs.tmp.iterdir()):
                    try:
                        if p.lstat().st_mtime > cutoff:
                            continue
                    except FileNotFoundError:
                        continue
                    if p.is_dir() and not p.is_symlink():
                        layers.remove_tree(p)
                    else:
                        p.unlink(missing_ok=True)
                self._expire_pins()
        return result

    # -- pins: blobs a registry push has sent but no manifest names yet -------------------

    def pin(self, digest: str, ttl: float = PIN_TTL) -> None:
        """Keep ``digest`` from ``gc`` for ``ttl`` seconds (containerd's lease expiry)."""
        d = self.root / "pins"
        d.mkdir(exist_ok=True)
        (d / digest.removeprefix("sha256:")).write_text(str(time.time() + ttl))

    def _pins(self) -> set[str]:
        out = set()
        now = time.time()
        for p in (self.root / "pins").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                if float(p.read_text()) > now:
                    out.add("sha256:" + p.name)
        return out

    def _expire_pins(self) -> None:
        live = self._pins()
        for p in (self.root / "pins").glob("*"):
            if "sha256:" + p.name not in live:
                p.unlink(missing_ok=True)

    def usage(self) -> Usage:
        keep_blobs, keep_layers = self._mark()
        blob_bytes = reclaim = nblobs = 0
        for digest in self.blobs.digests():
            size = self.blobs.size(digest)
            nblobs += 1
            blob_bytes += size
            if digest not in keep_blobs:
                reclaim += size
        layer_bytes = nlayers = 0
        for d in self.layers_dir.iterdir():
            info = layers.read_meta(d)
            size = info.size if info else 0
            nlayers += 1
            layer_bytes += size
            if "sha256:" + d.name not in keep_layers:
                reclaim += size
        ntargets = len({r["digest"] for r in self.refs().values()})
        return Usage(ntargets, nblobs, blob_bytes, nlayers, layer_bytes, reclaim)

"""The image service the kubelet uses: the CRI ``ImageService`` shape over the store.

``pull`` (with pull-secret credentials and ``registries.yaml``), ``status``, ``list``,
``remove``, ``fs_info``, and ``runtime_image``: what a container needs from its image (the
unpacked layers, bottom first, as overlayfs lower dirs, and the config: entrypoint, cmd, env,
working dir, user, stop signal). Async; the store's blocking work runs in threads.
Mirrors the CRI ``ImageService`` (``k8s.io/cri-api/pkg/apis/runtime/v1/api.proto``:
``PullImage``, ``ImageStatus``, ``ListImages``, ``RemoveImage``, ``ImageFsInfo``) and
containerd's CRI plugin ``image_pull.go``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyk8s.images import distribution, dockerconfig, pull, reference, registries
from pyk8s.images import store as store_mod


@dataclass(frozen=True)
class ImageInfo:
    """CRI ``Image``: the ID is the config digest, as containerd reports it."""

    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    size: int
    pinned: bool = False


@dataclass(frozen=True)
class RuntimeImage:
    id: str
    layers: tuple[Path, ...]  # bottom first
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


def credentials_from_dockerconfig(data: bytes) -> dict[str, registries.Auth]:
    """Registry credentials from a ``kubernetes.io/dockerconfigjson`` secret's payload."""
    return dockerconfig.parse(data)


class ImageService:
    """The node's images. ``preloaded``: set once the air-gap images are imported; until
    then a pull, a look at one image and a removal wait for it (as k3s starts its kubelet
    after the preload), while the node registers and reports without waiting."""

    def __init__(
        self,
        store_root: Path,
        config: registries.Registries | None = None,
        *,
        preloaded: asyncio.Event | None = None,
    ) -> None:
        self.store_root = store_root
        self.config = config or registries.Registries()
        self.preloaded = preloaded
        self._store: store_mod.Store | None = None
        self._pulls: dict[str, asyncio.Future[ImageInfo]] = {}

    async def _preloaded(self) -> None:
        if self.preloaded is not None and not self.preloaded.is_set():
            await self.preloaded.wait()

    async def store(self) -> store_mod.Store:
        if self._store is None:
            self._store = await asyncio.to_thread(store_mod.Store, self.store_root)
        return self._store

    def _info(self, store: store_mod.Store, image: store_mod.Image) -> ImageInfo:
        tags, digests = [], []
        for name in image.names:
            ref = reference.parse(name)
            if ref.tag:
                tags.append(str(ref))
            d = f"{ref.name}@{image.target}"
            if d not in digests:
                digests.append(d)
        return ImageInfo(image.id, tuple(tags), tuple(digests), store.image_size(image))

    async def pull(
        self,
        image: str,
        *,
        credentials: dict[str, registries.Auth] | None = None,
        always: bool = False,
    ) -> ImageInfo:
        """Make ``image`` present (``always``: ask the registry even when it is); concurrent
        pulls of one reference share one download."""
        await self._preloaded()
        key = str(reference.parse(image))
        if key in self._pulls and not always:
            return await asyncio.shield(self._pulls[key])
        fut: asyncio.Future[ImageInfo] = asyncio.get_running_loop().create_future()
        self._pulls[key] = fut
        try:
            store = await self.store()
            async with distribution.Client(self.config, credentials=credentials) as client:
                img = await pull.ensure(store, client, image, always=always)
            info = await asyncio.to_thread(self._info, store, img)
            fut.set_result(info)
            return info
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # retrieved: no "never retrieved" warning for unshared pulls
            raise
        finally:
            self._pulls.pop(key, None)

    async def status(self, image: str) -> ImageInfo | None:
        await self._preloaded()
        store = await self.store()

        def find() -> ImageInfo | None:
            with contextlib.suppress(store_mod.ImageNotFound, reference.InvalidReference):
                return self._info(store, store.resolve(image))
            for candidate in self.config.rewrite_local(reference.parse(image)):
                with contextlib.suppress(store_mod.ImageNotFound):
                    return self._info(store, store.resolve(str(candidate)))
            return None

        return await asyncio.to_thread(find)

    async def list(self) -> list[ImageInfo]:
        store = await self.store()

        def collect() -> list[ImageInfo]:
            seen: dict[str, ImageInfo] = {}
            for _, image in store.images():
                if image is not None and image.id not in seen:
                    seen[image.id] = self._info(store, image)
            return list(seen.values())

        return await asyncio.to_thread(collect)

    async def remove(self, image: str) -> None:
        """Remove every name of ``image`` and the content only it used (absent: no error)."""
        await self._preloaded()
        store = await self.store()

        def rm() -> None:
            try:
                img = store.resolve(image)
            except store_mod.ImageNotFound:
                return
            store.remove_refs(list(img.names))
            store.gc()

        await asyncio.to_thread(rm)

    async def fs_info(self) -> dict[str, Any]:
        """CRI ``ImageFsInfo``: bytes and inodes the store uses, and its mount point."""
        store = await self.store()
        usage = await asyncio.to_thread(store.usage)
        return {
            "mountpoint": str(store.root),
            "used_bytes": usage.blob_bytes + usage.layer_bytes,
            "reclaimable_bytes": usage.reclaimable_bytes,
        }

    async def runtime_image(self, image: str) -> RuntimeImage:
        """What a container of ``image`` (present in the store) is made from."""
        store = await self.store()

        def build() -> RuntimeImage:
            img = store.resolve(image)
            lowers = store.unpack(img)
            cfg = img.config.get("config") or {}
            return RuntimeImage(
                id=img.id,
                layers=tuple(lowers),
                entrypoint=tuple(cfg.get("Entrypoint") or ()),
                cmd=tuple(cfg.get("Cmd") or ()),
                env=tuple(cfg.get("Env") or ()),
                working_dir=str(cfg.get("WorkingDir") or ""),
                user=str(cfg.get("User") or ""),
                stop_signal=str(cfg.get("StopSignal") or ""),
                exposed_ports=tuple(sorted(cfg.get("ExposedPorts") or {})),
                volumes=tuple(sorted(cfg.get("Volumes") or {})),
                labels=dict(cfg.get("Labels") or {}),
            )

        return await asyncio.to_thread(build)

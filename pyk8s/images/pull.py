"""Pull and push images between the store and registries (distribution API v2).

A pull resolves the reference on each endpoint ``registries.yaml`` gives (mirrors first),
stores the manifest (and index), then fetches the config and the layers it lacks, three at
a time, unpacking each layer as soon as it has arrived and verified. The reference is written
last. ``ensure`` is what the kubelet calls for a pod's image and pull policy.
Mirrors containerd ``pull.go`` / ``remotes/handlers.go`` and docker ``distribution/pull_v2.go``,
``push_v2.go``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp

from pyk8s.images import blobs, distribution, layers, manifest, reference, registries
from pyk8s.images import progress as progress_mod
from pyk8s.images import store as store_mod

PARALLEL = 3
FLUSH = 1 << 20

FAILURES: tuple[type[BaseException], ...] = (
    distribution.RegistryError,
    manifest.ManifestError,
    blobs.DigestMismatch,
    layers.LayerError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)


class PullError(RuntimeError):
    pass


@contextlib.asynccontextmanager
async def _lease(store: store_mod.Store) -> AsyncIterator[None]:
    fd = await asyncio.to_thread(store.acquire_lease)
    try:
        yield
    finally:
        store.release_lease(fd)


async def pull(
    store: store_mod.Store,
    client: distribution.Client,
    name: str,
    *,
    progress: progress_mod.Progress | None = None,
    unpack: bool = True,
) -> store_mod.Image:
    """Pull ``name``; without ``unpack`` the layers stay packed until ``Store.unpack``."""
    ref = reference.parse(name)
    errors = []
    for ep in client.config.endpoints(ref):
        try:
            return await _pull(store, client, ep, ref, progress or progress_mod.Silent(), unpack)
        except FAILURES as e:
            errors.append(f"{ep.url}: {e}")
    raise PullError(f"cannot pull {ref.familiar()}: " + "; ".join(errors))


async def _pull(
    store: store_mod.Store,
    client: distribution.Client,
    ep: registries.Endpoint,
    ref: reference.Reference,
    progress: progress_mod.Progress,
    unpack: bool,
) -> store_mod.Image:
    async with _lease(store):
        fetched = await client.get_manifest(ep, ep.tag_or_digest)
        if ref.digest and fetched.digest != ref.digest:
            raise distribution.RegistryError(f"asked for {ref.digest}, got {fetched.digest}")
        await asyncio.to_thread(store.blobs.put, fetched.data, fetched.digest)
        doc = manifest.parse(fetched.data, fetched.media_type)
        if isinstance(doc, manifest.Index):
            desc = doc.select(store.platform)
            if not await asyncio.to_thread(store.blobs.has, desc.digest):
                child = await client.get_manifest(ep, desc.digest)
                await asyncio.to_thread(store.blobs.put, child.data, desc.digest)
            doc = manifest.parse(
                await asyncio.to_thread(store.blobs.read, desc.digest), desc.media_type
            )
            if isinstance(doc, manifest.Index):
                raise manifest.ManifestError(f"nested index {desc.digest} is not supported")
        await _fetch(store, client, ep, doc.config, progress_mod.Silent())
        config = manifest.parse_config(await asyncio.to_thread(store.blobs.read, doc.config.digest))
        diff_ids = [str(d) for d in config["rootfs"]["diff_ids"]]
        if len(diff_ids) != len(doc.layers):
            raise manifest.ManifestError("the config's diff_ids do not match the manifest's layers")
        sem = asyncio.Semaphore(PARALLEL)
        unique = dict(zip(diff_ids, doc.layers, strict=True))

        async def one(diff_id: str, desc: manifest.Descriptor) -> None:
            key = desc.digest.removeprefix("sha256:")[:12]
            dest = store.layer_path(diff_id)
            if await asyncio.to_thread(layers.read_meta, dest) is not None:
                progress.finish(key, "exists")
                return
            async with sem:
                progress.start(key, key, desc.size)
                await _fetch(store, client, ep, desc, progress, key)
            if not unpack:
                progress.finish(key, "done")
                return
            progress.finish(key, "extracting")
            src = store.blobs.path(desc.digest)
            await asyncio.to_thread(layers.unpack, src, dest, diff_id, store.blobs.tmp)
            progress.finish(key, "done")

        await _all([one(diff_id, desc) for diff_id, desc in unique.items()])
        names = [str(ref.with_tag(ref.tag))] if ref.tag else [str(ref)]
        await asyncio.to_thread(store.set_refs, names, fetched.digest, fetched.media_type)
        return await asyncio.to_thread(store.load, fetched.digest, tuple(names))


async def _all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` together and let every one finish (a thread unpacking a layer cannot be
    cancelled, and must not outlive the pull); then raise the first failure as itself."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r


async def _fetch(
    store: store_mod.Store,
    client: distribution.Client,
    ep: registries.Endpoint,
    desc: manifest.Descriptor,
    progress: progress_mod.Progress,
    key: str = "",
) -> None:
    if await asyncio.to_thread(store.blobs.has, desc.digest):
        progress.advance(key, desc.size)
        return
    w = await asyncio.to_thread(store.blobs.writer, desc.digest, desc.size)
    chunks: list[bytes] = []
    pending = 0
    # One write in a thread at a time, overlapping the next megabyte's download.
    writing: asyncio.Future[None] | None = None

    async def flush() -> None:
        nonlocal pending, writing
        data = b"".join(chunks)
        chunks.clear()
        pending = 0
        if writing is not None:
            await writing
        writing = asyncio.ensure_future(asyncio.to_thread(w.write, data))

    async def sink(chunk: bytes) -> None:
        nonlocal pending
        chunks.append(chunk)
        pending += len(chunk)
        progress.advance(key, len(chunk))
        if pending >= FLUSH:
            await flush()

    try:
        await client.fetch_blob(ep, desc.digest, sink)
        if chunks:
            await flush()
        if writing is not None:
            await writing
        await asyncio.to_thread(w.commit)
    finally:
        if writing is not None and not writing.done():
            with contextlib.suppress(Exception):
                await writing
        await asyncio.to_thread(w.abort)
    await asyncio.to_thread(store.note_source, ep.host, desc.digest, ep.path)


async def push(
    store: store_mod.Store,
    client: distribution.Client,
    name: str,
    dest: str = "",
    *,
    progress: progress_mod.Progress | None = None,
) -> str:
    """Push image ``name`` (to ``dest`` if given); returns the manifest digest."""
    progress = progress or progress_mod.Silent()
    image = await asyncio.to_thread(store.resolve, name)
    ref = reference.parse(dest or name)
    ep = client.config.endpoints(ref)[-1]  # the registry itself, never a mirror
    sem = asyncio.Semaphore(PARALLEL)

    async def one(desc: manifest.Descriptor) -> None:
        key = desc.digest.removeprefix("sha256:")[:12]
        async with sem:
            if await client.blob_exists(ep, desc.digest):
                await asyncio.to_thread(store.note_source, ep.host, desc.digest, ep.path)
                progress.finish(key, "exists")
                return
            source = await asyncio.to_thread(store.source_of, ep.host, desc.digest)
            progress.start(key, key, desc.size)
            mounted = await client.upload_blob(
                ep,
                desc.digest,
                desc.size,
                store.blobs.path(desc.digest),
                mount_from=source if source != ep.path else "",
                on_chunk=lambda n: progress.advance(key, n),
            )
            await asyncio.to_thread(store.note_source, ep.host, desc.digest, ep.path)
            progress.finish(key, "mounted" if mounted else "pushed")

    # Authenticate once (for push) before the parallel uploads.
    await client.blob_exists(ep, image.manifest.config.digest)
    await _all(
        [
            one(d)
            for d in {d.digest: d for d in (*image.manifest.layers, image.manifest.config)}.values()
        ]
    )
    data = await asyncio.to_thread(store.blobs.read, image.manifest_digest)
    tag = ref.tag or image.manifest_digest
    return await client.put_manifest(ep, tag, data, image.manifest.media_type)


async def ensure(
    store: store_mod.Store,
    client: distribution.Client,
    name: str,
    *,
    always: bool = False,
    progress: progress_mod.Progress | None = None,
) -> store_mod.Image:
    """The image for a container: local first (also under its rewrites) unless ``always``."""
    ref = reference.parse(name)
    if not always:
        for candidate in [ref, *client.config.rewrite_local(ref)]:
            with contextlib.suppress(store_mod.ImageNotFound):
                return await asyncio.to_thread(store.resolve, str(candidate))
    return await pull(store, client, name, progress=progress)

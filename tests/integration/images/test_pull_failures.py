"""A pull that breaks off, or gets bytes that are not what the manifest says, keeps nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from pyk8s.images import archive, distribution, pull
from pyk8s.images import store as store_mod
from tests import imagekit
from tests.e2e.images.registry_fixture import free_port

Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


@pytest.fixture
async def fake_registry(
    tmp_path: Path,
) -> AsyncIterator[Callable[[Handler], Awaitable[tuple[str, imagekit.Built]]]]:
    """A registry serving one image whose big layer blob ``handler`` answers."""
    runners: list[web.AppRunner] = []
    big = {"big": bytes(range(256)) * 8000}  # ~2 MB, so the download takes several chunks
    built = imagekit.build_image([{"a": "1"}, big], compress=False)

    async def start(handler: Handler) -> tuple[str, imagekit.Built]:
        async def serve(request: web.Request) -> web.StreamResponse:
            kind, ref = request.match_info["kind"], request.match_info["ref"]
            if kind == "manifests":
                return web.Response(
                    body=built.blobs[built.manifest],
                    headers={
                        "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                        "Docker-Content-Digest": built.manifest,
                    },
                )
            data = built.blobs.get(ref)
            if data is None:
                return web.Response(status=404)
            if ref == built.layers[1]:
                return await handler(request, data)
            return web.Response(body=data)

        async def base(request: web.Request) -> web.StreamResponse:
            return web.json_response({})

        app = web.Application()
        app.router.add_get("/v2/", base)
        app.router.add_get("/v2/{name:.+}/{kind:manifests|blobs}/{ref}", serve)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return f"127.0.0.1:{port}", built

    yield start
    for r in runners:
        await r.cleanup()


async def _assert_nothing_kept(store: store_mod.Store, built: imagekit.Built) -> None:
    assert await asyncio.to_thread(store.refs) == {}
    assert not await asyncio.to_thread(store.blobs.has, built.layers[1])
    assert await asyncio.to_thread(lambda: list(store.blobs.tmp.iterdir())) == []


async def test_connection_lost_mid_blob(fake_registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def half(request: web.Request, data: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(len(data))})
        await resp.prepare(request)
        await resp.write(data[: len(data) // 2])
        assert request.transport is not None
        request.transport.close()
        return resp

    host, built = await fake_registry(half)
    store = await asyncio.to_thread(store_mod.Store, tmp_path / "s")
    async with distribution.Client() as c:
        with pytest.raises(pull.PullError, match=host):
            await pull.pull(store, c, f"{host}/app:1")
    await _assert_nothing_kept(store, built)


async def test_wrong_bytes_for_a_digest(fake_registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def tampered(request: web.Request, data: bytes) -> web.StreamResponse:
        return web.Response(body=data[:-1] + bytes([data[-1] ^ 0xFF]))

    host, built = await fake_registry(tampered)
    store = await asyncio.to_thread(store_mod.Store, tmp_path / "s")
    async with distribution.Client() as c:
        with pytest.raises(pull.PullError, match="digest mismatch"):
            await pull.pull(store, c, f"{host}/app:1")
    await _assert_nothing_kept(store, built)
    # A good copy afterwards goes through: nothing half-kept stands in the way.
    tar = tmp_path / "good.tar"
    await asyncio.to_thread(imagekit.write_oci_archive, tar, [(built, "app:1")])
    await asyncio.to_thread(archive.import_archive, store, tar)

"""Blob downloads that redirect elsewhere (object storage) are followed, without credentials."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
from aiohttp import web

from pyk8s.images import archive, distribution, pull, registries, registry
from pyk8s.images import store as store_mod
from tests import imagekit
from tests.e2e.images.registry_fixture import free_port

AUTH = "Basic " + base64.b64encode(b"u:p").decode()


async def test_pull_follows_redirects_and_drops_credentials(tmp_path: Path) -> None:
    backing = await asyncio.to_thread(store_mod.Store, tmp_path / "backing")
    built = imagekit.build_image([{"a": "1"}, {"b": "2"}])
    tar = tmp_path / "img.tar"
    await asyncio.to_thread(imagekit.write_oci_archive, tar, [(built, "app:1")])
    await asyncio.to_thread(archive.import_archive, backing, tar)

    seen_at_cdn: list[str | None] = []

    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen_at_cdn.append(request.headers.get("Authorization"))
        return await handler(request)

    cdn_app = registry.Registry(backing).app()
    cdn_app.middlewares.insert(0, record)
    cdn_port = free_port("127.0.0.2")
    front_port = free_port()

    async def front(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != AUTH:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="front"'})
        path = request.match_info["tail"]
        if "/blobs/" in path:
            raise web.HTTPTemporaryRedirect(f"http://127.0.0.2:{cdn_port}/v2/{path}?signature=abc")
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"http://127.0.0.2:{cdn_port}/v2/{path}",
                headers={"Accept": request.headers.get("Accept", "")},
            ) as r,
        ):
            return web.Response(
                body=await r.read(),
                status=r.status,
                headers={
                    k: v
                    for k, v in r.headers.items()
                    if k in ("Content-Type", "Docker-Content-Digest")
                },
            )

    front_app = web.Application()
    front_app.router.add_get("/v2/{tail:.*}", front)
    runners = [web.AppRunner(cdn_app), web.AppRunner(front_app)]
    for r in runners:
        await r.setup()
    await web.TCPSite(runners[0], "127.0.0.2", cdn_port).start()
    await web.TCPSite(runners[1], "127.0.0.1", front_port).start()
    try:
        dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
        host = f"127.0.0.1:{front_port}"
        async with distribution.Client(credentials={host: registries.Auth("u", "p")}) as c:
            image = await pull.pull(dest, c, f"{host}/app:1")
        assert image.manifest_digest == built.manifest
        blob_requests = [a for a in seen_at_cdn]
        assert len(blob_requests) >= 3  # manifest (proxied) + config + 2 layers
        assert all(a is None for a in blob_requests)
    finally:
        for r in runners:
            await r.cleanup()

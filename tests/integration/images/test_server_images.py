"""``pyk8s server`` imports the air-gap folder at start and, with ``--registry-port``, serves
the image store as a registry."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from pyk8s.cluster import server, settings
from pyk8s.images.settings import ImagesConfig
from pyk8s.storage.factory import StorageConfig
from tests import imagekit
from tests.e2e.images.registry_fixture import free_port


async def test_server_imports_air_gap_images_and_serves_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = data / "images" / "import"
    await asyncio.to_thread(folder.mkdir, parents=True)
    built = imagekit.build_image([{"hello": "world"}])
    await asyncio.to_thread(imagekit.write_docker_archive, folder / "app.tar", built, ["app:1"])
    port = free_port()
    cfg = settings.ClusterSettings(
        storage=StorageConfig(data_dir=data, datastore_endpoint="memory://"),
        images=ImagesConfig(
            store_root=data / "images", registry_port=port, registry_bind_address="127.0.0.1"
        ),
    )
    task = asyncio.create_task(server.run(cfg, with_apiserver=False))
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(200):
                try:
                    async with s.get(f"http://127.0.0.1:{port}/v2/app/manifests/1") as r:
                        if r.status == 200:
                            assert r.headers["Docker-Content-Digest"]
                            break
                except aiohttp.ClientConnectorError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the server's registry never served app:1")
            async with s.get(f"http://127.0.0.1:{port}/v2/_catalog") as r:
                assert await r.json() == {"repositories": ["app"]}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

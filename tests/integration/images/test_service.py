"""The kubelet's image service against an in-process ``pyk8s registry``."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyk8s.images import archive, pull, registries, registry, service
from pyk8s.images import store as store_mod
from tests import imagekit
from tests.e2e.images.registry_fixture import free_port


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, imagekit.Built]]:
    store = await asyncio.to_thread(store_mod.Store, tmp_path / "served")
    built = imagekit.build_image(
        [{"bin/": "", "bin/app": "#!/bin/sh\n"}, {"etc/": "", "etc/conf": "x"}], cmd=["/bin/app"]
    )
    tar = tmp_path / "app.tar"
    await asyncio.to_thread(imagekit.write_oci_archive, tar, [(built, "team/app:v1")])
    await asyncio.to_thread(archive.import_archive, store, tar)
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(
        registry.serve(store, "127.0.0.1", port, users={"kube": "let-me-in"}, ready=ready)
    )
    await asyncio.wait_for(ready.wait(), 30)
    try:
        yield f"127.0.0.1:{port}", built
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def pull_secret(host: str) -> bytes:
    auth = base64.b64encode(b"kube:let-me-in").decode()
    return json.dumps({"auths": {f"https://{host}": {"auth": auth}}}).encode()


async def test_pull_status_runtime_image_remove(
    served: tuple[str, imagekit.Built], tmp_path: Path
) -> None:
    host, built = served
    svc = service.ImageService(tmp_path / "node")
    name = f"{host}/team/app:v1"
    assert await svc.status(name) is None
    creds = service.credentials_from_dockerconfig(pull_secret(host))
    assert creds == {host: registries.Auth("kube", "let-me-in")}
    a, b = await asyncio.gather(
        svc.pull(name, credentials=creds), svc.pull(name, credentials=creds)
    )
    assert a == b
    assert a.id == built.config
    assert a.repo_tags == (name,)
    assert a.repo_digests == (f"{host}/team/app@{built.manifest}",)
    assert await svc.status(name) == a
    assert [i.id for i in await svc.list()] == [built.config]

    rt = await svc.runtime_image(name)
    assert rt.cmd == ("/bin/app",) and rt.env == ("PATH=/bin",)
    assert [p.parent.name for p in rt.layers] == [d.removeprefix("sha256:") for d in built.diff_ids]
    assert (rt.layers[1] / "etc/conf").read_text() == "x"

    info = await svc.fs_info()
    assert info["used_bytes"] > 0 and info["reclaimable_bytes"] == 0
    await svc.remove(name)
    assert await svc.status(name) is None
    assert (await svc.fs_info())["used_bytes"] == 0
    await svc.remove(name)  # absent: fine


async def test_pull_without_credentials_fails_clearly(
    served: tuple[str, imagekit.Built], tmp_path: Path
) -> None:
    host, _ = served
    svc = service.ImageService(tmp_path / "node")
    with pytest.raises(pull.PullError, match="wants a username and password"):
        await svc.pull(f"{host}/team/app:v1")


async def test_images_wait_for_the_air_gap_preload(tmp_path: Path) -> None:
    """The server's node agent registers while air-gap images are imported; a pod's look at
    its image waits for the import, or it would find nothing and pull."""
    built = imagekit.build_image([{"bin/": "", "bin/app": "#!/bin/sh\n"}], cmd=["/bin/app"])
    tar = tmp_path / "app.tar"
    await asyncio.to_thread(imagekit.write_oci_archive, tar, [(built, "team/app:v1")])
    preloaded = asyncio.Event()
    svc = service.ImageService(tmp_path / "node", preloaded=preloaded)
    looking = asyncio.create_task(svc.status("team/app:v1"))
    await asyncio.sleep(0.2)
    assert not looking.done()
    assert await svc.list() == []  # the node's image list does not wait
    store = await svc.store()
    await asyncio.to_thread(archive.import_archive, store, tar)
    preloaded.set()
    info = await asyncio.wait_for(looking, 30)
    assert info is not None and info.id == built.config

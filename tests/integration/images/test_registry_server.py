"""``pyk8s registry`` (in-process) driven by our client and by skopeo."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from pyk8s.images import archive, distribution, manifest, pull, registries, registry
from pyk8s.images import store as store_mod
from tests import imagekit
from tests.e2e.images.registry_fixture import free_port


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, store_mod.Store]]:
    store = await asyncio.to_thread(store_mod.Store, tmp_path / "served")
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(registry.serve(store, "127.0.0.1", port, users=None, ready=ready))
    await asyncio.wait_for(ready.wait(), 30)
    try:
        yield f"127.0.0.1:{port}", store
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def _import(store: store_mod.Store, tmp: Path, built: imagekit.Built, name: str) -> None:
    path = tmp / f"{abs(hash(name))}.tar"
    await asyncio.to_thread(imagekit.write_oci_archive, path, [(built, name)])
    await asyncio.to_thread(archive.import_archive, store, path)


async def test_pull_push_catalog_tags_delete(
    served: tuple[str, store_mod.Store], tmp_path: Path
) -> None:
    host, store = served
    built = imagekit.build_image([{"a": "1"}, {"b": "2"}])
    await _import(store, tmp_path, built, "docker.io/library/app:v1")
    local = await asyncio.to_thread(store_mod.Store, tmp_path / "local")
    async with distribution.Client() as c:
        # "app" and "library/app" are both docker.io/library/app.
        for name in (f"{host}/app:v1", f"{host}/library/app:v1"):
            image = await pull.pull(local, c, name)
            assert image.manifest_digest == built.manifest
        digest = await pull.push(local, c, f"{host}/app:v1", f"{host}/team/tool:1")
        assert digest == built.manifest
        await pull.push(local, c, f"{host}/app:v1", f"{host}/team/tool:2")
    assert (await asyncio.to_thread(store.resolve, "team/tool:1")).id == built.config

    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://{host}/v2/_catalog") as r:
            assert await r.json() == {"repositories": ["app", "team/tool"]}
        async with s.get(f"http://{host}/v2/_catalog?n=1") as r:
            assert (await r.json())["repositories"] == ["app"]
            assert r.headers["Link"] == '</v2/_catalog?n=1&last=app>; rel="next"'
        async with s.get(f"http://{host}/v2/team/tool/tags/list") as r:
            assert await r.json() == {"name": "team/tool", "tags": ["1", "2"]}
        async with s.head(f"http://{host}/v2/team/tool/manifests/1") as r:
            assert r.headers["Docker-Content-Digest"] == built.manifest
            assert r.headers["Content-Type"] == manifest.OCI_MANIFEST
        async with s.get(
            f"http://{host}/v2/team/tool/blobs/{built.layers[0]}", headers={"Range": "bytes=0-1"}
        ) as r:
            assert r.status == 206 and await r.read() == built.blobs[built.layers[0]][:2]
        async with s.delete(f"http://{host}/v2/team/tool/manifests/2") as r:
            assert r.status == 202
        async with s.get(f"http://{host}/v2/team/tool/manifests/2") as r:
            assert r.status == 404
            assert (await r.json())["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        async with s.delete(f"http://{host}/v2/team/tool/manifests/{built.manifest}") as r:
            assert r.status == 202
        async with s.get(f"http://{host}/v2/team/tool/tags/list") as r:
            assert (await r.json())["errors"][0]["code"] == "NAME_UNKNOWN"
        async with s.get(f"http://{host}/v2/Bad/tags/list") as r:
            assert r.status == 404
        async with s.get(f"http://{host}/v2/app/blobs/sha256:{'0' * 64}") as r:
            assert (await r.json())["errors"][0]["code"] == "BLOB_UNKNOWN"


async def test_uploads_verify_digests_and_manifests_their_blobs(
    served: tuple[str, store_mod.Store],
) -> None:
    host, store = served
    data = b"hello blob"
    good = imagekit.sha(data)
    async with aiohttp.ClientSession() as s:
        async with s.post(f"http://{host}/v2/x/blobs/uploads/") as r:
            assert r.status == 202
            loc = r.headers["Location"]
        async with s.patch(f"http://{host}{loc}", data=data[:5]) as r:
            assert r.status == 202 and r.headers["Range"] == "0-4"
        async with s.put(f"http://{host}{loc}?digest=sha256:{'1' * 64}", data=data[5:]) as r:
            assert r.status == 400
            assert (await r.json())["errors"][0]["code"] == "DIGEST_INVALID"
        async with s.post(f"http://{host}/v2/x/blobs/uploads/?digest={good}", data=data) as r:
            assert r.status == 201 and r.headers["Docker-Content-Digest"] == good
        async with s.post(f"http://{host}/v2/y/blobs/uploads/?mount={good}&from=x") as r:
            assert r.status == 201  # cross-repository mount
        m = {
            "schemaVersion": 2,
            "mediaType": manifest.OCI_MANIFEST,
            "config": {"mediaType": manifest.OCI_CONFIG, "digest": f"sha256:{'2' * 64}", "size": 2},
            "layers": [],
        }
        async with s.put(
            f"http://{host}/v2/x/manifests/v1",
            data=json.dumps(m),
            headers={"Content-Type": manifest.OCI_MANIFEST},
        ) as r:
            assert r.status == 400
            assert (await r.json())["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
        async with s.put(
            f"http://{host}/v2/x/manifests/v1",
            data=b"{not json",
            headers={"Content-Type": manifest.OCI_MANIFEST},
        ) as r:
            assert (await r.json())["errors"][0]["code"] == "MANIFEST_INVALID"
    assert await asyncio.to_thread(store.refs) == {}
    assert not list((store.root / "tmp").iterdir())
    # Pushed but not yet named by a manifest: pinned, so a prune meanwhile keeps it.
    await asyncio.to_thread(store.gc)
    assert await asyncio.to_thread(store.blobs.has, good)


async def test_basic_auth(tmp_path: Path) -> None:
    store = await asyncio.to_thread(store_mod.Store, tmp_path / "served")
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(
        registry.serve(store, "127.0.0.1", port, users={"bob": "pw"}, ready=ready)
    )
    await asyncio.wait_for(ready.wait(), 30)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/v2/") as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        ep = registries.Endpoint(f"http://127.0.0.1:{port}", "x", "", False)
        async with distribution.Client(
            credentials={f"127.0.0.1:{port}": registries.Auth("bob", "pw")}
        ) as c:
            await c.ping(ep)
        async with distribution.Client(
            credentials={f"127.0.0.1:{port}": registries.Auth("bob", "no")}
        ) as c:
            with pytest.raises(distribution.AuthError):
                await c.ping(ep)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def skopeo(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "skopeo", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_skopeo_pushes_pulls_and_deletes(
    served: tuple[str, store_mod.Store], tmp_path: Path
) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo missing (installed by make deps from hack/system-packages.txt)")
    host, store = served
    built = imagekit.build_image([{"etc/": "", "etc/x": "x" * 5000}, {"y": "y"}])
    src = tmp_path / "src.tar"
    await asyncio.to_thread(imagekit.write_oci_archive, src, [(built, "whatever:1")])
    await skopeo(
        "copy", "--dest-tls-verify=false", f"oci-archive:{src}", f"docker://{host}/team/app:v1"
    )
    image = await asyncio.to_thread(store.resolve, "team/app:v1")
    assert image.manifest_digest == built.manifest and image.diff_ids == built.diff_ids
    raw = await skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/team/app:v1")
    assert json.loads(raw) == json.loads(built.blobs[built.manifest])
    tags = json.loads(await skopeo("list-tags", "--tls-verify=false", f"docker://{host}/team/app"))
    assert tags["Tags"] == ["v1"]
    out = tmp_path / "back.tar"
    await skopeo(
        "copy", "--src-tls-verify=false", f"docker://{host}/team/app:v1", f"oci-archive:{out}:x/y:z"
    )
    other = await asyncio.to_thread(store_mod.Store, tmp_path / "other")
    [imp] = await asyncio.to_thread(archive.import_archive, other, out)
    assert imp.image.id == built.config
    await skopeo("delete", "--tls-verify=false", f"docker://{host}/team/app:v1")
    assert await asyncio.to_thread(store.refs) == {}

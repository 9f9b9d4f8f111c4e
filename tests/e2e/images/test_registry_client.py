"""Pull and push against Debian's docker-registry, cross-checked with skopeo."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyk8s.images import archive, distribution, manifest, pull, registries
from pyk8s.images import store as store_mod
from tests.e2e.images.conftest import need_tools
from tests.e2e.images.registry_fixture import PASSWORD, USER, Registry, docker_registry

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with docker_registry(tmp_path / "registry") as r:
        yield r


@pytest.fixture
def busybox_store(image_tarball: Callable[[str], Path], tmp_path: Path) -> store_mod.Store:
    s = store_mod.Store(tmp_path / "src")
    archive.import_archive(s, image_tarball("busybox"))
    return s


def client(
    reg: Registry, *, user: str = USER, password: str = PASSWORD, **kw: object
) -> distribution.Client:
    creds = {reg.host: registries.Auth(user, password)} if user else {}
    return distribution.Client(registries.Registries(**kw), credentials=creds)  # type: ignore[arg-type]


async def test_push_then_pull_with_basic_auth(
    registry: Registry, busybox_store: store_mod.Store, tmp_path: Path
) -> None:
    src = await asyncio.to_thread(busybox_store.resolve, "busybox")
    async with client(registry) as c:
        digest = await pull.push(busybox_store, c, "busybox", f"{registry.host}/lib/busybox:1.37")
    assert digest == src.manifest_digest
    dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
    async with client(registry) as c:
        image = await pull.pull(dest, c, f"{registry.host}/lib/busybox:1.37")
    assert image.manifest_digest == src.manifest_digest
    assert image.id == src.id
    assert image.names == (f"{registry.host}/lib/busybox:1.37",)
    assert (dest.layer_path(image.diff_ids[0]) / "fs/bin/busybox").is_file()
    # Pull by digest, and push again: every blob is already there.
    async with client(registry) as c:
        by_digest = await pull.pull(dest, c, f"{registry.host}/lib/busybox@{digest}")
        assert by_digest.id == src.id
        assert (
            await pull.push(busybox_store, c, "busybox", f"{registry.host}/lib/busybox:again")
            == digest
        )
        assert sorted(
            await c.tags(registries.Endpoint(f"http://{registry.host}", "lib/busybox", "", False))
        ) == ["1.37", "again"]


async def test_auth_failures_are_clear(
    registry: Registry, busybox_store: store_mod.Store, tmp_path: Path
) -> None:
    dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
    async with client(registry, user="") as c:
        with pytest.raises(pull.PullError, match="wants a username and password"):
            await pull.pull(dest, c, f"{registry.host}/lib/none:1")
    async with client(registry, password="wrong") as c:
        with pytest.raises(pull.PullError, match="401"):
            await pull.pull(dest, c, f"{registry.host}/lib/none:1")
    async with client(registry) as c:
        with pytest.raises(pull.PullError, match=r"MANIFEST_UNKNOWN|NAME_UNKNOWN"):
            await pull.pull(dest, c, f"{registry.host}/lib/none:1")
    assert dest.refs() == {}


async def test_index_pull_picks_this_platform(
    registry: Registry, busybox_store: store_mod.Store, tmp_path: Path
) -> None:
    src = await asyncio.to_thread(busybox_store.resolve, "busybox")
    raw = await asyncio.to_thread(busybox_store.blobs.read, src.manifest_digest)
    ep = registries.Endpoint(f"http://{registry.host}", "lib/multi", "", False)
    async with client(registry) as c:
        await pull.push(busybox_store, c, "busybox", f"{registry.host}/lib/multi:amd")
        other = {"os": "linux", "architecture": "s390x"}
        host = manifest.host_platform()
        index = {
            "schemaVersion": 2,
            "mediaType": manifest.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": src.manifest.media_type,
                    "digest": src.manifest_digest,
                    "size": len(raw),
                    "platform": other,
                },
                {
                    "mediaType": src.manifest.media_type,
                    "digest": src.manifest_digest,
                    "size": len(raw),
                    "platform": {"os": host.os, "architecture": host.architecture},
                },
            ],
        }
        data = json.dumps(index).encode()
        index_digest = await c.put_manifest(ep, "multi", data, manifest.OCI_INDEX)
        dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
        image = await pull.pull(dest, c, f"{registry.host}/lib/multi:multi")
    assert image.target == index_digest
    assert image.manifest_digest == src.manifest_digest


async def test_mirror_and_rewrite(
    registry: Registry, busybox_store: store_mod.Store, tmp_path: Path
) -> None:
    async with client(registry) as c:
        await pull.push(busybox_store, c, "busybox", f"{registry.host}/mirrored/busybox:latest")
    config = registries.Registries.parse(
        {
            "mirrors": {
                "docker.io": {
                    "endpoint": [f"http://{registry.host}"],
                    "rewrite": {"^library/(.*)": "mirrored/$1"},
                }
            },
            "configs": {registry.host: {"auth": {"username": USER, "password": PASSWORD}}},
        }
    )
    dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
    async with distribution.Client(config) as c:
        image = await pull.pull(dest, c, "busybox")
    assert image.names == ("docker.io/library/busybox:latest",)
    assert "mirrored/busybox/manifests/latest" in registry.log.read_text()


async def test_skopeo_is_an_independent_client(
    registry: Registry, busybox_store: store_mod.Store, tmp_path: Path
) -> None:
    need_tools("skopeo")
    src = await asyncio.to_thread(busybox_store.resolve, "busybox")
    async with client(registry) as c:
        await pull.push(busybox_store, c, "busybox", f"{registry.host}/ours/busybox:1")
    creds = f"{USER}:{PASSWORD}"

    def skopeo(*args: str) -> str:
        p = subprocess.run(
            ["skopeo", *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert p.returncode == 0, p.stderr
        return p.stdout

    # skopeo reads what we pushed...
    raw = await asyncio.to_thread(
        skopeo,
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        creds,
        f"docker://{registry.host}/ours/busybox:1",
    )
    assert json.loads(raw) == src.manifest.raw
    # ...and pushes (as Docker schema 2, gzip) what we then pull.
    oci = tmp_path / "bb.tar"
    await asyncio.to_thread(archive.export_archive, busybox_store, ["busybox"], oci)
    await asyncio.to_thread(
        skopeo,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        "--format",
        "v2s2",
        f"oci-archive:{oci}",
        f"docker://{registry.host}/theirs/busybox:v2s2",
    )
    dest = await asyncio.to_thread(store_mod.Store, tmp_path / "dest")
    async with client(registry) as c:
        image = await pull.pull(dest, c, f"{registry.host}/theirs/busybox:v2s2")
    assert image.manifest.media_type == manifest.DOCKER_MANIFEST
    assert image.diff_ids == src.diff_ids


class Recorder:
    def __init__(self) -> None:
        self.status: dict[str, str] = {}

    def start(self, key: str, description: str, total: int) -> None:
        pass

    def advance(self, key: str, n: int) -> None:
        pass

    def finish(self, key: str, status: str) -> None:
        self.status[key] = status


async def test_push_to_another_repository_mounts_blobs(
    registry: Registry, busybox_store: store_mod.Store
) -> None:
    first, second = Recorder(), Recorder()
    async with client(registry) as c:
        await pull.push(busybox_store, c, "busybox", f"{registry.host}/a/bb:1", progress=first)
        await pull.push(busybox_store, c, "busybox", f"{registry.host}/b/bb:1", progress=second)
    assert set(first.status.values()) == {"pushed"}
    assert set(second.status.values()) == {"mounted"}
    assert "mount=" in registry.log.read_text()

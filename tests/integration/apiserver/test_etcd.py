"""The API server on a real etcd: what clients do lands under /registry as in Kubernetes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pyk8s.api import errors, scheme
from pyk8s.apiserver import server
from pyk8s.apiserver.settings import APIServerConfig
from pyk8s.client import rest
from pyk8s.storage.etcd.backend import EtcdStorage
from tests.integration.apiserver.conftest import free_port
from tests.support import etcdserver
from tests.support.etcdserver import EtcdServer

CM = rest.ResourceRef.from_resource(scheme.DEFAULT.lookup("", "v1", "configmaps"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdServer]:
    if etcdserver.binary() is None or etcdserver.etcdctl() is None:
        pytest.skip("etcd/etcdctl are not installed (Debian etcd-server, etcd-client)")
    with EtcdServer() as server_:
        yield server_


@pytest.fixture
async def api_on_etcd(
    etcd: EtcdServer, tmp_path: Path
) -> AsyncIterator[tuple[APIServerConfig, str]]:
    prefix = f"/it-{uuid.uuid4().hex[:8]}"
    store = await EtcdStorage.open(etcd.endpoint, prefix=prefix)
    config = APIServerConfig(data_dir=tmp_path, https_port=free_port(), bind_address="127.0.0.1")
    ready = asyncio.Event()
    task = asyncio.create_task(server.run(config, store, ready))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task in done:
        task.result()
    assert ready.is_set(), "API server did not become ready"
    try:
        yield config, prefix
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
        await etcdctl(etcd, "del", "--prefix", prefix + "/")


async def etcdctl(etcd: EtcdServer, *args: str) -> str:
    exe = etcdserver.etcdctl()
    assert exe is not None
    proc = await asyncio.create_subprocess_exec(
        exe,
        f"--endpoints={etcd.endpoint}",
        *args,
        env={**os.environ, "ETCDCTL_API": "3"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_api_server_on_etcd(
    etcd: EtcdServer, api_on_etcd: tuple[APIServerConfig, str]
) -> None:
    config, prefix = api_on_etcd
    async with await rest.Client.from_kubeconfig(config.kubeconfig_path) as c:
        listed = await c.list(CM, "default")
        events = c.watch(CM, "default", resource_version=listed["metadata"]["resourceVersion"])
        created = await c.create(CM, {"metadata": {"name": "c1"}, "data": {"a": "1"}}, "default")
        async with contextlib.aclosing(events):
            async with asyncio.timeout(10):
                async for ev in events:
                    if ev.type == "ADDED" and ev.object["metadata"]["name"] == "c1":
                        break
        # resourceVersion is etcd's mod_revision of the key.
        raw = await etcdctl(etcd, "get", f"{prefix}/configmaps/default/c1", "-w", "json")
        assert f'"mod_revision":{created["metadata"]["resourceVersion"]}' in raw
        stale = dict(created, data={"x": "y"})
        await c.patch(CM, "c1", {"data": {"b": "2"}}, "default")
        with pytest.raises(errors.Conflict):
            await c.update(CM, stale, "default")
        keys = (await etcdctl(etcd, "get", prefix, "--prefix", "--keys-only")).split()
        assert f"{prefix}/configmaps/default/c1" in keys
        assert f"{prefix}/namespaces/default" in keys
        await c.delete(CM, "c1", "default")
        keys = (await etcdctl(etcd, "get", prefix, "--prefix", "--keys-only")).split()
        assert f"{prefix}/configmaps/default/c1" not in keys

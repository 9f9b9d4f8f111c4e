"""Two API servers on one etcd: a CRD created through one is served by the other (each
server's CRD registry watches storage), and so is its deletion."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pyk8s.api import errors
from pyk8s.apiserver import server
from pyk8s.apiserver.settings import APIServerConfig
from pyk8s.client import rest
from pyk8s.storage.etcd.backend import EtcdStorage
from tests.integration.apiserver.conftest import free_port
from tests.integration.apiserver.test_customresources import CRDS, GROUP, crd, crontab
from tests.integration.apiserver.test_etcd import etcd, etcdctl  # noqa: F401
from tests.support.etcdserver import EtcdServer


@contextlib.asynccontextmanager
async def api(etcd_: EtcdServer, prefix: str, data: Path) -> AsyncIterator[rest.Client]:
    store = await EtcdStorage.open(etcd_.endpoint, prefix=prefix)
    config = APIServerConfig(data_dir=data, https_port=free_port(), bind_address="127.0.0.1")
    ready = asyncio.Event()
    task = asyncio.create_task(server.run(config, store, ready))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task in done:
        task.result()
    try:
        async with await rest.Client.from_kubeconfig(config.kubeconfig_path) as c:
            yield c
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


async def _until(check: Any, what: str) -> Any:
    for _ in range(200):
        with contextlib.suppress(errors.NotFound):
            got = await check()
            if got:
                return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out: {what}")


async def test_a_crd_made_on_one_server_is_served_by_the_other(
    etcd: EtcdServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    prefix = f"/ha-{uuid.uuid4().hex[:8]}"
    async with (
        api(etcd, prefix, tmp_path / "a") as a,
        api(etcd, prefix, tmp_path / "b") as b,
    ):
        await a.request("POST", CRDS, body=crd())
        path = f"/apis/{GROUP}/v1/namespaces/default/crontabs"

        async def served_by_b() -> Any:
            return await b.request("GET", path)

        await _until(served_by_b, "server b to serve crontabs")
        created = await b.request("POST", path, body=crontab("ha"))
        assert created["spec"]["image"] == "busybox"
        got = await a.request("GET", f"{path}/ha")
        assert got["metadata"]["uid"] == created["metadata"]["uid"]

        keys = await etcdctl(etcd, "get", f"{prefix}/{GROUP}", "--prefix", "--keys-only")
        assert keys.split() == [f"{prefix}/{GROUP}/crontabs/default/ha"]
        await b.request("DELETE", f"{CRDS}/crontabs.{GROUP}")

        async def gone_from_a() -> bool:
            try:
                await a.request("GET", path)
            except errors.NotFound:
                return True
            return False

        await _until(gone_from_a, "server a to stop serving crontabs")
        keys = await etcdctl(etcd, "get", f"{prefix}/{GROUP}", "--prefix", "--keys-only")
        assert keys.strip() == ""
        await etcdctl(etcd, "del", "--prefix", prefix + "/")

"""An in-process API server on a free port over memory storage, and an HTTPS client."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from pyk8s.apiserver import server
from pyk8s.apiserver.registry.generic.store import WriteOptions
from pyk8s.apiserver.settings import APIServerConfig
from pyk8s.storage.memory import MemoryStorage
from tests.support.ports import free_port


@dataclass
class Client:
    session: aiohttp.ClientSession
    base: str

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        async with self.session.request(
            method, self.base + path, data=data, headers=hdrs, params=params
        ) as resp:
            text = await resp.read()
            try:
                return resp.status, orjson.loads(text)
            except orjson.JSONDecodeError:
                return resp.status, text.decode()

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
        return await self.request("PUT", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.request("DELETE", path, **kw)


@dataclass
class Cluster:
    config: APIServerConfig
    port: int
    api: server.APIServer
    storage: MemoryStorage

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ssl_context(self, *, client_cert: bool = True) -> ssl.SSLContext:
        tls = self.config.pki_dir
        ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        if client_cert:
            ctx.load_cert_chain(tls / "admin.crt", tls / "admin.key")
        return ctx


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    port = free_port()
    token_file = tmp_path / "tokens.csv"
    token_file.write_text('secret-token,alice,1001,"devs,qa"\n')
    config = APIServerConfig(
        data_dir=tmp_path,
        https_port=port,
        bind_address="127.0.0.1",
        token_auth_file=token_file,
        bookmark_interval=0.5,
    )
    store = MemoryStorage()
    ready = asyncio.Event()
    holder: dict[str, server.APIServer] = {}

    def started(api: server.APIServer, _port: int) -> None:
        holder["api"] = api

    task = asyncio.create_task(server.run(config, store, ready, started=started))
    done, _ = await asyncio.wait(
        [task, asyncio.create_task(ready.wait())],
        timeout=30,
        return_when=asyncio.FIRST_COMPLETED,
    )
    if task in done:
        task.result()
    assert ready.is_set(), "API server did not become ready"
    # What the ServiceAccount controller makes first: without it, the ServiceAccount admission
    # plugin refuses every pod (as upstream's does).
    accounts = holder["api"].rest[("", "v1", "serviceaccounts")].store
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        await accounts.create(ns, sa, WriteOptions())
    try:
        yield Cluster(config, port, holder["api"], store)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[Client]:
    ctx = await asyncio.to_thread(cluster.ssl_context)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        yield Client(s, cluster.base)


@pytest.fixture
async def anonymous(cluster: Cluster) -> AsyncIterator[Client]:
    ctx = await asyncio.to_thread(cluster.ssl_context, client_cert=False)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        yield Client(s, cluster.base)

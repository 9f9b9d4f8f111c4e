"""The real API server in-process (memory storage) and our client pointed at its kubeconfig."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyk8s.apiserver import server
from pyk8s.apiserver.settings import APIServerConfig
from pyk8s.client import rest
from pyk8s.storage.memory import MemoryStorage
from tests.support.ports import free_port

TOKEN = "client-test-token"


@dataclass
class ApiServer:
    config: APIServerConfig
    storage: MemoryStorage

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.config.https_port}"


@pytest.fixture
async def apiserver(tmp_path: Path) -> AsyncIterator[ApiServer]:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f'{TOKEN},carol,2001,"devs"\n')
    config = APIServerConfig(
        data_dir=tmp_path,
        https_port=free_port(),
        bind_address="127.0.0.1",
        token_auth_file=tokens,
        bookmark_interval=0.2,
    )
    store = MemoryStorage()
    ready = asyncio.Event()
    task = asyncio.create_task(server.run(config, store, ready))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    waiter.cancel()
    assert ready.is_set(), "the API server did not become ready"
    try:
        yield ApiServer(config, store)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[rest.Client]:
    """Admin credentials (an embedded client certificate) from the server's kubeconfig."""
    c = await rest.Client.from_kubeconfig(apiserver.config.kubeconfig_path)
    try:
        yield c
    finally:
        await c.close()

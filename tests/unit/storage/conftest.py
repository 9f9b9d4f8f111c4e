"""The ``store`` fixture: one contract suite, run against every backend.

Each backend registers a factory in BACKENDS; a factory is an async context
manager yielding an open ``storage.Interface`` (and cleaning up after it).
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyk8s.storage.etcd import client as etcd
from pyk8s.storage.etcd.backend import EtcdStorage
from pyk8s.storage.interface import Interface
from pyk8s.storage.memory import MemoryStorage
from pyk8s.storage.sqlite.log import SqliteStorage
from tests.support import etcdserver

Factory = Callable[..., contextlib.AbstractAsyncContextManager[Interface]]


@contextlib.asynccontextmanager
async def memory_backend(tmp_path: Path, **options: Any) -> AsyncIterator[Interface]:
    store = MemoryStorage(**options)
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def sqlite_backend(tmp_path: Path, **options: Any) -> AsyncIterator[Interface]:
    store = await SqliteStorage.open(tmp_path / "state.db", **options)
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def etcd_backend(
    tmp_path: Path, *, server: etcdserver.EtcdServer, **options: Any
) -> AsyncIterator[Interface]:
    """A store on the session's etcd, in a key space of its own (wiped afterwards)."""
    prefix = f"/pyk8s-test-{uuid.uuid4().hex[:12]}"
    store = await EtcdStorage.open(server.endpoint, prefix=prefix, **options)
    try:
        yield store
    finally:
        await store.close()
        wiper = await etcd.Client.connect(etcd.Endpoints.parse(server.endpoint))
        try:
            raw = prefix.encode()
            await wiper.delete(raw, etcd.prefix_end(raw))
        finally:
            await wiper.close()


BACKENDS: dict[str, Factory] = {
    "memory": memory_backend,
    "sqlite": sqlite_backend,
    "etcd": etcd_backend,
}
NEEDS: dict[str, str] = {"etcd": "etcd_server"}
"""Backends whose factory takes ``server=`` from a (session) fixture."""


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[etcdserver.EtcdServer]:
    """One real etcd for the whole session, on free loopback ports, stopped at the end."""
    if etcdserver.binary() is None:
        pytest.skip("etcd is not installed (Debian etcd-server; `make deps` installs it)")
    with etcdserver.EtcdServer() as server:
        yield server


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    """A function making a fresh store of this backend: ``async with backend() as s``."""
    factory = BACKENDS[request.param]
    if request.param in NEEDS:
        factory = functools.partial(factory, server=request.getfixturevalue(NEEDS[request.param]))
    return lambda **options: factory(tmp_path, **options)


@pytest.fixture
async def store(backend: Callable[..., Any]) -> AsyncIterator[Interface]:
    async with backend() as s:
        yield s

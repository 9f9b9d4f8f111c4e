"""The ``store`` fixture: one contract suite, run against every backend.

Each backend registers a factory in BACKENDS; a factory is an async context
manager yielding an open ``storage.Interface`` (and cleaning up after it).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pyk8s.storage.interface import Interface
from pyk8s.storage.memory import MemoryStorage
from pyk8s.storage.sqlite.log import SqliteStorage

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


BACKENDS: dict[str, Factory] = {"memory": memory_backend, "sqlite": sqlite_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    """A function making a fresh store of this backend: ``async with backend() as s``."""
    factory = BACKENDS[request.param]
    return lambda **options: factory(tmp_path, **options)


@pytest.fixture
async def store(backend: Callable[..., Any]) -> AsyncIterator[Interface]:
    async with backend() as s:
        yield s

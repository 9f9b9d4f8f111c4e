"""The real API server in-process (memory storage) with the controller-manager running on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pyk8s.client import rest
from pyk8s.controllers import manager
from pyk8s.controllers.config import ControllerManagerConfig
from tests.integration.client.conftest import ApiServer, apiserver, client

__all__ = ["ApiServer", "apiserver", "client"]


@pytest.fixture
async def controllers(client: rest.Client) -> AsyncIterator[ControllerManagerConfig]:
    config = ControllerManagerConfig(lease_duration=4.0, renew_deadline=3.0, retry_period=0.5)
    ready = asyncio.Event()
    task = asyncio.create_task(manager.run(config, client, ready))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([task, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    waiter.cancel()
    assert ready.is_set(), "the controllers did not start"
    try:
        yield config
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something true (or fail with its last error)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = await check()
            if result:
                return result
        except AssertionError as e:
            last = e
        if asyncio.get_running_loop().time() > deadline:
            if last is not None:
                raise last
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)

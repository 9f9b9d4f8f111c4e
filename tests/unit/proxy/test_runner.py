"""The bounded-frequency runner, on a fake clock (pyk8s/proxy/runner.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from pyk8s.client.clock import FakeClock
from pyk8s.proxy.runner import BoundedFrequencyRunner


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Calls:
    def __init__(self) -> None:
        self.at: list[float] = []
        self.fail = 0

    def fn(self, clock: FakeClock) -> Callable[[], asyncio.Future[None]]:
        async def sync() -> None:
            self.at.append(clock.now() - 1000)
            if self.fail:
                self.fail -= 1
                raise RuntimeError("boom")

        return sync  # type: ignore[return-value]


@pytest.fixture
async def setup() -> AsyncIterator[tuple[FakeClock, Calls, BoundedFrequencyRunner]]:
    clock = FakeClock(start=1000)
    calls = Calls()
    r = BoundedFrequencyRunner(
        "t", calls.fn(clock), min_interval=1, max_interval=30, retry_interval=5, clock=clock
    )
    task = asyncio.get_running_loop().create_task(r.run())
    await settle()
    try:
        yield clock, calls, r
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_runs_at_once_then_folds_requests_within_min_interval(setup):
    clock, calls, r = setup
    assert calls.at == [0]
    for _ in range(5):
        r.request()
    await settle()
    assert calls.at == [0]  # not before min_interval
    clock.advance(1)
    await settle()
    assert calls.at == [0, 1]  # five requests, one run
    await settle()
    assert calls.at == [0, 1]


async def test_runs_every_max_interval_without_requests(setup):
    clock, calls, _ = setup
    clock.advance(29)
    await settle()
    assert calls.at == [0]
    clock.advance(1)
    await settle()
    assert calls.at == [0, 30]


async def test_failure_is_retried(setup):
    clock, calls, r = setup
    calls.fail = 1
    clock.advance(2)
    r.request()
    await settle()
    assert calls.at == [0, 2]
    clock.advance(5)
    await settle()
    assert calls.at == [0, 2, 7]
    assert r.failures == 1


def test_bad_intervals() -> None:
    async def fn() -> None: ...

    with pytest.raises(ValueError, match="min_interval"):
        BoundedFrequencyRunner("x", fn, min_interval=5, max_interval=1)

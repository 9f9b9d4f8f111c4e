"""Run a sync when asked, but not more often than a floor and not less often than a ceiling.

Mirrors ``pkg/util/async/bounded_frequency_runner.go`` (``BoundedFrequencyRunner``: ``Run``
on request, at most every ``minInterval``, at least every ``maxInterval``, ``RetryAfter`` on
failure). Requests that arrive while a sync runs are folded into one more sync after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from pyk8s.client import clock as clock_

log = logging.getLogger(__name__)


class BoundedFrequencyRunner:
    def __init__(
        self,
        name: str,
        fn: Callable[[], Awaitable[object]],
        *,
        min_interval: float,
        max_interval: float,
        retry_interval: float = 1.0,
        clock: clock_.Clock | None = None,
    ) -> None:
        if not 0 <= min_interval <= max_interval:
            raise ValueError(f"{name}: want 0 <= min_interval <= max_interval")
        self.name = name
        self.fn = fn
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.retry_interval = retry_interval
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self._wanted = asyncio.Event()
        self._last: float | None = None
        self._retry: clock_.Timer | None = None
        self.runs = 0
        self.failures = 0

    def request(self) -> None:
        """Ask for a sync soon (no later than ``min_interval`` after the last one)."""
        self._wanted.set()

    async def run(self, *, synced: bool = False) -> None:
        """Sync now (``synced``: the caller just did), then when asked or ``max_interval`` passes.

        Runs until cancelled.
        """
        if synced:
            self._last = self.clock.now()
        else:
            self._wanted.set()
        try:
            while True:
                await self._wait_for_turn()
                self._wanted.clear()
                self._last = self.clock.now()
                try:
                    await self.fn()
                except Exception:
                    self.failures += 1
                    log.exception("%s failed; retrying in %.1fs", self.name, self.retry_interval)
                    self._retry = self.clock.call_later(self.retry_interval, self.request)
                self.runs += 1
        finally:
            if self._retry is not None:
                self._retry.cancel()

    async def _wait_for_turn(self) -> None:
        if self._last is not None:
            ceiling = self._last + self.max_interval - self.clock.now()
            if ceiling > 0 and not self._wanted.is_set():
                await self._wait(ceiling)
            floor = self._last + self.min_interval - self.clock.now()
            if floor > 0:
                await self.clock.sleep(floor)

    async def _wait(self, timeout: float) -> None:
        """Until a request comes or ``timeout`` passes on the runner's clock."""
        waiter = asyncio.ensure_future(self._wanted.wait())
        sleeper = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

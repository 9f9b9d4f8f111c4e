"""Exponential backoff with jitter that resets after a quiet period.

Mirrors k8s.io/apimachinery/pkg/util/wait ``NewExponentialBackoffManager`` as the
reflector uses it (800 ms doubling to 30 s, jitter 1.0, reset after 2 minutes
without a backoff): when the API server is unhealthy a client settles at one
attempt every 30-60 s instead of hammering it.
"""

from __future__ import annotations

import random

from pyk8s.client import clock as clock_


class Backoff:
    def __init__(
        self,
        initial: float = 0.8,
        maximum: float = 30.0,
        reset_after: float = 120.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        clock: clock_.Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self.factor = factor
        self.jitter = jitter
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self.rng = rng or random.Random()
        self._current = initial
        self._last: float | None = None

    def next(self) -> float:
        """The next delay: grows by ``factor`` up to ``maximum``, plus up to ``jitter`` of it."""
        now = self.clock.now()
        if self._last is not None and now - self._last > self.reset_after:
            self._current = self.initial
        self._last = now
        delay = self._current
        self._current = min(self._current * self.factor, self.maximum)
        if self.jitter > 0:
            delay += self.rng.random() * self.jitter * delay
        return delay

    def reset(self) -> None:
        self._current = self.initial
        self._last = None

    async def sleep(self) -> None:
        await self.clock.sleep(self.next())

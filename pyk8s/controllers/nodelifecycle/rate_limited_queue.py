"""The per-zone queue of nodes waiting for a NoExecute taint, drained at a limited rate.

Mirrors ``pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go``
(``RateLimitedTimedQueue``: a set of node names ordered by when they may be
processed; ``Try`` hands the head to a callback while the limiter accepts;
``SwapLimiter`` changes the rate, 0 stopping it) and client-go's
``flowcontrol.NewTokenBucketRateLimiter`` (``TryAccept``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pyk8s.client import clock as clock_

EVICTION_RATE_LIMITER_BURST = 1
"""Upstream's ``EvictionRateLimiterBurst``."""


class TokenBucket:
    """``qps`` tokens a second, at most ``burst`` saved; ``qps <= 0`` never accepts."""

    def __init__(self, qps: float, burst: int, clock: clock_.Clock) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst) if qps > 0 else 0.0
        self._last = clock.now()

    def _refill(self) -> None:
        now = self.clock.now()
        if self.qps > 0:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return False
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def next_token_in(self) -> float | None:
        """Seconds until a token is there (None: never)."""
        if self.qps <= 0:
            return None
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.qps)


@dataclass(order=True)
class TimedValue:
    process_at: float
    seq: int
    value: str = field(compare=False)
    uid: str = field(compare=False, default="")


Action = Callable[[TimedValue], Awaitable[tuple[bool, float]]]
"""Returns (done, retry after seconds); not done puts the value back for later."""


class RateLimitedTimedQueue:
    def __init__(self, qps: float, clock: clock_.Clock) -> None:
        self.clock = clock
        self.limiter = TokenBucket(qps, EVICTION_RATE_LIMITER_BURST, clock)
        self._heap: list[TimedValue] = []
        self._members: dict[str, TimedValue] = {}
        self._set: set[str] = set()
        """Queued values and processed ones (``UniqueQueue.set``): added once until removed."""
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, value: str) -> bool:
        return value in self._members

    def add(self, value: str, uid: str) -> bool:
        """Queue ``value`` for now; False when it is queued or was processed (not removed)."""
        if value in self._set:
            return False
        item = TimedValue(self.clock.now(), next(self._seq), value, uid)
        self._members[value] = item
        self._set.add(value)
        heapq.heappush(self._heap, item)
        return True

    def remove(self, value: str) -> bool:
        """Forget ``value``, queued or processed, so that it may be added again."""
        self._members.pop(value, None)
        if value in self._set:
            self._set.discard(value)
            return True
        return False

    def _head(self) -> TimedValue | None:
        while self._heap:
            item = self._heap[0]
            if self._members.get(item.value) is item:
                return item
            heapq.heappop(self._heap)
        return None

    async def try_(self, action: Action) -> None:
        """Process queued values while the limiter accepts and they are due.

        A value done stays known (``RemoveFromQueue``): adding it again does nothing
        until :meth:`remove`.
        """
        item = self._head()
        while item is not None:
            if not self.limiter.try_accept():
                return
            now = self.clock.now()
            if now < item.process_at:
                return
            heapq.heappop(self._heap)
            del self._members[item.value]
            done, wait = await action(item)
            if not done and item.value in self._set and item.value not in self._members:
                again = TimedValue(now + wait + 1e-9, next(self._seq), item.value, item.uid)
                self._members[item.value] = again
                heapq.heappush(self._heap, again)
            item = self._head()

    def swap_limiter(self, qps: float) -> None:
        if self.limiter.qps == qps:
            return
        new = TokenBucket(qps, EVICTION_RATE_LIMITER_BURST, self.clock)
        # Waiting on the old limiter: drain the new one, as upstream does (burst is 1).
        if qps > 0 and not self.limiter.try_accept():
            new.try_accept()
        self.limiter = new

    def next_due_in(self) -> float | None:
        """Seconds until ``try_`` could process something (None: nothing queued or stopped)."""
        item = self._head()
        token = self.limiter.next_token_in()
        if item is None or token is None:
            return None
        return max(token, item.process_at - self.clock.now(), 0.0)

"""Work queues for controllers, with client-go's guarantees.

Mirrors k8s.io/client-go/util/workqueue: ``queue.go`` (the queue itself),
``delaying_queue.go`` (``add_after``), ``rate_limiting_queue.go`` and
``default_rate_limiters.go`` (per-item exponential backoff, an overall token bucket).

The guarantees a controller relies on:

- An item is processed by at most one worker at a time: ``get`` moves it from
  ``dirty`` to ``processing``; an ``add`` while it is processing only marks it
  dirty, and ``done`` puts it back in the queue then.
- An item waiting in the queue is there once, however often it was added.
- ``add_after`` keeps the earliest of the requested times for an item.
- After ``shut_down`` the queue takes nothing new; ``get`` still hands out what is
  queued and then raises :class:`QueueShutDown`. ``shut_down_with_drain`` also
  waits until every item being processed is ``done``.

Everything runs on one event loop, so there are no locks: the sets are plain sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from pyk8s.client import clock as clock_

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)


class QueueShutDown(Exception):
    """Raised by :meth:`Queue.get` once the queue is shut down and empty."""


class Queue(Generic[T]):
    """A FIFO of distinct items with the dirty/processing bookkeeping of ``queue.go``."""

    def __init__(self, clock: clock_.Clock | None = None) -> None:
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._shutting_down = False
        self._drain = False
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drained = asyncio.Event()

    def add(self, item: T) -> None:
        """Mark ``item`` as needing processing."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    def __len__(self) -> int:
        """Items waiting (not those being processed); for information only."""
        return len(self._queue)

    async def get(self) -> T:
        """Wait for an item; the caller must call :meth:`done` with it afterwards."""
        while not self._queue and not self._shutting_down:
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(waiter)
                if self._queue:
                    self._wake_one()  # we may have swallowed a wake-up meant for someone
                raise
        if not self._queue:
            raise QueueShutDown
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """Finish processing ``item``; re-queue it if it was added meanwhile."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        elif not self._processing:
            self._drained.set()

    def shut_down(self) -> None:
        """Take no new items; workers get what is queued, then :class:`QueueShutDown`."""
        self._drain = False
        self._shutting_down = True
        self._drained.set()
        self._wake_all()

    async def shut_down_with_drain(self) -> None:
        """Like :meth:`shut_down`, then wait until every item in processing is done.

        Workers must keep calling ``done``; a later :meth:`shut_down` ends the wait.
        """
        self._drain = True
        self._shutting_down = True
        self._wake_all()
        while self._processing and self._drain:
            self._drained.clear()
            await self._drained.wait()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def is_processing(self, item: T) -> bool:
        return item in self._processing

    def is_dirty(self, item: T) -> bool:
        return item in self._dirty

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class DelayingQueue(Queue[T]):
    """A :class:`Queue` that can add an item later (``delaying_queue.go``).

    Waiting items sit in a heap; one timer on the clock fires at the earliest
    ready time and moves every ready item into the queue.
    """

    def __init__(self, clock: clock_.Clock | None = None) -> None:
        super().__init__(clock)
        self._waiting: dict[T, float] = {}
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()
        self._timer: clock_.Timer | None = None
        self._timer_at = 0.0

    def add_after(self, item: T, delay: float) -> None:
        """Add ``item`` after ``delay`` seconds; an earlier pending time wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self.clock.now() + delay
        known = self._waiting.get(item)
        if known is not None and known <= ready_at:
            return
        self._waiting[item] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), item))
        self._arm(ready_at)

    def waiting(self) -> int:
        """How many items wait for their time (for information and tests)."""
        return len(self._waiting)

    def shut_down(self) -> None:
        self._disarm()
        super().shut_down()

    async def shut_down_with_drain(self) -> None:
        self._disarm()
        await super().shut_down_with_drain()

    def _arm(self, ready_at: float) -> None:
        if self._timer is not None and self._timer_at <= ready_at:
            return
        self._disarm()
        self._timer_at = ready_at
        self._timer = self.clock.call_later(ready_at - self.clock.now(), self._fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._shutting_down:
            return
        now = self.clock.now()
        while self._heap and self._heap[0][0] <= now:
            ready_at, _, item = heapq.heappop(self._heap)
            if self._waiting.get(item) != ready_at:
                continue  # superseded by an earlier add_after
            del self._waiting[item]
            self.add(item)
        while self._heap and self._waiting.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if self._heap:
            self._arm(self._heap[0][0])


class RateLimiter(Protocol[T_contra]):
    """Decides how long an item waits before its next retry (``RateLimiter``)."""

    def when(self, item: T_contra) -> float:
        """Seconds to wait before retrying ``item``; counts as one more failure."""
        ...

    def forget(self, item: T_contra) -> None:
        """Stop tracking ``item`` (it succeeded, or was given up on)."""
        ...

    def num_requeues(self, item: T_contra) -> int: ...


class ItemExponentialFailureRateLimiter(Generic[T]):
    """``base * 2**failures`` seconds per item, capped at ``max_delay``."""

    def __init__(self, base_delay: float, max_delay: float) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= 1024:  # 2**1024 overflows a float; the cap has long been reached
            return self.max_delay
        return min(self.base_delay * 2.0**exp, self.max_delay)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class ItemFastSlowRateLimiter(Generic[T]):
    """``fast_delay`` for the first ``max_fast_attempts`` failures, then ``slow_delay``."""

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        self.fast_delay = fast_delay
        self.slow_delay = slow_delay
        self.max_fast_attempts = max_fast_attempts
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        n = self._failures.get(item, 0) + 1
        self._failures[item] = n
        return self.fast_delay if n <= self.max_fast_attempts else self.slow_delay

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[T]):
    """An overall token bucket (``qps`` refill, ``burst`` size), golang.org/x/time/rate style.

    Each ``when`` reserves one token; when the bucket is empty the reservation is
    taken anyway and the answer is how long until that token exists.
    """

    def __init__(self, qps: float, burst: int, clock: clock_.Clock | None = None) -> None:
        self.qps = qps
        self.burst = burst
        self.clock: clock_.Clock = clock or clock_.RealClock()
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: T) -> float:
        now = self.clock.now()
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    def forget(self, item: T) -> None:
        pass

    def num_requeues(self, item: T) -> int:
        return 0


class MaxOfRateLimiter(Generic[T]):
    """Asks every limiter and answers with the longest wait."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        self.limiters = limiters

    def when(self, item: T) -> float:
        return max((limiter.when(item) for limiter in self.limiters), default=0.0)

    def forget(self, item: T) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return max((limiter.num_requeues(item) for limiter in self.limiters), default=0)


def default_controller_rate_limiter(clock: clock_.Clock | None = None) -> MaxOfRateLimiter[T]:
    """Per item 5 ms doubling up to 1000 s, and overall 10 qps with a burst of 100."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter[T](0.005, 1000.0),
        BucketRateLimiter[T](10.0, 100, clock),
    )


class RateLimitingQueue(DelayingQueue[T]):
    """A :class:`DelayingQueue` whose retries wait as the rate limiter says."""

    def __init__(
        self,
        rate_limiter: RateLimiter[T] | None = None,
        clock: clock_.Clock | None = None,
    ) -> None:
        super().__init__(clock)
        self.rate_limiter: RateLimiter[T] = rate_limiter or default_controller_rate_limiter(
            self.clock
        )

    def add_rate_limited(self, item: T) -> None:
        """Add ``item`` again once the rate limiter allows (one more failure)."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Reset ``item``'s failure count (it was processed successfully)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

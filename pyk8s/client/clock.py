"""Time as the client machinery sees it, injectable so tests never sleep.

Mirrors k8s.io/utils/clock (``Clock``, ``WithTicker``) and its ``testing.FakeClock``:
the workqueue, the reflector's backoff, informer resyncs, leader election and the
event recorder all take a :class:`Clock`. :class:`RealClock` reads the event
loop's monotonic time and schedules with ``loop.call_later``; :class:`FakeClock`
moves only when a test calls :meth:`FakeClock.advance`, firing due timers in
deadline order (trio's ``MockClock`` and Go's ``FakeClock.Step``).
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
from collections.abc import Callable
from typing import Protocol


def micro_time(t: datetime.datetime) -> str:
    """``metav1.MicroTime`` text: RFC 3339 with microseconds, in UTC."""
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic seconds for durations, wall time for timestamps written to objects."""

    def now(self) -> float:
        """Monotonic seconds; only differences mean anything."""
        ...

    def wall(self) -> datetime.datetime:
        """The current UTC time (for ``renewTime``, ``eventTime`` and the like)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` (synchronously, on the loop) after ``delay`` seconds."""
        ...

    async def sleep(self, delay: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(delay, 0.0))


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that stands still until :meth:`advance` is called."""

    def __init__(
        self,
        start: float = 1000.0,
        wall_start: datetime.datetime | None = None,
    ) -> None:
        self._now = start
        self._start = start
        self._wall_start = wall_start or datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime.datetime:
        return self._wall_start + datetime.timedelta(seconds=self._now - self._start)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(self._now + max(delay, 0.0), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, earliest first."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, deadline)
            timer.callback()
        self._now = target

    def pending(self) -> int:
        """How many timers are waiting (sleepers included)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def next_deadline(self) -> float | None:
        live = [d for d, _, t in self._timers if not t.cancelled]
        return min(live) if live else None

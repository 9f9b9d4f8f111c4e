from __future__ import annotations

import asyncio
import datetime

from pyk8s.client import clock


def test_fake_clock_fires_timers_in_deadline_order() -> None:
    fc = clock.FakeClock(start=0.0)
    fired: list[tuple[str, float]] = []
    fc.call_later(3, lambda: fired.append(("c", fc.now())))
    fc.call_later(1, lambda: fired.append(("a", fc.now())))
    cancelled = fc.call_later(2, lambda: fired.append(("x", fc.now())))
    fc.call_later(2, lambda: fired.append(("b", fc.now())))
    cancelled.cancel()
    fc.advance(2.5)
    assert fired == [("a", 1.0), ("b", 2.0)]
    assert fc.now() == 2.5
    assert fc.pending() == 1
    fc.advance(1)
    assert fired[-1] == ("c", 3.0)


def test_fake_clock_timer_scheduled_by_a_timer_fires_in_the_same_advance() -> None:
    fc = clock.FakeClock(start=0.0)
    fired: list[float] = []
    fc.call_later(1, lambda: fc.call_later(1, lambda: fired.append(fc.now())))
    fc.advance(5)
    assert fired == [2.0]


def test_fake_clock_wall_follows_monotonic() -> None:
    start = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    fc = clock.FakeClock(wall_start=start)
    fc.advance(90)
    assert fc.wall() == start + datetime.timedelta(seconds=90)


async def test_fake_sleep_wakes_only_after_advance() -> None:
    fc = clock.FakeClock()
    sleeper = asyncio.create_task(fc.sleep(10))
    await asyncio.sleep(0)
    fc.advance(9)
    await asyncio.sleep(0)
    assert not sleeper.done()
    fc.advance(1)
    await asyncio.wait_for(sleeper, 1)


async def test_cancelled_fake_sleep_leaves_no_timer() -> None:
    fc = clock.FakeClock()
    sleeper = asyncio.create_task(fc.sleep(10))
    await asyncio.sleep(0)
    sleeper.cancel()
    await asyncio.gather(sleeper, return_exceptions=True)
    assert fc.pending() == 0


async def test_real_clock() -> None:
    rc = clock.RealClock()
    t0 = rc.now()
    fired = asyncio.Event()
    rc.call_later(0.001, fired.set)
    await asyncio.wait_for(fired.wait(), 2)
    await rc.sleep(0)
    assert rc.now() >= t0
    assert rc.wall().tzinfo is not None

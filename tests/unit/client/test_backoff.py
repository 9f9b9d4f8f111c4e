from __future__ import annotations

import asyncio
import random

from pyk8s.client import backoff, clock


def test_doubles_to_the_cap_without_jitter() -> None:
    fc = clock.FakeClock()
    b = backoff.Backoff(initial=0.8, maximum=30, jitter=0, clock=fc)
    assert [b.next() for _ in range(8)] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30]


def test_jitter_adds_up_to_the_delay() -> None:
    b = backoff.Backoff(
        initial=1, maximum=100, jitter=1.0, clock=clock.FakeClock(), rng=random.Random(3)
    )
    for base in (1, 2, 4, 8):
        assert base <= b.next() < 2 * base


def test_resets_after_a_quiet_period() -> None:
    fc = clock.FakeClock()
    b = backoff.Backoff(initial=1, maximum=100, reset_after=120, jitter=0, clock=fc)
    assert [b.next() for _ in range(3)] == [1, 2, 4]
    fc.advance(119)
    assert b.next() == 8
    fc.advance(121)
    assert b.next() == 1
    b.next()
    b.reset()
    assert b.next() == 1


async def test_sleep_uses_the_clock() -> None:
    fc = clock.FakeClock()
    b = backoff.Backoff(initial=5, jitter=0, clock=fc)
    task = asyncio.create_task(b.sleep())
    await asyncio.sleep(0)
    assert fc.next_deadline() == fc.now() + 5
    fc.advance(5)
    await asyncio.wait_for(task, 1)

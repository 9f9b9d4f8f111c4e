"""The workqueue guarantees of client-go's queue_test.go, delaying_queue_test.go and
rate_limiting_queue_test.go, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from pyk8s.client import clock, workqueue


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_add_is_deduplicated_and_fifo() -> None:
    q: workqueue.Queue[str] = workqueue.Queue()
    for key in ("a", "b", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]


async def test_add_while_processing_marks_dirty_and_requeues_on_done() -> None:
    q: workqueue.Queue[str] = workqueue.Queue()
    q.add("a")
    item = await q.get()
    assert q.is_processing("a")
    q.add("a")
    q.add("a")
    # Not handed to a second worker while the first still holds it.
    assert len(q) == 0
    assert q.is_dirty("a")
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_one_worker_per_key_under_concurrency() -> None:
    q: workqueue.Queue[str] = workqueue.Queue()
    active: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except workqueue.QueueShutDown:
                return
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0)
            if len(processed) < 20:
                q.add(key)  # re-added while processing: must wait for done()
            await asyncio.sleep(0)
            active.discard(key)
            processed.append(key)
            q.done(key)

    for k in ("a", "b", "c"):
        q.add(k)
    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for _ in range(200):
        await asyncio.sleep(0)
    await q.shut_down_with_drain()
    q.shut_down()
    await asyncio.gather(*workers)
    assert overlaps == []
    assert len(processed) > 20


async def test_get_blocks_until_add() -> None:
    q: workqueue.Queue[int] = workqueue.Queue()
    getter = asyncio.create_task(q.get())
    await settle()
    assert not getter.done()
    q.add(7)
    assert await getter == 7


async def test_cancelled_getter_does_not_lose_item() -> None:
    q: workqueue.Queue[int] = workqueue.Queue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await settle()
    q.add(1)
    first.cancel()
    await settle()
    assert second.done()
    assert second.result() == 1


async def test_shutdown_hands_out_queued_items_then_raises() -> None:
    q: workqueue.Queue[str] = workqueue.Queue()
    q.add("a")
    q.shut_down()
    q.add("b")  # ignored
    assert q.shutting_down
    assert await q.get() == "a"
    with pytest.raises(workqueue.QueueShutDown):
        await q.get()


async def test_shutdown_wakes_blocked_getters() -> None:
    q: workqueue.Queue[str] = workqueue.Queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await settle()
    q.shut_down()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, workqueue.QueueShutDown) for r in results)


async def test_shutdown_with_drain_waits_for_processing() -> None:
    q: workqueue.Queue[str] = workqueue.Queue()
    q.add("a")
    q.add("b")
    a = await q.get()
    b = await q.get()
    drain = asyncio.create_task(q.shut_down_with_drain())
    await settle()
    assert not drain.done()
    q.done(a)
    await settle()
    assert not drain.done()
    q.done(b)
    await asyncio.wait_for(drain, 1)


async def test_shutdown_ends_a_drain_wait() -> None:
    q: workqueue.Queue[str] = workqueue.Queue()
    q.add("a")
    await q.get()
    drain = asyncio.create_task(q.shut_down_with_drain())
    await settle()
    assert not drain.done()
    q.shut_down()
    await asyncio.wait_for(drain, 1)


async def test_add_after_fires_on_the_fake_clock() -> None:
    fc = clock.FakeClock()
    q: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(fc)
    q.add_after("a", 5.0)
    q.add_after("b", 1.0)
    assert len(q) == 0
    assert q.waiting() == 2
    fc.advance(0.999)
    assert len(q) == 0
    fc.advance(0.001)
    assert len(q) == 1
    assert await q.get() == "b"
    fc.advance(4.0)
    assert await q.get() == "a"
    assert q.waiting() == 0


async def test_add_after_keeps_the_earliest_time() -> None:
    fc = clock.FakeClock()
    q: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(fc)
    q.add_after("a", 10.0)
    q.add_after("a", 2.0)
    q.add_after("a", 50.0)
    fc.advance(2.0)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    fc.advance(100.0)
    assert len(q) == 0  # the later entries did not re-add it


async def test_add_after_zero_adds_now() -> None:
    q: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(clock.FakeClock())
    q.add_after("a", 0)
    q.add_after("b", -1)
    assert len(q) == 2


async def test_add_after_wakes_a_waiting_worker() -> None:
    fc = clock.FakeClock()
    q: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(fc)
    getter = asyncio.create_task(q.get())
    q.add_after("x", 3.0)
    await settle()
    assert not getter.done()
    fc.advance(3.0)
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_add_after_ignored_after_shutdown() -> None:
    fc = clock.FakeClock()
    q: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(fc)
    q.add_after("a", 1.0)
    q.shut_down()
    fc.advance(5.0)
    q.add_after("b", 1.0)
    assert len(q) == 0
    assert fc.pending() == 0


async def test_delaying_queue_on_the_real_clock() -> None:
    q: workqueue.DelayingQueue[str] = workqueue.DelayingQueue()
    q.add_after("a", 0.01)
    assert await asyncio.wait_for(q.get(), 2) == "a"


def test_item_exponential_backoff() -> None:
    rl: workqueue.ItemExponentialFailureRateLimiter[str] = (
        workqueue.ItemExponentialFailureRateLimiter(0.001, 1.0)
    )
    assert [rl.when("a") for _ in range(5)] == [0.001, 0.002, 0.004, 0.008, 0.016]
    assert rl.num_requeues("a") == 5
    assert rl.when("b") == 0.001
    for _ in range(20):
        rl.when("a")
    assert rl.when("a") == 1.0
    rl.forget("a")
    assert rl.num_requeues("a") == 0
    assert rl.when("a") == 0.001


def test_item_exponential_backoff_never_overflows() -> None:
    rl: workqueue.ItemExponentialFailureRateLimiter[str] = (
        workqueue.ItemExponentialFailureRateLimiter(0.005, 1000.0)
    )
    for _ in range(2000):
        delay = rl.when("a")
    assert delay == 1000.0


def test_fast_slow() -> None:
    rl: workqueue.ItemFastSlowRateLimiter[str] = workqueue.ItemFastSlowRateLimiter(0.1, 5.0, 2)
    assert [rl.when("a") for _ in range(4)] == [0.1, 0.1, 5.0, 5.0]
    rl.forget("a")
    assert rl.when("a") == 0.1


def test_bucket_allows_burst_then_spaces_at_qps() -> None:
    fc = clock.FakeClock()
    rl: workqueue.BucketRateLimiter[str] = workqueue.BucketRateLimiter(10.0, 3, fc)
    assert [rl.when("x") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.when("x") == pytest.approx(0.1)
    assert rl.when("x") == pytest.approx(0.2)
    fc.advance(1.0)  # refills: -2 + 10 tokens, capped at the burst
    assert [rl.when("x") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.when("x") > 0


def test_default_controller_rate_limiter_is_max_of_both() -> None:
    fc = clock.FakeClock()
    rl: workqueue.MaxOfRateLimiter[str] = workqueue.default_controller_rate_limiter(fc)
    assert rl.when("a") == 0.005
    assert rl.when("a") == 0.01
    # The overall bucket (burst 100 at 10 qps) takes over once exhausted.
    for i in range(98):
        rl.when(f"k{i}")
    assert rl.when("fresh") == pytest.approx(0.1)
    assert rl.num_requeues("a") == 2
    rl.forget("a")
    assert rl.num_requeues("a") == 0


async def test_rate_limiting_queue_retries_with_backoff_and_forget() -> None:
    fc = clock.FakeClock()
    rl: workqueue.ItemExponentialFailureRateLimiter[str] = (
        workqueue.ItemExponentialFailureRateLimiter(1.0, 60.0)
    )
    q: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(rl, fc)
    q.add_rate_limited("a")  # waits 1 s
    q.add_rate_limited("a")  # 2 s; the earlier time wins
    assert q.num_requeues("a") == 2
    fc.advance(1.0)
    assert await q.get() == "a"
    q.done("a")
    q.add_rate_limited("a")  # third failure: 4 s
    fc.advance(3.9)
    assert len(q) == 0
    fc.advance(0.1)
    assert len(q) == 1
    q.forget("a")
    assert q.num_requeues("a") == 0


async def test_rate_limiting_queue_default_limiter() -> None:
    fc = clock.FakeClock()
    q: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(clock=fc)
    q.add_rate_limited("a")
    assert len(q) == 0
    fc.advance(0.005)
    assert len(q) == 1

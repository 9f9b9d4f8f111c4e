"""Leader election against the in-test API server, on a fake clock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pyk8s.client import clock, kubeconfig, leaderelection, rest

from .fakeapi import FakeApi, serving, status

LEASES = "/apis/coordination.k8s.io/v1/leases"


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def client(api: FakeApi) -> AsyncIterator[rest.Client]:
    async with serving(api) as url, rest.Client(kubeconfig.Config(url)) as c:
        yield c


@pytest.fixture
def fc() -> clock.FakeClock:
    return clock.FakeClock()


def lease(api: FakeApi) -> dict[str, Any]:
    return api.objects[(LEASES, "kube-system", "kcm")]["spec"]  # type: ignore[no-any-return]


async def settle(
    cond: Callable[[], bool], fc: clock.FakeClock, step: float = 0.5, limit: float = 300.0
) -> None:
    """Let real I/O run, moving the fake clock by ``step`` until ``cond`` holds."""
    moved = 0.0
    while True:
        for _ in range(10):
            if cond():
                return
            await asyncio.sleep(0.001)
        if moved >= limit:
            raise AssertionError("condition not reached")
        fc.advance(step)
        moved += step


class Candidate:
    def __init__(self, client: rest.Client, identity: str, fc: clock.FakeClock, **kw: Any) -> None:
        self.leading = asyncio.Event()
        self.work_cancelled = False
        self.stopped = False
        self.leaders: list[str] = []
        self.seen_at: dict[str, float] = {}
        self.elector = leaderelection.LeaderElector(
            leaderelection.LeaseLock(client, "kube-system", "kcm", identity),
            self.work,
            on_stopped_leading=self.stop,
            on_new_leader=self.new_leader,
            clock=fc,
            rng=random.Random(identity),
            **kw,
        )
        self.task: asyncio.Task[None] | None = None

    def new_leader(self, identity: str) -> None:
        self.leaders.append(identity)
        self.seen_at.setdefault(identity, self.elector.clock.now())

    async def work(self) -> None:
        self.leading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.work_cancelled = True
            raise

    def stop(self) -> None:
        self.stopped = True

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run())

    async def cancel(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_acquire_creates_the_lease_and_renews(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    a = Candidate(client, "a", fc)
    a.start()
    await asyncio.wait_for(a.leading.wait(), 5)
    assert a.elector.is_leader()
    spec = lease(api)
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
    assert a.leaders == ["a"]
    first_renew = spec["renewTime"]
    await settle(lambda: lease(api)["renewTime"] != first_renew, fc)
    assert lease(api)["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert lease(api)["holderIdentity"] == "a"
    await a.cancel()
    assert a.work_cancelled and a.stopped
    assert lease(api)["holderIdentity"] == ""  # released on the way out
    assert lease(api)["leaseDurationSeconds"] == 1


async def test_second_candidate_waits_then_takes_over_after_release(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    a, b = Candidate(client, "a", fc), Candidate(client, "b", fc)
    a.start()
    await asyncio.wait_for(a.leading.wait(), 5)
    b.start()
    await settle(lambda: b.elector.leader == "a", fc)
    assert not b.elector.is_leader()
    await settle(lambda: len([r for r in api.requests if r.method == "GET"]) >= 3, fc)
    assert not b.leading.is_set()
    await a.cancel()
    await settle(b.leading.is_set, fc)
    assert lease(api)["holderIdentity"] == "b"
    assert lease(api)["leaseTransitions"] == 1
    assert b.leaders[0] == "a"
    assert b.leaders[-1] == "b"
    await b.cancel()


async def test_dead_leader_is_replaced_after_the_lease_duration(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    a = Candidate(client, "a", fc, release_on_cancel=False)
    a.start()
    await asyncio.wait_for(a.leading.wait(), 5)
    await a.cancel()  # dies without releasing
    assert lease(api)["holderIdentity"] == "a"
    b = Candidate(client, "b", fc)
    b.start()
    await settle(b.leading.is_set, fc)
    # It first saw a's lease, then waited it out (15 s on its own clock) before taking it.
    assert b.leaders[0] == "a"
    assert b.seen_at["b"] - b.seen_at["a"] >= 15
    assert lease(api)["holderIdentity"] == "b"
    assert lease(api)["leaseTransitions"] == 1
    await b.cancel()


async def test_leader_that_cannot_renew_stops_leading(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    a = Candidate(client, "a", fc)
    a.start()
    await asyncio.wait_for(a.leading.wait(), 5)
    for _ in range(100):
        api.fail_next(500, status(500, "InternalError", "etcd is down"))
    assert a.task is not None
    await settle(a.task.done, fc)
    assert a.work_cancelled
    assert a.stopped
    assert a.task.exception() is None


async def test_work_that_returns_ends_leadership(
    api: FakeApi, client: rest.Client, fc: clock.FakeClock
) -> None:
    done = asyncio.Event()

    async def work() -> None:
        done.set()

    elector = leaderelection.LeaderElector(
        leaderelection.LeaseLock(client, "kube-system", "kcm", "a"), work, clock=fc
    )
    await asyncio.wait_for(elector.run(), 5)
    assert done.is_set()
    assert lease(api)["holderIdentity"] == ""


async def test_work_that_fails_is_raised(client: rest.Client, fc: clock.FakeClock) -> None:
    async def work() -> None:
        raise RuntimeError("controller crashed")

    elector = leaderelection.LeaderElector(
        leaderelection.LeaseLock(client, "kube-system", "kcm", "a"), work, clock=fc
    )
    with pytest.raises(RuntimeError, match="controller crashed"):
        await asyncio.wait_for(elector.run(), 5)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        pytest.param({"lease_duration": 10, "renew_deadline": 10}, "lease_duration", id="lease"),
        pytest.param({"renew_deadline": 2, "retry_period": 2}, "retry_period", id="retry"),
    ],
)
def test_bad_timings_are_refused(kw: dict[str, float], message: str) -> None:
    async def work() -> None:
        pass

    lock = leaderelection.LeaseLock(None, "ns", "n", "me")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        leaderelection.LeaderElector(lock, work, **kw)

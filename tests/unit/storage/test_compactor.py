"""The automatic compaction policy: keep max(last N revisions, last T seconds)."""

from __future__ import annotations

import asyncio

import pytest

from pyk8s.storage import compactor
from pyk8s.storage.memory import MemoryStorage


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # (seconds ago, revision) samples, then the current revision at "now".
        pytest.param([], 0, id="first-round-keeps-everything"),
        pytest.param([(400, 500)], 500, id="only-revisions-older-than-min-age"),
        pytest.param([(400, 5_000)], 5_000, id="old-sample-bounds-by-age"),
        pytest.param([(100, 9_000)], 0, id="busy-but-everything-is-recent"),
        pytest.param([(600, 100), (400, 8_000), (100, 9_000)], 8_000, id="newest-old-sample"),
    ],
)
def test_policy_target(history: list[tuple[float, int]], expected: int) -> None:
    clock = FakeClock()
    policy = compactor.Policy(min_revisions=1000, min_age=300, clock=clock)
    start = clock.now
    for ago, rev in history:
        clock.now = start - ago
        policy.target(rev)
    clock.now = start
    assert policy.target(10_000) == expected


def test_policy_never_keeps_fewer_than_min_revisions() -> None:
    clock = FakeClock()
    policy = compactor.Policy(min_revisions=1000, min_age=300, clock=clock)
    policy.target(10_000)
    clock.now += 301
    # Only 200 revisions written since the old sample: keep 1000 anyway.
    assert policy.target(10_200) == 9_200


async def test_run_compacts_the_store() -> None:
    store = MemoryStorage()
    for i in range(30):
        await store.create(f"/registry/k/{i}", b"v")
    task = asyncio.create_task(compactor.run(store, interval=0.01, min_revisions=10, min_age=0.0))
    try:
        async with asyncio.timeout(5):
            while await store.compacted_revision() != 20:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await store.close()

"""One serialized worker per pod UID: updates coalesce, wake brings a sync forward."""

from __future__ import annotations

import asyncio
from typing import Any

from pyk8s.kubelet import pod_workers


def pod(uid: str, version: int = 0) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": uid, "resourceVersion": str(version)}}


async def test_serialized_per_uid_and_latest_update_wins() -> None:
    seen: list[tuple[str, str, bool]] = []
    running: set[str] = set()
    release = asyncio.Event()

    async def sync(p: dict[str, Any], removed: bool) -> float | None:
        uid = p["metadata"]["uid"]
        assert uid not in running, "two syncs of one pod at once"
        running.add(uid)
        seen.append((uid, p["metadata"]["resourceVersion"], removed))
        await release.wait()
        running.discard(uid)
        return None

    w = pod_workers.PodWorkers(sync, resync=60)
    w.update(pod("a", 1))
    w.update(pod("b", 1))
    await asyncio.sleep(0)
    for v in (2, 3, 4):  # while a's first sync runs: only the newest is synced next
        w.update(pod("a", v))
    release.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert ("a", "1", False) in seen and ("b", "1", False) in seen
    assert [s for s in seen if s[0] == "a"] == [("a", "1", False), ("a", "4", False)]
    w.update(pod("a", 5), removed=True)
    for _ in range(20):
        await asyncio.sleep(0)
    assert seen[-1] == ("a", "5", True)
    assert not w.known("a")  # retired after the removal's sync
    assert w.known("b")
    await w.close()


async def test_wake_and_requested_delay() -> None:
    calls = 0

    async def sync(p: dict[str, Any], removed: bool) -> float | None:
        nonlocal calls
        calls += 1
        return 3600.0

    w = pod_workers.PodWorkers(sync, resync=3600)
    w.update(pod("a"))
    await asyncio.sleep(0.01)
    assert calls == 1
    w.wake("a")
    await asyncio.sleep(0.01)
    assert calls == 2
    await w.close()


async def test_a_failing_sync_is_retried() -> None:
    calls = 0

    async def sync(p: dict[str, Any], removed: bool) -> float | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return None

    w = pod_workers.PodWorkers(sync, resync=3600)
    original, pod_workers.RETRY = pod_workers.RETRY, 0.01
    try:
        w.update(pod("a"))
        await asyncio.sleep(0.1)
    finally:
        pod_workers.RETRY = original
    assert calls == 2
    await w.close()

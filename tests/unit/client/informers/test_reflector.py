from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from pyk8s.api import errors
from pyk8s.client import clock, rest
from pyk8s.client.cache import store
from pyk8s.client.informers import reflector

from .scripted import END, ScriptedLW, eventually, obj, page

GONE = errors.Gone("too old resource version: 1 (50)")


def ev(kind: str, o: dict[str, object]) -> rest.WatchEvent:
    return rest.WatchEvent(kind, o)  # type: ignore[arg-type]


@pytest.fixture
def fc() -> clock.FakeClock:
    return clock.FakeClock()


@pytest.fixture
async def running(
    fc: clock.FakeClock,
) -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def start(r: reflector.Reflector, tasks: list[asyncio.Task[None]]) -> None:
    tasks.append(asyncio.create_task(r.run()))


async def test_pages_then_watches_from_the_list_version(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(
        lists=[
            page([obj("a", 5), obj("b", 6)], 10, cont="t1"),
            page([obj("c", 7)], 10),
        ]
    )
    s = store.Store()
    r = reflector.Reflector(lw, s, page_size=2, clock=fc, rng=random.Random(1))
    start(r, running)
    await eventually(lambda: len(lw.watch_calls) == 1)
    assert sorted(s.list_keys()) == ["default/a", "default/b", "default/c"]
    assert s.resource_version == "10"
    assert lw.list_calls == [
        {"resource_version": "0", "limit": 2, "continue": None},
        {"resource_version": None, "limit": 2, "continue": "t1"},
    ]
    call = lw.watch_calls[0]
    assert call["resource_version"] == "10"
    assert call["allow_bookmarks"] is True
    assert 300 <= call["timeout_seconds"] < 600

    w = lw.stream(0)
    await w.put(ev("ADDED", obj("d", 11)))
    await w.put(ev("MODIFIED", obj("a", 12, tier="x")))
    await w.put(ev("DELETED", obj("b", 13)))
    await w.put(ev("BOOKMARK", {"metadata": {"resourceVersion": "20"}}))
    await eventually(lambda: r.last_sync_resource_version == "20")
    assert sorted(s.list_keys()) == ["default/a", "default/c", "default/d"]
    assert s.get_by_key("default/a")["metadata"]["labels"] == {"tier": "x"}  # type: ignore[index]
    assert s.resource_version == "20"

    # A normal end of the stream: watch again from the last version, no relist.
    await w.put(END)
    await eventually(lambda: len(lw.watch_calls) == 2)
    assert lw.watch_calls[1]["resource_version"] == "20"
    assert r.lists == 1


async def test_gone_on_watch_relists_after_backoff(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([obj("a", 5)], 10), page([obj("b", 60)], 60)])
    s = store.Store()
    r = reflector.Reflector(lw, s, clock=fc, rng=random.Random(1))
    start(r, running)
    await eventually(lambda: len(lw.watch_calls) == 1)
    await lw.stream(0).put(ev("ADDED", obj("x", 11)))
    await lw.stream(0).put(GONE)
    await eventually(lambda: fc.pending() == 1)  # backing off
    assert len(lw.list_calls) == 1
    fc.advance(fc.next_deadline() - fc.now())  # type: ignore[operator]
    await eventually(lambda: len(lw.watch_calls) == 2)
    # The relist asks for at least the last version seen, unpaged, and replaces the store.
    assert lw.list_calls[1] == {"resource_version": "11", "limit": None, "continue": None}
    assert s.list_keys() == ["default/b"]
    assert lw.watch_calls[1]["resource_version"] == "60"


async def test_list_with_a_too_old_version_retries_fresh(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([], 10), GONE, page([obj("a", 70)], 70)])
    r = reflector.Reflector(lw, store.Store(), clock=fc, rng=random.Random(1))
    start(r, running)
    await eventually(lambda: len(lw.watch_calls) == 1)
    await lw.stream(0).put(errors.InternalError("boom"))
    await eventually(lambda: fc.pending() == 1)
    fc.advance(60)
    await eventually(lambda: len(lw.watch_calls) == 2)
    assert [c["resource_version"] for c in lw.list_calls] == ["0", "10", ""]
    assert r.last_sync_resource_version == "70"


async def test_expired_continue_token_lists_without_paging(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(
        lists=[page([obj("a", 5)], 10, cont="t1"), GONE, page([obj("a", 5), obj("b", 12)], 12)]
    )
    s = store.Store()
    r = reflector.Reflector(lw, s, page_size=1, clock=fc)
    start(r, running)
    await eventually(lambda: len(lw.watch_calls) == 1)
    assert lw.list_calls[2] == {"resource_version": "0", "limit": None, "continue": None}
    assert sorted(s.list_keys()) == ["default/a", "default/b"]
    assert r.last_sync_resource_version == "12"


async def test_list_failures_back_off_exponentially(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(
        lists=[errors.InternalError("x")] * 4 + [page([], 10)],
    )
    r = reflector.Reflector(lw, store.Store(), clock=fc, rng=random.Random(7))
    start(r, running)
    delays = []
    for _ in range(4):
        await eventually(lambda: fc.pending() == 1)
        delay = fc.next_deadline() - fc.now()  # type: ignore[operator]
        delays.append(delay)
        fc.advance(delay)
        await asyncio.sleep(0)
    await eventually(lambda: len(lw.watch_calls) == 1)
    # 0.8, 1.6, 3.2, 6.4 s, each plus up to 100% jitter
    for base, delay in zip([0.8, 1.6, 3.2, 6.4], delays, strict=True):
        assert base <= delay < 2 * base


async def test_refused_watch_backs_off_and_rewatches_without_relist(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([], 10)])
    r = reflector.Reflector(lw, store.Store(), clock=fc)
    start(r, running)
    await eventually(lambda: len(lw.watch_calls) == 1)
    await lw.stream(0).put(errors.TooManyRequests("slow down"))
    await eventually(lambda: fc.pending() == 1)
    fc.advance(60)
    await eventually(lambda: len(lw.watch_calls) == 2)
    assert lw.watch_calls[1]["resource_version"] == "10"
    assert r.lists == 1


async def test_broken_connection_rewatches(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([], 10)])
    r = reflector.Reflector(lw, store.Store(), clock=fc)
    start(r, running)
    await eventually(lambda: len(lw.watch_calls) == 1)
    await lw.stream(0).put(ev("ADDED", obj("a", 11)))
    await lw.stream(0).put(aiohttp.ClientPayloadError("cut"))
    await eventually(lambda: len(lw.watch_calls) == 2)
    assert lw.watch_calls[1]["resource_version"] == "11"
    assert r.lists == 1


async def test_very_short_empty_watch_relists(
    fc: clock.FakeClock, running: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([], 10)])
    r = reflector.Reflector(lw, store.Store(), clock=fc)
    start(r, running)
    await eventually(lambda: len(lw.watch_calls) == 1)
    await lw.stream(0).put(END)
    await eventually(lambda: fc.pending() == 1)
    fc.advance(60)
    await eventually(lambda: r.lists == 2)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client import clock, rest
from pyk8s.client.cache import store
from pyk8s.client.informers import shared_informer

from .scripted import END, ScriptedLW, eventually, obj, page


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_add(self, o: Any, is_in_initial_list: bool) -> None:
        self.calls.append(("add", o["metadata"]["name"], is_in_initial_list))

    def on_update(self, old: Any, new: Any) -> None:
        kind = "resync" if old is new else "update"
        self.calls.append(
            (
                kind,
                new["metadata"]["name"],
                old["metadata"]["resourceVersion"],
                new["metadata"]["resourceVersion"],
            )
        )

    def on_delete(self, o: Any) -> None:
        if isinstance(o, store.DeletedFinalStateUnknown):
            self.calls.append(("tombstone", o.key))
        else:
            self.calls.append(("delete", o["metadata"]["name"]))


def ev(kind: str, o: dict[str, Any]) -> rest.WatchEvent:
    return rest.WatchEvent(kind, o)


@pytest.fixture
def fc() -> clock.FakeClock:
    return clock.FakeClock()


@pytest.fixture
async def tasks() -> AsyncIterator[list[asyncio.Task[None]]]:
    running: list[asyncio.Task[None]] = []
    yield running
    for t in running:
        t.cancel()
    await asyncio.gather(*running, return_exceptions=True)


async def test_initial_list_then_events(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([obj("a", 5), obj("b", 6)], 10)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc, name="pods")
    rec = Recorder()
    reg = inf.add_event_handler(rec)
    assert not inf.has_synced()
    assert not reg.has_synced()
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    assert reg.has_synced()
    assert rec.calls == [("add", "a", True), ("add", "b", True)]

    rec.calls.clear()
    w = lw.stream(0)
    await w.put(ev("ADDED", obj("c", 11)))
    await w.put(ev("MODIFIED", obj("a", 12)))
    await w.put(ev("ADDED", obj("b", 13)))  # already known: an update
    await w.put(ev("DELETED", obj("c", 14)))
    await eventually(lambda: len(rec.calls) == 4)
    assert rec.calls == [
        ("add", "c", False),
        ("update", "a", "5", "12"),
        ("update", "b", "6", "13"),
        ("delete", "c"),
    ]
    assert inf.last_sync_resource_version == "14"
    assert sorted(inf.store.list_keys()) == ["default/a", "default/b"]


async def test_relist_diffs_against_the_cache(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(
        lists=[
            page([obj("keep", 5), obj("change", 6), obj("gone", 7)], 10),
            page([obj("keep", 5), obj("change", 16), obj("new", 17)], 20),
        ]
    )
    inf = shared_informer.SharedIndexInformer(lw, clock=fc)
    rec = Recorder()
    inf.add_event_handler(rec)
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    rec.calls.clear()
    await lw.stream(0).put(errors.Gone("expired"))
    await eventually(lambda: fc.pending() == 1)
    fc.advance(60)
    await eventually(lambda: len(lw.watch_calls) == 2)
    assert sorted(rec.calls) == sorted(
        [("tombstone", "default/gone"), ("update", "change", "6", "16"), ("add", "new", False)]
    )


async def test_tombstone_carries_the_last_known_state(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([obj("gone", 7, app="x")], 10), page([], 20)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc)
    seen: list[Any] = []
    inf.add_event_handler(shared_informer.EventHandlerFuncs(delete=seen.append))
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    await lw.stream(0).put(errors.Gone("expired"))
    await eventually(lambda: fc.pending() == 1)
    fc.advance(60)
    await eventually(lambda: bool(seen))
    assert isinstance(seen[0], store.DeletedFinalStateUnknown)
    assert seen[0].obj["metadata"]["labels"] == {"app": "x"}


async def test_late_handler_gets_the_cache_as_adds(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([obj("a", 5)], 10)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc)
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    rec = Recorder()
    reg = inf.add_event_handler(rec)
    assert reg.has_synced()
    assert rec.calls == [("add", "a", True)]


async def test_resync_per_handler_period(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([obj("a", 5)], 10)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc, resync_period=30)
    fast, slow, never = Recorder(), Recorder(), Recorder()
    inf.add_event_handler(fast, resync_period=10)
    inf.add_event_handler(slow)  # the informer's default: 30 s
    inf.add_event_handler(never, resync_period=0)
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    for r in (fast, slow, never):
        r.calls.clear()
    fc.advance(30)
    assert fast.calls == [("resync", "a", "5", "5")] * 3
    assert slow.calls == [("resync", "a", "5", "5")]
    assert never.calls == []


async def test_removed_handler_hears_nothing_more(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([obj("a", 5)], 10)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc)
    rec = Recorder()
    reg = inf.add_event_handler(rec, resync_period=5)
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    inf.remove_event_handler(reg)
    rec.calls.clear()
    await lw.stream(0).put(ev("ADDED", obj("b", 11)))
    await eventually(lambda: "default/b" in inf.store)
    fc.advance(100)
    assert rec.calls == []
    assert fc.pending() == 0


async def test_failing_handler_does_not_stop_others(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]], caplog: pytest.LogCaptureFixture
) -> None:
    lw = ScriptedLW(lists=[page([obj("a", 5)], 10)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc)

    def boom(o: Any) -> None:
        raise RuntimeError("handler bug")

    inf.add_event_handler(shared_informer.EventHandlerFuncs(add=boom))
    rec = Recorder()
    inf.add_event_handler(rec)
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    await lw.stream(0).put(ev("ADDED", obj("b", 11)))
    await eventually(lambda: len(rec.calls) == 2)
    assert "handler bug" in caplog.text


async def test_handlers_receive_read_only_objects(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    lw = ScriptedLW(lists=[page([obj("a", 5)], 10)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc)
    got: list[Any] = []
    inf.add_event_handler(shared_informer.EventHandlerFuncs(add=got.append))
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    with pytest.raises(TypeError, match="read-only"):
        got[0]["metadata"]["labels"]["x"] = "y"
    assert got[0] is inf.store.get_by_key("default/a")
    assert inf.lister("pods").namespace("default").get("a") is got[0]


async def test_run_twice_is_refused(fc: clock.FakeClock, tasks: list[asyncio.Task[None]]) -> None:
    lw = ScriptedLW(lists=[page([], 10)])
    inf = shared_informer.SharedIndexInformer(lw, clock=fc)
    tasks.append(asyncio.create_task(inf.run()))
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    with pytest.raises(RuntimeError, match="already running"):
        await inf.run()
    await lw.stream(0).put(END)


async def test_transform_strips_managed_fields(
    fc: clock.FakeClock, tasks: list[asyncio.Task[None]]
) -> None:
    def with_mf(name: str, rv: int) -> dict[str, Any]:
        o = obj(name, rv)
        o["metadata"]["managedFields"] = [{"manager": "kubectl"}]
        return o

    lw = ScriptedLW(lists=[page([with_mf("a", 5)], 10)])
    inf = shared_informer.SharedIndexInformer(
        lw, clock=fc, transform=shared_informer.strip_managed_fields
    )
    seen: list[Any] = []
    inf.add_event_handler(shared_informer.EventHandlerFuncs(add=seen.append, delete=seen.append))
    tasks.append(asyncio.create_task(inf.run()))
    assert await shared_informer.wait_for_cache_sync(inf, timeout=5)
    await lw.stream(0).put(ev("ADDED", with_mf("b", 11)))
    await lw.stream(0).put(ev("DELETED", with_mf("a", 12)))
    await eventually(lambda: len(seen) == 3)
    assert all("managedFields" not in o["metadata"] for o in seen)
    assert all("managedFields" not in o["metadata"] for o in inf.store.list())
    assert shared_informer.strip_managed_fields({"kind": "X"}) == {"kind": "X"}


async def test_wait_for_cache_sync_times_out(fc: clock.FakeClock) -> None:
    lw = ScriptedLW(lists=[page([], 10)])
    never_run = shared_informer.SharedIndexInformer(lw, clock=fc)
    assert not await shared_informer.wait_for_cache_sync(never_run, timeout=0.01)

"""Writers of one key take turns; nested and cross-task writes never deadlock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyk8s.storage.interface import KeyValue
from pyk8s.storage.sqlite import turns
from pyk8s.storage.sqlite.log import SqliteStorage


async def test_contended_key_runs_each_update_once(tmp_path: Path) -> None:
    s = await SqliteStorage.open(tmp_path / "state.db")
    try:
        await s.create("/registry/hot", b"0")
        calls = 0

        async def bump(kv: KeyValue) -> bytes:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0)
            return str(int(kv.value) + 1).encode()

        await asyncio.gather(*(s.guaranteed_update("/registry/hot", bump) for _ in range(100)))
        assert (await s.get("/registry/hot")).value == b"100"
        assert calls == 100
        assert len(s._turns) == 0  # nothing left behind
    finally:
        await s.close()


async def test_nested_writes_in_opposite_order_do_not_deadlock(tmp_path: Path) -> None:
    s = await SqliteStorage.open(tmp_path / "state.db")
    try:
        await s.create("/registry/a", b"0")
        await s.create("/registry/b", b"0")
        both = asyncio.Barrier(2)

        def touching(other: str):  # type: ignore[no-untyped-def]
            first = True

            async def update(kv: KeyValue) -> bytes:
                nonlocal first
                if not first:
                    return kv.value + b"!"
                first = False
                await both.wait()  # both outer updates hold their turn now

                async def mark(o: KeyValue) -> bytes:
                    return o.value + b"+"

                await s.guaranteed_update(other, mark)
                return kv.value + b"!"

            return update

        await asyncio.wait_for(
            asyncio.gather(
                s.guaranteed_update("/registry/a", touching("/registry/b")),
                s.guaranteed_update("/registry/b", touching("/registry/a")),
            ),
            10,
        )
        # Each outer update lost its race to the other's nested write once,
        # then re-ran and won.
        assert (await s.get("/registry/a")).value == b"0+!"
        assert (await s.get("/registry/b")).value == b"0+!"
    finally:
        await s.close()


async def test_a_stuck_turn_is_waited_for_only_so_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns, "MAX_WAIT", 0.05)
    t = turns.Turns()
    release = asyncio.Event()

    async def holder() -> None:
        async with t.take("k"):
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    async with t.take("k"):  # would wait forever without the limit
        pass
    release.set()
    await task
    assert len(t) == 0

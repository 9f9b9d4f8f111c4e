"""SQLite-specific behaviour beyond the contract suite: restart, compaction on
disk, the single-owner lock, concurrent writers, the factory."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from pyk8s.storage import factory
from pyk8s.storage.interface import (
    EventType,
    KeyValue,
    StorageUnavailableError,
    TooOldError,
)
from pyk8s.storage.sqlite import log as sqlite_log
from pyk8s.storage.sqlite.log import SqliteStorage


def setter(value: bytes):  # type: ignore[no-untyped-def]
    async def update(kv: KeyValue) -> bytes:
        return value

    return update


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    return await asyncio.to_thread(rows, path, sql)


async def test_restart_keeps_data_revision_and_compaction(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    s = await SqliteStorage.open(path)
    a = await s.create("/registry/k/a", b"1")
    await s.guaranteed_update("/registry/k/a", setter(b"2"))
    await s.create("/registry/k/b", b"x")
    gone = await s.delete("/registry/k/b")
    mid = await s.current_revision()
    last = await s.guaranteed_update("/registry/k/a", setter(b"3"))
    await s.compact(mid)
    await s.close()

    s = await SqliteStorage.open(path)
    try:
        assert await s.current_revision() == last.mod_revision
        assert await s.compacted_revision() == mid
        got = await s.get("/registry/k/a")
        assert (got.value, got.create_revision, got.mod_revision) == (
            b"3",
            a.create_revision,
            last.mod_revision,
        )
        assert (await s.get("/registry/k/a", revision=mid)).value == b"2"
        with pytest.raises(TooOldError):
            await s.get("/registry/k/a", revision=a.mod_revision)
        with pytest.raises(TooOldError):
            s.watch("/registry/", from_revision=gone.mod_revision - 2)
        # A watch from before the restart replays the log, previous values included.
        w = s.watch("/registry/k/", from_revision=mid - 1)
        it = w.__aiter__()
        replay = [await asyncio.wait_for(it.__anext__(), 5) for _ in range(2)]
        await w.close()
        assert [(e.type, e.key, e.value, e.prev_value) for e in replay] == [
            (EventType.DELETED, "/registry/k/b", b"x", b"x"),
            (EventType.MODIFIED, "/registry/k/a", b"3", b"2"),
        ]
        # The counter goes on from where it stopped.
        c = await s.create("/registry/k/c", b"new")
        assert c.mod_revision == last.mod_revision + 1
        assert [kv.key for kv in (await s.list("/registry/k/")).items] == [
            "/registry/k/a",
            "/registry/k/c",
        ]
    finally:
        await s.close()


async def test_revision_counter_survives_compacting_everything(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    s = await SqliteStorage.open(path)
    await s.create("/registry/k", b"1")
    gone = await s.delete("/registry/k")
    await s.compact(gone.mod_revision)
    await s.close()
    s = await SqliteStorage.open(path)
    try:
        assert await s.current_revision() == gone.mod_revision
        again = await s.create("/registry/k", b"2")
        assert again.mod_revision == gone.mod_revision + 1
    finally:
        await s.close()


async def test_compaction_removes_rows_in_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_log, "COMPACT_STEP", 7)  # many small steps
    path = tmp_path / "state.db"
    s = await SqliteStorage.open(path)
    try:
        for i in range(10):
            await s.create(f"/registry/k/{i}", b"0")
        for n in range(1, 6):
            for i in range(10):
                await s.guaranteed_update(f"/registry/k/{i}", setter(str(n).encode()))
        for i in range(5):
            await s.delete(f"/registry/k/{i}")
        w = s.watch("/registry/k/")
        assert len(await query(path, "SELECT id FROM kine")) == 65
        target = await s.current_revision()
        await s.compact(target)
        # Left: the 5 live keys' newest rows, and the tombstone at `target`
        # itself (a watch from target-1 still has to see it).
        left = await query(path, "SELECT name, deleted FROM kine ORDER BY id")
        assert left == [(f"/registry/k/{i}", 0) for i in range(5, 10)] + [("/registry/k/4", 1)]
        meta = dict(await query(path, "SELECT key, value FROM meta"))
        assert meta["compact_revision"] == target
        # Writes after compaction reach a watcher opened before it.
        await s.guaranteed_update("/registry/k/9", setter(b"after"))
        ev = await asyncio.wait_for(w.__aiter__().__anext__(), 5)
        assert (ev.type, ev.value, ev.prev_value) == (EventType.MODIFIED, b"after", b"5")
        await w.close()
        # The next compaction picks up the tombstone it left behind.
        await s.compact(await s.current_revision())
        left = await query(path, "SELECT name, deleted FROM kine ORDER BY id")
        assert left == [(f"/registry/k/{i}", 0) for i in range(5, 10)]
        # Recreating a key whose history was compacted away works.
        await s.create("/registry/k/0", b"back")
        assert (await s.get("/registry/k/0")).value == b"back"
    finally:
        await s.close()


async def test_writes_go_on_while_compacting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_log, "COMPACT_STEP", 10)
    s = await SqliteStorage.open(tmp_path / "state.db")
    try:
        await s.create("/registry/c", b"0")
        for i in range(300):
            await s.guaranteed_update("/registry/c", setter(str(i).encode()))
        target = await s.current_revision()
        writes_done: list[int] = []

        async def write() -> None:
            for i in range(50):
                kv = await s.create(f"/registry/w/{i}", b"v")
                writes_done.append(kv.mod_revision)

        await asyncio.gather(s.compact(target), write())
        assert len(writes_done) == 50
        assert (await s.get("/registry/c")).value == b"299"
        assert await s.count("/registry/w/") == 50
    finally:
        await s.close()


async def test_second_owner_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    s = await SqliteStorage.open(path)
    try:
        with pytest.raises(StorageUnavailableError, match="in use by another process"):
            await SqliteStorage.open(path)
        await s.create("/registry/k", b"still fine")
    finally:
        await s.close()
    s = await SqliteStorage.open(path)
    await s.close()


async def test_concurrent_writers_never_see_locked(tmp_path: Path) -> None:
    s = await SqliteStorage.open(tmp_path / "state.db")
    try:
        await s.create("/registry/hot", b"0")

        async def writer(w: int) -> None:
            for i in range(20):
                await s.create(f"/registry/w{w}/{i}", b"x" * 256)

                async def bump(kv: KeyValue) -> bytes:
                    return str(int(kv.value) + 1).encode()

                await s.guaranteed_update("/registry/hot", bump)

        await asyncio.gather(*(writer(w) for w in range(64)))
        assert await s.count("/registry/w") == 64 * 20
        assert (await s.get("/registry/hot")).value == str(64 * 20).encode()
        assert await s.current_revision() == 1 + 2 * 64 * 20
    finally:
        await s.close()


async def test_factory_opens_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    config = factory.StorageConfig(data_dir=tmp_path / "data")
    store = await factory.open_storage(config)
    try:
        await store.create("/registry/k", b"v")
    finally:
        await store.close()
    assert (tmp_path / "data" / "db" / "state.db").is_file()


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        pytest.param("/registry/k", "text", TypeError, id="str-value"),
        pytest.param("/registry/\udc80", b"v", ValueError, id="lone-surrogate-key"),
        pytest.param("", b"v", ValueError, id="empty-key"),
    ],
)
async def test_bad_input_fails_alone(tmp_path: Path, key: str, value: object, error: type) -> None:
    s = await SqliteStorage.open(tmp_path / "state.db")
    try:
        good = [s.create(f"/registry/ok/{i}", b"v") for i in range(5)]
        results = await asyncio.gather(
            *good,
            s.create(key, value),
            return_exceptions=True,  # type: ignore[arg-type]
        )
        assert isinstance(results[-1], error)
        assert all(isinstance(r, KeyValue) for r in results[:-1])
        assert await s.count("/registry/") == 5
        if isinstance(value, str):
            await s.create("/registry/k2", b"fine")
            with pytest.raises(error):
                await s.guaranteed_update("/registry/k2", setter(value))  # type: ignore[arg-type]
            assert (await s.get("/registry/k2")).value == b"fine"
    finally:
        await s.close()


async def test_half_created_file_is_taken_over(tmp_path: Path) -> None:
    """A first start-up killed after SQLite wrote its header but before the
    schema: the file holds nothing, so it becomes a store."""
    path = tmp_path / "state.db"

    def half() -> None:
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.close()

    await asyncio.to_thread(half)
    assert path.stat().st_size > 0
    s = await SqliteStorage.open(path)
    try:
        await s.create("/registry/k", b"v")
    finally:
        await s.close()


async def test_interrupted_compaction_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_log, "COMPACT_STEP", 10)
    path = tmp_path / "state.db"
    s = await SqliteStorage.open(path)
    for i in range(10):
        await s.create(f"/registry/k/{i}", b"0")
    for n in range(1, 6):
        for i in range(10):
            await s.guaranteed_update(f"/registry/k/{i}", setter(str(n).encode()))
    target = await s.current_revision() - 5
    real_submit = SqliteStorage._submit
    steps = 0

    async def dying_submit(self: SqliteStorage, op: sqlite_log.Op) -> object:
        nonlocal steps
        if op.kind is sqlite_log.Kind.COMPACT_STEP:
            steps += 1
            if steps > 2:
                raise RuntimeError("process died")
        return await real_submit(self, op)

    monkeypatch.setattr(SqliteStorage, "_submit", dying_submit)
    with pytest.raises(RuntimeError):
        await s.compact(target)
    monkeypatch.setattr(SqliteStorage, "_submit", real_submit)
    await s.close()
    assert len(await query(path, "SELECT id FROM kine")) < 60  # two steps ran

    s = await SqliteStorage.open(path)
    try:
        # The compacted revision was recorded before any row went.
        assert await s.compacted_revision() == target
        with pytest.raises(TooOldError):
            await s.get("/registry/k/0", revision=target - 1)
        page = await s.list("/registry/k/", revision=target)
        assert [kv.value for kv in page.items] == [b"5"] * 5 + [b"4"] * 5
        # Compacting again finishes the job: only the state at the new target is left.
        await s.compact(await s.current_revision())
        assert len(await query(path, "SELECT id FROM kine")) == 10
    finally:
        await s.close()

"""The storage contract (ARCHITECTURE.md section 5), run against every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from pyk8s.storage import continuetoken
from pyk8s.storage.interface import (
    Event,
    EventType,
    FutureRevisionError,
    Interface,
    InvalidContinueError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    PreconditionError,
    Preconditions,
    TooOldError,
    Watch,
    WatchClosedError,
)


def obj(name: str, uid: str = "u1", **extra: Any) -> bytes:
    return orjson.dumps({"metadata": {"name": name, "uid": uid}, **extra})


def setter(value: bytes) -> Callable[[KeyValue], Any]:
    async def update(kv: KeyValue) -> bytes:
        return value

    return update


async def take(w: Watch, n: int, timeout: float = 5.0) -> list[Event]:
    out: list[Event] = []

    async def read() -> None:
        async for ev in w:
            out.append(ev)
            if len(out) == n:
                return

    await asyncio.wait_for(read(), timeout)
    return out


# -- revisions, create, get


async def test_revisions_increase_globally(store: Interface) -> None:
    start = await store.current_revision()
    a = await store.create("/registry/a/x", b"1")
    b = await store.create("/registry/b/y", b"2")
    assert a.create_revision == a.mod_revision > start
    assert b.mod_revision > a.mod_revision
    assert await store.current_revision() == b.mod_revision
    c = await store.guaranteed_update("/registry/a/x", setter(b"3"))
    assert c.create_revision == a.create_revision
    assert c.mod_revision > b.mod_revision


async def test_create_existing_key_fails(store: Interface) -> None:
    await store.create("/registry/k", b"1")
    with pytest.raises(KeyExistsError):
        await store.create("/registry/k", b"2")
    assert (await store.get("/registry/k")).value == b"1"


async def test_get_missing_and_recreate_after_delete(store: Interface) -> None:
    with pytest.raises(KeyNotFoundError):
        await store.get("/registry/nope")
    first = await store.create("/registry/k", b"1")
    await store.delete("/registry/k")
    with pytest.raises(KeyNotFoundError):
        await store.get("/registry/k")
    again = await store.create("/registry/k", b"2")
    assert again.create_revision > first.create_revision
    assert (await store.get("/registry/k")).value == b"2"


async def test_get_at_past_revision(store: Interface) -> None:
    v1 = await store.create("/registry/k", b"1")
    v2 = await store.guaranteed_update("/registry/k", setter(b"2"))
    gone = await store.delete("/registry/k")
    assert (await store.get("/registry/k", revision=v1.mod_revision)).value == b"1"
    got = await store.get("/registry/k", revision=v2.mod_revision)
    assert (got.value, got.mod_revision, got.create_revision) == (
        b"2",
        v2.mod_revision,
        v1.mod_revision,
    )
    with pytest.raises(KeyNotFoundError):
        await store.get("/registry/k", revision=gone.mod_revision)
    with pytest.raises(FutureRevisionError):
        await store.get("/registry/k", revision=gone.mod_revision + 100)


# -- guaranteed_update


async def test_update_missing_key(store: Interface) -> None:
    with pytest.raises(KeyNotFoundError):
        await store.guaranteed_update("/registry/nope", setter(b"x"))
    created = await store.guaranteed_update("/registry/nope", setter(b"x"), ignore_not_found=True)
    assert created.create_revision == created.mod_revision
    assert (await store.get("/registry/nope")).value == b"x"


async def test_update_that_changes_nothing_does_not_write(store: Interface) -> None:
    kv = await store.create("/registry/k", b"same")
    rev = await store.current_revision()
    out = await store.guaranteed_update("/registry/k", setter(b"same"))
    assert out.mod_revision == kv.mod_revision

    async def keep(kv: KeyValue) -> None:
        return None

    out = await store.guaranteed_update("/registry/k", keep)
    assert out.mod_revision == kv.mod_revision
    assert await store.current_revision() == rev


async def test_update_error_aborts(store: Interface) -> None:
    await store.create("/registry/k", b"1")

    async def boom(kv: KeyValue) -> bytes:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await store.guaranteed_update("/registry/k", boom)
    assert (await store.get("/registry/k")).value == b"1"


async def test_update_retries_after_lost_race(store: Interface) -> None:
    await store.create("/registry/k", b"0")
    seen: list[bytes] = []

    async def increment(kv: KeyValue) -> bytes:
        seen.append(kv.value)
        if len(seen) == 1:
            # Someone else writes between our read and our write.
            await store.guaranteed_update("/registry/k", setter(b"10"))
        return str(int(kv.value) + 1).encode()

    out = await store.guaranteed_update("/registry/k", increment)
    assert seen == [b"0", b"10"]
    assert out.value == b"11"


async def test_concurrent_increments_lose_nothing(store: Interface) -> None:
    await store.create("/registry/counter", b"0")

    async def increment(kv: KeyValue) -> bytes:
        await asyncio.sleep(0)
        return str(int(kv.value) + 1).encode()

    await asyncio.gather(
        *(store.guaranteed_update("/registry/counter", increment) for _ in range(50))
    )
    assert (await store.get("/registry/counter")).value == b"50"


async def test_update_preconditions(store: Interface) -> None:
    kv = await store.create("/registry/k", obj("k", uid="abc"))
    with pytest.raises(PreconditionError, match="UID in precondition"):
        await store.guaranteed_update(
            "/registry/k", setter(obj("k", uid="abc", x=1)), preconditions=Preconditions(uid="zzz")
        )
    with pytest.raises(PreconditionError, match="ResourceVersion in precondition"):
        await store.guaranteed_update(
            "/registry/k",
            setter(obj("k", uid="abc", x=1)),
            preconditions=Preconditions(resource_version=kv.mod_revision + 1),
        )
    out = await store.guaranteed_update(
        "/registry/k",
        setter(obj("k", uid="abc", x=2)),
        preconditions=Preconditions(uid="abc", resource_version=kv.mod_revision),
    )
    assert orjson.loads(out.value)["x"] == 2


# -- delete


async def test_delete_returns_last_value(store: Interface) -> None:
    kv = await store.create("/registry/k", b"last")
    out = await store.delete("/registry/k")
    assert out.value == b"last"
    assert out.create_revision == kv.create_revision
    assert out.mod_revision == await store.current_revision() > kv.mod_revision
    with pytest.raises(KeyNotFoundError):
        await store.delete("/registry/k")


async def test_delete_preconditions_and_validation(store: Interface) -> None:
    kv = await store.create("/registry/k", obj("k", uid="abc"))
    with pytest.raises(PreconditionError):
        await store.delete("/registry/k", preconditions=Preconditions(uid="other"))
    with pytest.raises(PreconditionError):
        await store.delete(
            "/registry/k", preconditions=Preconditions(resource_version=kv.mod_revision + 5)
        )

    async def refuse(kv: KeyValue) -> None:
        raise PermissionError("finalizers pending")

    with pytest.raises(PermissionError):
        await store.delete("/registry/k", validate_deletion=refuse)
    assert (await store.get("/registry/k")).value == kv.value
    await store.delete("/registry/k", preconditions=Preconditions(uid="abc"))
    with pytest.raises(KeyNotFoundError):
        await store.get("/registry/k")


# -- list


async def fill(store: Interface, n: int, prefix: str = "/registry/pods/default/") -> None:
    for i in range(n):
        await store.create(f"{prefix}p{i:03d}", obj(f"p{i:03d}"))


async def test_list_prefix_in_key_order(store: Interface) -> None:
    await fill(store, 5)
    await store.create("/registry/pods/defaults/x", b"other namespace")
    await store.create("/registry/pods/default", b"not under the prefix either")
    res = await store.list("/registry/pods/default/")
    assert [kv.key.rsplit("/", 1)[1] for kv in res.items] == [f"p{i:03d}" for i in range(5)]
    assert res.continue_token is None
    assert res.revision == await store.current_revision()
    assert await store.count("/registry/pods/default/") == 5
    assert await store.count("/registry/pods/") == 7


async def test_list_pages_are_one_snapshot(store: Interface) -> None:
    await fill(store, 10)
    first = await store.list("/registry/pods/default/", limit=4)
    assert len(first.items) == 4 and first.continue_token
    assert first.remaining in (None, 6)
    # Changes after the first page must not show in later pages.
    await store.delete("/registry/pods/default/p005")
    await store.create("/registry/pods/default/p004a", b"new")
    await store.guaranteed_update("/registry/pods/default/p009", setter(b"changed"))
    keys = [kv.key for kv in first.items]
    token = first.continue_token
    while token:
        page = await store.list("/registry/pods/default/", limit=4, continue_token=token)
        assert page.revision == first.revision
        keys += [kv.key for kv in page.items]
        if page.items and page.items[-1].key.endswith("p009"):
            assert page.items[-1].value != b"changed"
        token = page.continue_token
    assert keys == [f"/registry/pods/default/p{i:03d}" for i in range(10)]


async def test_list_at_past_revision(store: Interface) -> None:
    await fill(store, 3)
    rev = await store.current_revision()
    await store.delete("/registry/pods/default/p000")
    await store.create("/registry/pods/default/p100", b"late")
    old = await store.list("/registry/pods/default/", revision=rev)
    assert [kv.key[-4:] for kv in old.items] == ["p000", "p001", "p002"]
    assert old.revision == rev
    now = await store.list("/registry/pods/default/")
    assert [kv.key[-4:] for kv in now.items] == ["p001", "p002", "p100"]


async def test_bad_continue_token(store: Interface) -> None:
    await fill(store, 2)
    with pytest.raises(InvalidContinueError):
        await store.list("/registry/pods/default/", continue_token="not-a-token!")
    escaping = continuetoken.encode(1, "/registry/pods/default/", "/registry/pods/default/../x")
    with pytest.raises(InvalidContinueError):
        await store.list("/registry/pods/default/", continue_token=escaping)


# -- watch


async def test_watch_from_now_sees_changes_in_order(store: Interface) -> None:
    w = store.watch("/registry/pods/")
    try:
        a = await store.create("/registry/pods/default/a", b"1")
        await store.create("/registry/services/default/s", b"elsewhere")
        b = await store.guaranteed_update("/registry/pods/default/a", setter(b"2"))
        c = await store.delete("/registry/pods/default/a")
        events = await take(w, 3)
    finally:
        await w.close()
    assert [e.type for e in events] == [EventType.ADDED, EventType.MODIFIED, EventType.DELETED]
    assert [e.revision for e in events] == [a.mod_revision, b.mod_revision, c.mod_revision]
    assert (events[0].value, events[0].prev_value) == (b"1", None)
    assert (events[1].value, events[1].prev_value) == (b"2", b"1")
    assert (events[2].value, events[2].prev_value) == (b"2", b"2")
    assert all(e.create_revision == a.create_revision for e in events)


async def test_watch_from_past_revision_replays_then_follows(store: Interface) -> None:
    first = await store.create("/registry/cm/a", b"1")
    await store.create("/registry/cm/b", b"2")
    await store.guaranteed_update("/registry/cm/a", setter(b"3"))
    w = store.watch("/registry/cm/", from_revision=first.mod_revision)
    try:
        await store.create("/registry/cm/c", b"4")
        events = await take(w, 3)
    finally:
        await w.close()
    assert [(e.key[-1], e.value) for e in events] == [("b", b"2"), ("a", b"3"), ("c", b"4")]
    revs = [e.revision for e in events]
    assert revs == sorted(revs) and revs[0] > first.mod_revision


async def test_many_watchers_see_the_same_stream(store: Interface) -> None:
    watchers = [store.watch("/registry/") for _ in range(20)]
    try:
        for i in range(30):
            await store.create(f"/registry/x/{i}", b"v")
        results = await asyncio.gather(*(take(w, 30) for w in watchers))
    finally:
        for w in watchers:
            await w.close()
    expected = [e.revision for e in results[0]]
    assert len(expected) == 30
    assert all([e.revision for e in r] == expected for r in results)


async def test_closed_watch_ends_iteration(store: Interface) -> None:
    w = store.watch("/registry/")
    await w.close()
    await w.close()
    got = [ev async for ev in w]
    assert got == []


async def test_slow_watcher_is_cut_off_and_others_continue(backend: Callable[..., Any]) -> None:
    async with backend(watch_buffer=50) as store:
        slow = store.watch("/registry/")
        fast = store.watch("/registry/")
        received: list[Event] = []

        async def read_fast() -> None:
            async for ev in fast:
                received.append(ev)
                if len(received) == 200:
                    return

        reader = asyncio.create_task(read_fast())
        for i in range(200):
            await store.create(f"/registry/x/{i}", b"v")
            if i % 20 == 0:
                await asyncio.sleep(0.01)  # let the fast reader keep up
        await asyncio.wait_for(reader, 10)
        assert len(received) == 200
        with pytest.raises(WatchClosedError):
            await take(slow, 200, timeout=10)
        await slow.close()
        await fast.close()


# -- compaction


async def test_compaction_keeps_current_values_and_drops_history(store: Interface) -> None:
    a = await store.create("/registry/k/a", b"1")
    await store.guaranteed_update("/registry/k/a", setter(b"2"))
    await store.create("/registry/k/b", b"x")
    await store.delete("/registry/k/b")
    mid = await store.current_revision()
    await store.guaranteed_update("/registry/k/a", setter(b"3"))
    await store.compact(mid)
    assert await store.compacted_revision() == mid
    assert (await store.get("/registry/k/a")).value == b"3"
    assert (await store.get("/registry/k/a", revision=mid)).value == b"2"
    with pytest.raises(TooOldError):
        await store.get("/registry/k/a", revision=a.mod_revision)
    with pytest.raises(TooOldError):
        await store.list("/registry/k/", revision=mid - 1)
    with pytest.raises(TooOldError):
        store.watch("/registry/k/", from_revision=a.mod_revision)
    assert [kv.key for kv in (await store.list("/registry/k/")).items] == ["/registry/k/a"]
    # Writes go on after compaction, with the revision counter untouched.
    c = await store.create("/registry/k/c", b"after")
    assert c.mod_revision > mid


async def test_continue_token_expires_with_compaction(store: Interface) -> None:
    await fill(store, 6)
    first = await store.list("/registry/pods/default/", limit=2)
    await store.guaranteed_update("/registry/pods/default/p000", setter(b"x"))
    await store.guaranteed_update("/registry/pods/default/p001", setter(b"y"))
    await store.compact(await store.current_revision())
    with pytest.raises(TooOldError):
        await store.list("/registry/pods/default/", limit=2, continue_token=first.continue_token)


async def test_watch_from_compacted_boundary(store: Interface) -> None:
    await store.create("/registry/k/a", b"1")
    b = await store.create("/registry/k/b", b"2")
    c = await store.create("/registry/k/c", b"3")
    await store.compact(c.mod_revision)
    # Changes after b are all still there: allowed.
    w = store.watch("/registry/k/", from_revision=b.mod_revision)
    try:
        events = await take(w, 1)
    finally:
        await w.close()
    assert events[0].key == "/registry/k/c"

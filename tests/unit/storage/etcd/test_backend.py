"""What the etcd backend does beyond the shared contract, against a real etcd."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator

import pytest

from pyk8s.storage import factory
from pyk8s.storage.etcd.backend import EtcdStorage
from pyk8s.storage.interface import (
    Event,
    EventType,
    KeyValue,
    StorageUnavailableError,
    TooOldError,
    Watch,
    WatchClosedError,
)
from tests.support import etcdserver
from tests.support.etcdserver import EtcdServer


async def etcdctl(server: EtcdServer, *args: str) -> str:
    exe = etcdserver.etcdctl()
    if exe is None:
        pytest.skip("etcdctl is not installed (Debian etcd-client; `make deps` installs it)")
    proc = await asyncio.create_subprocess_exec(
        exe,
        f"--endpoints={server.endpoint}",
        *args,
        env={**os.environ, "ETCDCTL_API": "3"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


@contextlib.asynccontextmanager
async def opened(server: EtcdServer, prefix: str, **options: object) -> AsyncIterator[EtcdStorage]:
    store = await EtcdStorage.open(server.endpoint, prefix=prefix, **options)  # type: ignore[arg-type]
    try:
        yield store
    finally:
        await store.close()
        await etcdctl(server, "del", "--prefix", prefix + "/")


async def take(w: Watch, n: int, timeout: float = 10.0) -> list[Event]:
    out: list[Event] = []

    async def read() -> None:
        async for ev in w:
            out.append(ev)
            if len(out) == n:
                return

    await asyncio.wait_for(read(), timeout)
    return out


async def test_etcdctl_shows_the_keys_kubernetes_shows(etcd_server: EtcdServer) -> None:
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    async with opened(etcd_server, "/registry") as store:
        await store.create(f"/registry/pods/{ns}/web", b"{}")
        await store.create(f"/registry/services/specs/{ns}/web", b"{}")
        await store.create(f"/registry/namespaces/{ns}", b"{}")
        listed = (await etcdctl(etcd_server, "get", "/registry", "--prefix", "--keys-only")).split()
        assert {
            f"/registry/pods/{ns}/web",
            f"/registry/services/specs/{ns}/web",
            f"/registry/namespaces/{ns}",
        } <= set(listed)
        value = await etcdctl(etcd_server, "get", f"/registry/pods/{ns}/web", "--print-value-only")
        assert value.strip() == "{}"
        await store.delete(f"/registry/pods/{ns}/web")
        await store.delete(f"/registry/services/specs/{ns}/web")
        await store.delete(f"/registry/namespaces/{ns}")
        listed = (await etcdctl(etcd_server, "get", "/registry", "--prefix", "--keys-only")).split()
        assert not [k for k in listed if ns in k]


async def test_etcd_prefix_replaces_registry(etcd_server: EtcdServer) -> None:
    prefix = f"/cluster-{uuid.uuid4().hex[:8]}"
    async with opened(etcd_server, prefix) as store:
        kv = await store.create("/registry/pods/default/web", b"x")
        assert kv.key == "/registry/pods/default/web"
        listed = (await etcdctl(etcd_server, "get", prefix, "--prefix", "--keys-only")).split()
        assert listed == [f"{prefix}/pods/default/web"]
        assert [k.key for k in (await store.list("/registry/pods/")).items] == [kv.key]
        with pytest.raises(ValueError, match="does not start with '/registry'"):
            await store.create("/pods/default/web", b"x")


async def test_factory_opens_etcd(etcd_server: EtcdServer) -> None:
    prefix = f"/factory-{uuid.uuid4().hex[:8]}"
    config = factory.StorageConfig(
        datastore_endpoint=f"{etcd_server.endpoint},127.0.0.1:{etcd_server.client_port}",
        etcd_prefix=prefix,
    )
    assert config.kind == "etcd"
    store = await factory.open_storage(config)
    try:
        assert isinstance(store, EtcdStorage)
        await store.create("/registry/k", b"v")
        assert (await etcdctl(etcd_server, "get", f"{prefix}/k", "--print-value-only")).strip() == (
            "v"
        )
    finally:
        await store.close()
        await etcdctl(etcd_server, "del", "--prefix", prefix + "/")


async def test_compaction_by_someone_else_is_discovered(etcd_server: EtcdServer) -> None:
    prefix = f"/compact-{uuid.uuid4().hex[:8]}"
    async with opened(etcd_server, prefix) as store:
        first = await store.create("/registry/k", b"1")
        for i in range(5):
            await store.create(f"/registry/n{i}", b"x")
        mid = await store.current_revision()
        await store.create("/registry/late", b"x")
        await etcdctl(etcd_server, "compaction", str(mid))
        # A store opened now finds the compacted revision on its own ...
        async with opened(etcd_server, prefix) as fresh:
            assert await fresh.compacted_revision() == mid
            with pytest.raises(TooOldError):
                fresh.watch("/registry/", from_revision=first.mod_revision)
        # ... and one that was open learns it from etcd's "compacted" answer.
        with pytest.raises(TooOldError) as caught:
            await store.get("/registry/k", revision=first.mod_revision)
        assert caught.value.compacted == mid == await store.compacted_revision()
        await store.compact(mid - 1)  # older than etcd's: nothing to do, no error
        assert (await store.get("/registry/k", revision=mid)).value == b"1"


async def test_watch_from_revision_compacted_behind_our_back(etcd_server: EtcdServer) -> None:
    prefix = f"/wc-{uuid.uuid4().hex[:8]}"
    async with opened(etcd_server, prefix) as store:
        now = store.watch("/registry/")
        first = await store.create("/registry/a", b"1")
        await store.create("/registry/b", b"2")
        last = await store.create("/registry/c", b"3")
        await take(now, 3)  # the shared stream is past `first` now
        await now.close()
        await etcdctl(etcd_server, "compaction", str(last.mod_revision))
        # The store has not heard of that compaction; etcd tells the watch.
        w = store.watch("/registry/", from_revision=first.mod_revision)
        with pytest.raises(TooOldError):
            await take(w, 2)
        await w.close()
        assert await store.compacted_revision() == last.mod_revision


async def test_past_watcher_replays_at_its_pace_and_is_cut_off_when_stalled(
    etcd_server: EtcdServer,
) -> None:
    prefix = f"/slow-{uuid.uuid4().hex[:8]}"
    async with opened(etcd_server, prefix, watch_buffer=20, stall_timeout=0.5) as store:
        start = await store.create("/registry/x/first", b"v")
        for i in range(65):  # more than the buffer: etcd replays it in big batches
            await store.create(f"/registry/x/{i}", b"v")
        slow = store.watch("/registry/x/", from_revision=start.mod_revision)
        fast = store.watch("/registry/x/", from_revision=start.mod_revision)
        got = await take(fast, 65)
        assert [e.key for e in got] == [f"/registry/x/{i}" for i in range(65)]
        await asyncio.sleep(1.0)  # `slow` reads nothing for longer than stall_timeout
        with pytest.raises(WatchClosedError):
            await take(slow, 65)
        await slow.close()
        await fast.close()


async def test_unreachable_etcd_is_unavailable() -> None:
    port = etcdserver._free_port()
    with pytest.raises(StorageUnavailableError, match="etcd"):
        await EtcdStorage.open(f"http://127.0.0.1:{port}", connect_timeout=0.5)


@pytest.mark.slow
async def test_watch_resumes_after_etcd_restart(tmp_path: object) -> None:
    if etcdserver.binary() is None:
        pytest.skip("etcd is not installed (Debian etcd-server; `make deps` installs it)")
    server = await asyncio.to_thread(EtcdServer().start)
    try:
        store = await EtcdStorage.open(server.endpoint, timeout=2.0)
        try:
            w = store.watch("/registry/")
            await store.create("/registry/before", b"1")
            await asyncio.to_thread(server.restart)
            # etcd was down: the stream reconnects and carries on where it was.
            after = await store.create("/registry/after", b"2")
            events = await take(w, 2, timeout=30)
            assert [(e.type, e.key) for e in events] == [
                (EventType.ADDED, "/registry/before"),
                (EventType.ADDED, "/registry/after"),
            ]
            assert events[1].revision == after.mod_revision
            await w.close()
            await asyncio.to_thread(server._kill)
            with pytest.raises(StorageUnavailableError):
                await store.get("/registry/after")
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_bad_endpoint_given_to_the_factory_is_refused() -> None:
    config = factory.StorageConfig(datastore_endpoint="http://a:1,ftp://b:2")
    with pytest.raises(ValueError, match="scheme must be http or https"):
        await factory.open_storage(config)


async def test_two_stores_on_one_etcd_see_each_other(etcd_server: EtcdServer) -> None:
    """Two API servers (HA) on one etcd: one's writes reach the other's watchers,
    and their conflicting updates serialize through etcd."""
    prefix = f"/ha-{uuid.uuid4().hex[:8]}"
    async with opened(etcd_server, prefix) as a, opened(etcd_server, prefix) as b:
        w = b.watch("/registry/")
        await a.create("/registry/counter", b"0")

        async def increment(kv: KeyValue) -> bytes:
            await asyncio.sleep(0)
            return str(int(kv.value) + 1).encode()

        await asyncio.gather(
            *(s.guaranteed_update("/registry/counter", increment) for s in (a, b) * 20)
        )
        assert (await b.get("/registry/counter")).value == b"40"
        events = await take(w, 41)
        assert [e.type for e in events] == [EventType.ADDED] + [EventType.MODIFIED] * 40
        assert [e.value for e in events] == [str(i).encode() for i in range(41)]
        await w.close()


async def test_closing_the_store_ends_every_watch(etcd_server: EtcdServer) -> None:
    prefix = f"/close-{uuid.uuid4().hex[:8]}"
    store = await EtcdStorage.open(etcd_server.endpoint, prefix=prefix)
    try:
        first = await store.create("/registry/a", b"1")
        now = store.watch("/registry/")
        await store.create("/registry/b", b"2")
        await take(now, 1)  # the shared stream is past `first`: the next watch is its own
        past = store.watch("/registry/", from_revision=first.mod_revision)
        assert [e.key for e in await take(past, 1)] == ["/registry/b"]
    finally:
        await store.close()
        await etcdctl(etcd_server, "del", "--prefix", prefix + "/")
    for w in (now, past):
        with pytest.raises(WatchClosedError, match="storage closed"):
            await take(w, 1)


_SPAWN_UNDER_TRAFFIC = """
import asyncio, sys, uvloop
from pyk8s.storage.etcd.backend import EtcdStorage

async def main(endpoint, prefix, spawns):
    store = await EtcdStorage.open(endpoint, prefix=prefix)
    watch = store.watch("/registry/")
    stop = asyncio.Event()

    async def write(w):
        i = 0
        while not stop.is_set():
            await store.create(f"/registry/w{w}/{i}", b"x")
            i += 1

    async def read():
        async for _ in watch:
            pass

    tasks = [asyncio.create_task(write(w)) for w in range(8)] + [asyncio.create_task(read())]
    failed = 0
    for _ in range(spawns):
        proc = await asyncio.create_subprocess_exec("true")
        failed += await asyncio.wait_for(proc.wait(), 10) != 0
    stop.set()
    for t in tasks:
        t.cancel()
    await watch.close()
    await store.close()
    print(failed)

uvloop.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


@pytest.mark.slow
async def test_children_forked_during_grpc_traffic_do_not_crash(etcd_server: EtcdServer) -> None:
    """pyk8s forks runc and iptables (uvloop: fork, then exec) in the process that
    talks to etcd; grpc's fork handlers used to crash a child now and then."""
    prefix = f"/fork-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SPAWN_UNDER_TRAFFIC,
        etcd_server.endpoint,
        prefix,
        "200",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        await etcdctl(etcd_server, "del", "--prefix", prefix + "/")
    assert proc.returncode == 0, err.decode()[-2000:]
    assert out.decode().split() == ["0"], "children died"

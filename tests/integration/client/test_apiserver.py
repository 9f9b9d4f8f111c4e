"""The client library against the real API server: wire format, errors, informers, leases."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client import clock, events, kubeconfig, leaderelection, rest
from pyk8s.client.cache import store
from pyk8s.client.informers import factory, listwatch, reflector, shared_informer

from .conftest import TOKEN, ApiServer

CONFIGMAPS = rest.for_kind("v1", "ConfigMap")
NAMESPACES = rest.for_kind("v1", "Namespace")
EVENTS = rest.for_kind("events.k8s.io/v1", "Event")


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


async def eventually(cond: Any, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def test_crud_and_errors(client: rest.Client) -> None:
    created = await client.create(CONFIGMAPS, cm("a", app="web"), "default")
    assert created["metadata"]["uid"]
    with pytest.raises(errors.AlreadyExists, match='configmaps "a" already exists'):
        await client.create(CONFIGMAPS, cm("a"), "default")

    got = await client.get(CONFIGMAPS, "a", "default")
    got["data"]["k"] = "v2"
    updated = await client.update(CONFIGMAPS, got)
    assert updated["data"] == {"k": "v2"}
    with pytest.raises(errors.Conflict):
        await client.update(CONFIGMAPS, got)  # stale resourceVersion

    merged = await client.patch(CONFIGMAPS, "a", {"data": {"x": "1"}}, "default")
    assert merged["data"] == {"k": "v2", "x": "1"}
    jsoned = await client.patch(
        CONFIGMAPS,
        "a",
        [{"op": "replace", "path": "/data/x", "value": "2"}],
        "default",
        patch_type=rest.PatchType.JSON,
    )
    assert jsoned["data"]["x"] == "2"

    await client.create(CONFIGMAPS, cm("b", app="db"), "default")
    web = await client.list(CONFIGMAPS, "default", label_selector="app=web")
    assert [o["metadata"]["name"] for o in web["items"]] == ["a"]

    await client.delete(CONFIGMAPS, "a", "default")
    with pytest.raises(errors.NotFound, match='configmaps "a" not found'):
        await client.get(CONFIGMAPS, "a", "default")
    with pytest.raises(errors.NotFound):
        await client.delete(CONFIGMAPS, "a", "default")


async def test_paging(client: rest.Client) -> None:
    for i in range(5):
        await client.create(CONFIGMAPS, cm(f"p{i}"), "default")
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = await client.list(CONFIGMAPS, "default", limit=2, continue_=token)
        pages += 1
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert sorted(n for n in names if n.startswith("p")) == [f"p{i}" for i in range(5)]
    assert pages >= 3


async def test_watch_with_bookmarks(client: rest.Client) -> None:
    listed = await client.list(CONFIGMAPS, "default")
    rv = listed["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        gen = client.watch(CONFIGMAPS, "default", resource_version=rv, timeout_seconds=30)
        async with contextlib.aclosing(gen) as stream:
            async for ev in stream:
                seen.append((ev.type, ev.object["metadata"].get("name", "")))
                if ev.type == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await client.create(CONFIGMAPS, cm("w"), "default")
    await client.patch(CONFIGMAPS, "w", {"data": {"k": "changed"}}, "default")
    await eventually(lambda: ("BOOKMARK", "") in seen)  # every 0.2 s
    await client.delete(CONFIGMAPS, "w", "default")
    await asyncio.wait_for(task, 30)
    changes = [s for s in seen if s[0] != "BOOKMARK"]
    assert changes == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    assert ("BOOKMARK", "") in seen


async def test_token_and_anonymous(apiserver: ApiServer) -> None:
    admin = await kubeconfig.load(apiserver.config.kubeconfig_path)
    with_token = kubeconfig.Config(server=admin.server, ca_data=admin.ca_data, token=TOKEN)
    async with rest.Client(with_token) as c:
        # Authenticated (not 401), but RBAC grants carol nothing on namespaces.
        with pytest.raises(errors.Forbidden):
            await c.list(NAMESPACES)
    bad_token = kubeconfig.Config(server=admin.server, ca_data=admin.ca_data, token="nope")
    async with rest.Client(bad_token) as c:
        with pytest.raises(errors.Unauthorized):
            await c.list(NAMESPACES)


async def test_discovery(client: rest.Client) -> None:
    assert await client.resource_for("apps/v1", "Deployment") == rest.for_kind(
        "apps/v1", "Deployment"
    )
    leases = await client.resource_for("coordination.k8s.io/v1", "Lease")
    assert leases == leaderelection.LEASES


async def test_informers_follow_the_server(client: rest.Client) -> None:
    await client.create(CONFIGMAPS, cm("one", app="web"), "default")
    async with factory.SharedInformerFactory(client) as informers:
        inf = informers.for_resource(CONFIGMAPS)
        adds: list[str] = []
        deletes: list[str] = []
        inf.add_event_handler(
            shared_informer.EventHandlerFuncs(
                add=lambda o: adds.append(o["metadata"]["name"]),
                delete=lambda o: deletes.append(o["metadata"]["name"]),  # type: ignore[index]
            )
        )
        informers.start()
        assert await informers.wait_for_cache_sync(timeout=10) == {CONFIGMAPS: True}
        assert "one" in adds
        await client.create(CONFIGMAPS, cm("two", app="web"), "default")
        await eventually(lambda: "two" in adds)
        await client.delete(CONFIGMAPS, "one", "default")
        await eventually(lambda: "one" in deletes)
        lister = informers.lister(CONFIGMAPS)
        assert [
            o["metadata"]["name"] for o in lister.namespace("default").list({"app": "web"})
        ] == ["two"]
        cached = lister.namespace("default").get("two")
        assert (cached["apiVersion"], cached["kind"]) == ("v1", "ConfigMap")


async def test_leader_election_on_a_real_lease(client: rest.Client) -> None:
    fc = clock.FakeClock()
    leading = asyncio.Event()

    async def work() -> None:
        leading.set()
        await asyncio.Event().wait()

    lock = leaderelection.LeaseLock(client, "kube-system", "client-test", "me")
    elector = leaderelection.LeaderElector(lock, work, clock=fc)
    task = asyncio.create_task(elector.run())
    await asyncio.wait_for(leading.wait(), 30)
    lease = await client.get(leaderelection.LEASES, "client-test", "kube-system")
    assert lease["spec"]["holderIdentity"] == "me"
    assert lease["spec"]["renewTime"].endswith("Z")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    lease = await client.get(leaderelection.LEASES, "client-test", "kube-system")
    assert lease["spec"]["holderIdentity"] == ""


async def test_event_series_on_the_real_server(client: rest.Client) -> None:
    target = await client.create(CONFIGMAPS, cm("ev"), "default")
    rec = events.EventRecorder(client, "client-test", "client-test-1", clock=clock.FakeClock())
    for _ in range(3):
        rec.event(target, events.WARNING, "Broken", "Check", "it is broken")
    await rec.flush()
    listed = await client.list(EVENTS, "default")
    mine = [e for e in listed["items"] if e.get("reportingController") == "client-test"]
    assert len(mine) == 1
    assert mine[0]["regarding"]["name"] == "ev"
    assert mine[0]["series"]["count"] == 2  # the third is counted locally until flushed


async def test_compacted_watch_is_gone_and_the_reflector_recovers(
    apiserver: ApiServer, client: rest.Client
) -> None:
    first = await client.create(CONFIGMAPS, cm("old"), "default")
    old_rv = first["metadata"]["resourceVersion"]
    for i in range(3):
        await client.create(CONFIGMAPS, cm(f"new{i}"), "default")
    await apiserver.storage.compact(await apiserver.storage.current_revision())
    with pytest.raises(errors.Gone):
        async for _ in client.watch(CONFIGMAPS, "default", resource_version=old_rv):
            pass

    s = store.Store()
    r = reflector.Reflector(listwatch.ListWatch(client, CONFIGMAPS, "default"), s)
    r.last_sync_resource_version = old_rv
    with pytest.raises(errors.Gone):
        await r.watch()
    await r.list()  # what run() does next: relist, then watch from the fresh version
    assert {"default/new0", "default/new1", "default/new2"} <= set(s.list_keys())
    assert int(r.last_sync_resource_version) > int(old_rv)

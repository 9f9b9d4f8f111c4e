"""The informer factory over the real REST client and the in-test wire-format server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.client import kubeconfig, rest
from pyk8s.client.informers import factory, shared_informer

from ..fakeapi import FakeApi, serving, status
from .scripted import eventually

PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")


def pod(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}}


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def client(api: FakeApi) -> AsyncIterator[rest.Client]:
    async with serving(api) as url, rest.Client(kubeconfig.Config(url)) as c:
        yield c


async def test_one_watch_per_resource_many_handlers(api: FakeApi, client: rest.Client) -> None:
    for i in range(5):
        api.put("/api/v1/pods", pod(f"p{i}", app="web" if i % 2 else "db"))
    api.put("/api/v1/nodes", {"metadata": {"name": "n1"}})
    list_rv = str(api.rv)
    async with factory.SharedInformerFactory(client, page_size=2) as informers:
        first = informers.for_resource(PODS)
        second = informers.for_resource(PODS)
        assert first is second
        adds_a: list[str] = []
        adds_b: list[str] = []
        first.add_event_handler(
            shared_informer.EventHandlerFuncs(add=lambda o: adds_a.append(o["metadata"]["name"]))
        )
        second.add_event_handler(
            shared_informer.EventHandlerFuncs(add=lambda o: adds_b.append(o["metadata"]["name"]))
        )
        informers.for_resource(NODES)
        informers.start()
        informers.start()  # idempotent
        assert await informers.wait_for_cache_sync(timeout=5) == {PODS: True, NODES: True}
        assert sorted(adds_a) == sorted(adds_b) == [f"p{i}" for i in range(5)]

        # Paged list of pods (2 per page), one watch each, from the list's version.
        pod_lists = [r for r in api.requests if r.path == "/api/v1/pods" and "watch" not in r.query]
        assert [r.query.get("limit") for r in pod_lists] == ["2", "2", "2"]
        await eventually(lambda: len([r for r in api.requests if "watch" in r.query]) == 2)
        watch = next(r for r in api.requests if r.path == "/api/v1/pods" and "watch" in r.query)
        assert watch.query["allowWatchBookmarks"] == "true"
        assert watch.query["resourceVersion"] == list_rv

        # Items from a list carry apiVersion and kind.
        cached = informers.lister(PODS).namespace("default").get("p0")
        assert (cached["apiVersion"], cached["kind"]) == ("v1", "Pod")
        web = informers.lister(PODS).list({"app": "web"})
        assert sorted(o["metadata"]["name"] for o in web) == ["p1", "p3"]

        api.put("/api/v1/pods", pod("late"))
        await eventually(lambda: "late" in adds_a and "late" in adds_b)
        api.remove("/api/v1/pods", "default", "late")
        await eventually(lambda: "default/late" not in first.store)
        assert informers.lister(NODES).get("n1")["metadata"]["name"] == "n1"
    with pytest.raises(RuntimeError, match="shut down"):
        informers.start()


async def test_relist_after_watch_expiry_over_the_wire(api: FakeApi, client: rest.Client) -> None:
    api.put("/api/v1/pods", pod("a"))
    async with factory.SharedInformerFactory(client) as informers:
        inf = informers.for_resource(PODS)
        deletes: list[Any] = []
        inf.add_event_handler(shared_informer.EventHandlerFuncs(delete=deletes.append))
        inf.reflector.backoff.initial = 0.001
        inf.reflector.backoff.jitter = 0
        informers.start()
        await informers.wait_for_cache_sync(timeout=5)
        # While nobody watches, "a" goes and history is compacted: the re-watch gets 410.
        api.compacted = api.rv + 10
        api.objects.clear()
        api.rv += 20
        api.end_watches()
        await eventually(lambda: bool(deletes))
        assert deletes[0].key == "default/a"
        assert inf.reflector.lists == 2


async def test_wait_for_cache_sync_times_out_when_the_list_fails(
    api: FakeApi, client: rest.Client
) -> None:
    for _ in range(3):
        api.fail_next(403, status(403, "Forbidden", 'pods is forbidden: User "x" cannot list'))
    async with factory.SharedInformerFactory(client) as informers:
        informers.for_resource(PODS)
        informers.start()
        assert await informers.wait_for_cache_sync(timeout=0.2) == {PODS: False}


async def test_namespace_scoped_factory(api: FakeApi, client: rest.Client) -> None:
    api.put("/api/v1/pods", pod("in", ns="team"))
    api.put("/api/v1/pods", pod("out", ns="other"))
    async with factory.SharedInformerFactory(client, namespace="team") as informers:
        inf = informers.for_resource(PODS)
        informers.start()
        await informers.wait_for_cache_sync(timeout=5)
        assert inf.store.list_keys() == ["team/in"]
    assert any(r.path == "/api/v1/namespaces/team/pods" for r in api.requests)

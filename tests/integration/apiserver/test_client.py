"""pyk8s's own client and informers against the real API server (no fakes)."""

from __future__ import annotations

import asyncio

from pyk8s.api import errors, scheme
from pyk8s.client import rest
from pyk8s.client.informers.factory import SharedInformerFactory
from tests.integration.apiserver.conftest import Cluster

CM = rest.ResourceRef.from_resource(scheme.DEFAULT.lookup("", "v1", "configmaps"))  # type: ignore[arg-type]
PODS = rest.ResourceRef.from_resource(scheme.DEFAULT.lookup("", "v1", "pods"))  # type: ignore[arg-type]


async def test_client_verbs_and_errors(cluster: Cluster) -> None:
    async with await rest.Client.from_kubeconfig(cluster.config.kubeconfig_path) as c:
        created = await c.create(CM, {"metadata": {"name": "c1"}, "data": {"a": "1"}}, "default")
        assert created["metadata"]["uid"]
        patched = await c.patch(CM, "c1", {"data": {"b": "2"}}, "default")
        assert patched["data"] == {"a": "1", "b": "2"}
        stale = dict(created, data={"x": "y"})
        try:
            await c.update(CM, stale, "default")
        except errors.Conflict:
            pass
        else:
            raise AssertionError("a stale update must raise Conflict")
        try:
            await c.get(CM, "nope", "default")
        except errors.NotFound as e:
            assert e.message == 'configmaps "nope" not found'
        else:
            raise AssertionError("expected NotFound")
        pod = {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        await c.create(PODS, pod, "default")
        got = await c.get(PODS, "p", "default")
        got["status"] = {"phase": "Running"}
        out = await c.update(PODS, got, "default", subresource="status")
        assert out["status"] == {"phase": "Running"}


async def test_informer_lists_then_watches(cluster: Cluster) -> None:
    async with await rest.Client.from_kubeconfig(cluster.config.kubeconfig_path) as c:
        await c.create(CM, {"metadata": {"name": "before"}}, "default")
        factory = SharedInformerFactory(c, namespace="default")
        informer = factory.for_resource(CM)
        lister = factory.lister(CM)
        factory.start()
        try:
            synced = await factory.wait_for_cache_sync(timeout=10)
            assert all(synced.values())
            assert [o["metadata"]["name"] for o in lister.namespace("default").list()] == ["before"]
            await c.create(CM, {"metadata": {"name": "after"}}, "default")
            for _ in range(100):
                names = {o["metadata"]["name"] for o in lister.namespace("default").list()}
                if "after" in names:
                    break
                await asyncio.sleep(0.05)
            assert names == {"before", "after"}
            assert informer.has_synced()
        finally:
            await factory.shutdown()

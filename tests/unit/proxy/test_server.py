"""The proxy component over real informers and the wire-format fake API (pyk8s/proxy/server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pyk8s.client import kubeconfig, rest
from pyk8s.client.informers import factory
from pyk8s.proxy import server
from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.provider import FakeProvider
from tests.unit.client.fakeapi import FakeApi, serving

SVC = "/api/v1/services"
ES = "/apis/discovery.k8s.io/v1/endpointslices"


async def eventually(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)


def service(name: str, ip: str, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"clusterIP": ip, "ports": [{"port": 80}]},
    }


def names(objs: Any) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


@pytest.fixture
async def running() -> AsyncIterator[tuple[FakeApi, FakeProvider, server.ProxyServer]]:
    api = FakeApi()
    api.put(SVC, service("web", "10.43.0.20"))
    api.put(SVC, service("other", "10.43.0.21", **{server.SERVICE_PROXY_NAME: "someone"}))
    api.put(
        ES,
        {
            "metadata": {
                "name": "web-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "endpoints": [],
        },
    )
    provider = FakeProvider()
    async with (
        serving(api) as url,
        rest.Client(kubeconfig.Config(url)) as client,
        factory.SharedInformerFactory(client) as informers,
    ):
        ps = server.ProxyServer(
            provider,
            informers.for_resource(server.SERVICES),
            informers.for_resource(server.ENDPOINT_SLICES),
            ProxyConfig(min_sync_period=0.05),
        )
        informers.start()
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(ps.run(ready))
        try:
            await asyncio.wait_for(ready.wait(), 5)
            yield api, provider, ps
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_first_sync_has_everything_but_foreign_services(running):
    _, provider, _ = running
    services, slices = provider.syncs[0]
    assert names(services) == ["web"]
    assert names(slices) == ["web-1"]


async def test_changes_are_synced_and_bursts_folded(running):
    api, provider, ps = running
    before = len(provider.syncs)
    for i in range(10):
        api.put(SVC, service(f"s{i}", f"10.43.1.{i + 1}"))
    await eventually(lambda: bool(provider.syncs) and len(provider.syncs[-1][0]) == 11)
    assert len(provider.syncs) - before < 10  # a burst of changes, fewer syncs
    api.remove(SVC, "default", "web")
    await eventually(lambda: "web" not in names(provider.syncs[-1][0]))
    assert ps.runner.failures == 0


async def test_failed_sync_is_retried() -> None:
    api = FakeApi()
    provider = FakeProvider(fail=1)
    async with (
        serving(api) as url,
        rest.Client(kubeconfig.Config(url)) as client,
        factory.SharedInformerFactory(client) as informers,
    ):
        ps = server.ProxyServer(
            provider,
            informers.for_resource(server.SERVICES),
            informers.for_resource(server.ENDPOINT_SLICES),
            ProxyConfig(min_sync_period=0.01),
        )
        informers.start()
        with pytest.raises(RuntimeError, match="fake provider failure"):
            await ps.run()  # the first sync must work, or the node does not start
        ps.runner.retry_interval = 0.01
        task = asyncio.get_running_loop().create_task(ps.runner.run())
        try:
            await eventually(lambda: len(provider.syncs) == 1)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

"""The proxy and DNS components against the real API server (in process, memory storage).

Objects are created through the API as kubectl would, so the components see what the server
really stores: allocated ClusterIPs, defaulted fields, resourceVersions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from dnslib import DNSRecord

from pyk8s.api import scheme
from pyk8s.client import rest
from pyk8s.client.informers import factory
from pyk8s.dns import controller, records, server
from pyk8s.proxy import server as proxy_server
from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.iptables import rules
from pyk8s.proxy.provider import FakeProvider
from tests.integration.apiserver.conftest import Cluster, cluster  # noqa: F401
from tests.support.ports import free_port

SERVICES = rest.ResourceRef.from_resource(scheme.DEFAULT.lookup("", "v1", "services"))  # type: ignore[arg-type]
SLICES = rest.ResourceRef.from_resource(  # type: ignore[arg-type]
    scheme.DEFAULT.lookup("discovery.k8s.io", "v1", "endpointslices")
)


async def eventually(cond: Callable[[], Any], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await cond():
            await asyncio.sleep(0.02)


async def create_web(c: rest.Client) -> dict[str, Any]:
    svc = await c.create(
        SERVICES,
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        },
        "default",
    )
    await c.create(
        SLICES,
        {
            "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.42.0.7"], "conditions": {"ready": True}, "nodeName": "node-a"}
            ],
        },
        "default",
    )
    return svc


async def test_dns_answers_for_services_created_through_the_api(
    cluster: Cluster,  # noqa: F811
) -> None:
    port = free_port()
    async with await rest.Client.from_kubeconfig(cluster.config.kubeconfig_path) as c:
        svc = await create_web(c)
        ip = svc["spec"]["clusterIP"]
        assert ip and ip != "None"
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            controller.run(
                records.DNSConfig(),
                server.ServerConfig(host="127.0.0.1", port=port, upstreams=()),
                c,
                ready,
            )
        )
        try:
            await asyncio.wait_for(ready.wait(), 30)

            async def answers(name: str, qtype: str = "A") -> list[str]:
                q = DNSRecord.question(name, qtype)
                raw = await asyncio.to_thread(q.send, "127.0.0.1", port, timeout=5)
                return [str(rr.rdata) for rr in DNSRecord.parse(raw).rr]

            assert await answers("web.default.svc.cluster.local") == [ip]
            assert await answers("_http._tcp.web.default.svc.cluster.local", "SRV") == [
                "0 100 80 web.default.svc.cluster.local."
            ]
            # The API server's own Service, made at start-up.
            kubernetes = await c.get(SERVICES, "kubernetes", "default")
            assert await answers("kubernetes.default.svc.cluster.local") == [
                kubernetes["spec"]["clusterIP"]
            ]
            await c.delete(SERVICES, "web", "default")

            async def gone() -> bool:
                return await answers("web.default.svc.cluster.local") == []

            await eventually(gone)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_proxy_renders_rules_from_what_the_api_stores(
    cluster: Cluster,  # noqa: F811
) -> None:
    provider = FakeProvider()
    config = ProxyConfig(node_name="node-a", min_sync_period=0.05)
    async with (
        await rest.Client.from_kubeconfig(cluster.config.kubeconfig_path) as c,
        factory.SharedInformerFactory(c) as informers,
    ):
        ps = proxy_server.ProxyServer(
            provider,
            informers.for_resource(proxy_server.SERVICES),
            informers.for_resource(proxy_server.ENDPOINT_SLICES),
            config,
        )
        informers.start()
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(ps.run(ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            svc = await create_web(c)
            ip = svc["spec"]["clusterIP"]

            async def programmed() -> bool:
                if not provider.syncs:
                    return False
                text = rules.render_rules(*provider.syncs[-1], config)
                return (
                    f"-d {ip} --dport 80 -j PYK8S-SVC-" in text
                    and "--to-destination 10.42.0.7:8080" in text
                )

            await eventually(programmed)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

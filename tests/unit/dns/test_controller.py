"""The cluster DNS component over real informers and the wire-format fake API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from dnslib import RCODE, DNSRecord

from pyk8s.client import kubeconfig, rest
from pyk8s.dns import controller, records, server
from tests.support.ports import free_port
from tests.unit.client.fakeapi import FakeApi, serving

SVC = "/api/v1/services"
ES = "/apis/discovery.k8s.io/v1/endpointslices"
PODS = "/api/v1/pods"


async def eventually(cond: Callable[[], Any], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await cond():
            await asyncio.sleep(0.01)


async def ask(port: int, name: str, qtype: str = "A") -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    return DNSRecord.parse(await asyncio.to_thread(q.send, "127.0.0.1", port, timeout=5))


@pytest.mark.parametrize("pods", ["insecure", "verified"])
async def test_serves_the_cluster_and_follows_changes(pods: str) -> None:
    api = FakeApi()
    api.put(
        SVC,
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.43.0.20", "ports": [{"port": 80}]},
        },
    )
    api.put(
        PODS, {"metadata": {"name": "p", "namespace": "default"}, "status": {"podIP": "10.42.0.7"}}
    )
    port = free_port()
    config = records.DNSConfig(pods=pods)  # type: ignore[arg-type]
    server_config = server.ServerConfig(host="127.0.0.1", port=port, upstreams=())
    async with serving(api) as url, rest.Client(kubeconfig.Config(url)) as client:
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            controller.run(config, server_config, client, ready)
        )
        try:
            await asyncio.wait_for(ready.wait(), 5)
            reply = await ask(port, "web.default.svc.cluster.local")
            assert [str(rr.rdata) for rr in reply.rr] == ["10.43.0.20"]
            pod = await ask(port, "10-42-0-7.default.pod.cluster.local")
            assert [str(rr.rdata) for rr in pod.rr] == ["10.42.0.7"]
            unknown = await ask(port, "10-42-0-8.default.pod.cluster.local")
            assert unknown.header.rcode == (RCODE.NXDOMAIN if pods == "verified" else RCODE.NOERROR)

            api.put(
                SVC,
                {
                    "metadata": {"name": "db", "namespace": "prod"},
                    "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
                },
            )
            api.put(
                ES,
                {
                    "metadata": {
                        "name": "db-1",
                        "namespace": "prod",
                        "labels": {"kubernetes.io/service-name": "db"},
                    },
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": ["10.42.0.9"], "hostname": "db-0"}],
                },
            )

            async def headless_ready() -> bool:
                r = await ask(port, "db-0.db.prod.svc.cluster.local")
                return [str(rr.rdata) for rr in r.rr] == ["10.42.0.9"]

            await eventually(headless_ready)
            api.remove(SVC, "default", "web")

            async def gone() -> bool:
                r = await ask(port, "web.default.svc.cluster.local")
                return bool(r.header.rcode == RCODE.NXDOMAIN)

            await eventually(gone)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

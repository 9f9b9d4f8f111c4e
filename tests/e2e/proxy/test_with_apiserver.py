"""Real API server, real informers, the proxy component and iptables in a network namespace.

A Service and its EndpointSlice created through the API carry packets from a client pod to a
server pod through the ClusterIP the API server allocated; an endpoint change moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from pyk8s.api import scheme
from pyk8s.client import rest
from pyk8s.client.informers import factory
from pyk8s.proxy import server
from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.iptables import proxier
from tests.integration.apiserver.conftest import Cluster, cluster  # noqa: F401
from tests.support.netns import PODS, Topology, fetch, missing, wait_for_backends

pytestmark = pytest.mark.e2e

SERVICES = rest.ResourceRef.from_resource(scheme.DEFAULT.lookup("", "v1", "services"))  # type: ignore[arg-type]
SLICES = rest.ResourceRef.from_resource(  # type: ignore[arg-type]
    scheme.DEFAULT.lookup("discovery.k8s.io", "v1", "endpointslices")
)


@pytest.fixture(scope="module")
def topo() -> Iterator[Topology]:
    if (why := missing()) is not None:
        pytest.skip(why)
    t = Topology()
    try:
        t.up()
        yield t
    finally:
        t.down()


def endpoint_slice(pod: str) -> dict[str, object]:
    return {
        "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [PODS[pod]], "conditions": {"ready": True}, "nodeName": "node"}
        ],
    }


async def test_service_created_through_the_api_carries_packets(
    cluster: Cluster,  # noqa: F811
    topo: Topology,
) -> None:
    await wait_for_backends(topo)
    config = ProxyConfig(node_name="node", chain_prefix="PKAPI", cluster_cidr="10.42.0.0/16")
    provider = proxier.Proxier(config, netns=topo.node)
    await provider.setup()
    async with (
        await rest.Client.from_kubeconfig(cluster.config.kubeconfig_path) as c,
        factory.SharedInformerFactory(c) as informers,
    ):
        ps = server.ProxyServer(
            provider,
            informers.for_resource(server.SERVICES),
            informers.for_resource(server.ENDPOINT_SLICES),
            config,
        )
        informers.start()
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(ps.run(ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            svc = await c.create(
                SERVICES,
                {
                    "metadata": {"name": "web"},
                    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                },
                "default",
            )
            await c.create(SLICES, endpoint_slice("pa"), "default")
            url = f"http://{svc['spec']['clusterIP']}/"

            async def answers(expected: str) -> None:
                async with asyncio.timeout(5):
                    while await fetch(topo.ns["pc"], url, timeout=0.5) != expected:
                        await asyncio.sleep(0.05)

            await answers("pa")
            current = await c.get(SLICES, "web-1", "default")
            moved = {**endpoint_slice("pb"), "metadata": current["metadata"]}
            await c.update(SLICES, moved, "default")
            await answers("pb")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await provider.cleanup()
    saved = await proxier.run_command(["iptables-save"], netns=topo.node)
    assert "PKAPI" not in saved

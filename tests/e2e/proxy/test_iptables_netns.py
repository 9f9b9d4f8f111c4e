"""The proxier routes real TCP packets, in network namespaces this test creates.

The topology is ``tests/support/netns.py``: rules are applied in the ``node`` namespace, never
in the host's tables; ``pa`` and ``pb`` answer their names over HTTP, ``pc`` is a client pod,
``ext`` a machine outside the cluster.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.iptables import proxier
from tests.support.netns import PODS, Topology, fetch, fetch_many, missing, wait_for_backends

pytestmark = pytest.mark.e2e

CLUSTER_IP = "10.43.0.10"
NODE_PORT = 30080


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


def service(name: str, ip: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80}], **spec},
    }


def endpoints(name: str, pods: list[str]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{name}-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [PODS[p]], "nodeName": "node"} for p in pods],
    }


@pytest.fixture
async def proxy(topo: Topology) -> Any:
    await wait_for_backends(topo)
    p = proxier.Proxier(
        ProxyConfig(node_name="node", chain_prefix="PKA", cluster_cidr="10.42.0.0/16"),
        netns=topo.node,
    )
    await p.setup()
    try:
        yield p
    finally:
        await p.cleanup()


async def saved(t: Topology) -> str:
    return await proxier.run_command(["iptables-save"], netns=t.node)


async def test_cluster_ip_from_node_pod_and_itself(topo: Topology, proxy: proxier.Proxier) -> None:
    await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pa"])])
    url = f"http://{CLUSTER_IP}/"
    assert await fetch(topo.node, url) == "pa"  # nat OUTPUT
    assert await fetch(topo.ns["pc"], url) == "pa"  # nat PREROUTING, reply bridged
    assert await fetch(topo.ns["pa"], url) == "pa"  # hairpin: masqueraded back to itself


async def test_load_balancing_and_endpoint_changes(topo: Topology, proxy: proxier.Proxier) -> None:
    await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pa", "pb"])])
    url = f"http://{CLUSTER_IP}/"
    seen = Counter(await fetch_many(topo.ns["pc"], url, 30))
    assert set(seen) == {"pa", "pb"}, seen  # P(one backend only) = 2**-29
    await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pb"])])
    assert set(await fetch_many(topo.ns["pc"], url, 10)) == {"pb"}
    # The chains of the endpoint that went away were deleted.
    assert (await saved(topo)).count(":PKA-SEP-") == 1


async def test_session_affinity_pins_a_client(topo: Topology, proxy: proxier.Proxier) -> None:
    svc = service("web", CLUSTER_IP, sessionAffinity="ClientIP")
    await proxy.sync([svc], [endpoints("web", ["pa", "pb"])])
    url = f"http://{CLUSTER_IP}/"
    first = await fetch(topo.ns["pc"], url)
    assert first in ("pa", "pb")
    assert set(await fetch_many(topo.ns["pc"], url, 15)) == {first}


async def test_node_port_from_outside_and_localhost(topo: Topology, proxy: proxier.Proxier) -> None:
    svc = service(
        "web",
        CLUSTER_IP,
        type="NodePort",
        ports=[{"name": "http", "port": 80, "nodePort": NODE_PORT}],
    )
    await proxy.sync([svc], [endpoints("web", ["pa"])])
    assert await fetch(topo.ns["ext"], f"http://192.168.77.1:{NODE_PORT}/") == "pa"
    assert await fetch(topo.node, f"http://10.42.0.1:{NODE_PORT}/") == "pa"
    assert await fetch(topo.node, f"http://127.0.0.1:{NODE_PORT}/") == "pa"


async def test_service_without_endpoints_is_rejected(
    topo: Topology, proxy: proxier.Proxier
) -> None:
    await proxy.sync([service("web", CLUSTER_IP)], [])
    started = asyncio.get_running_loop().time()
    result = await fetch(topo.ns["pc"], f"http://{CLUSTER_IP}/", timeout=5)
    assert "refused" in result.lower(), result
    assert asyncio.get_running_loop().time() - started < 2  # REJECT, not a timeout


async def test_two_prefixes_do_not_touch_each_other(topo: Topology, proxy: proxier.Proxier) -> None:
    other = proxier.Proxier(
        ProxyConfig(
            node_name="node", chain_prefix="PKB", cluster_cidr="10.42.0.0/16", masquerade_bit=13
        ),
        netns=topo.node,
    )
    await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pa"])])
    await other.sync([service("web", "10.43.0.11")], [endpoints("web", ["pb"])])
    await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pa"])])
    assert await fetch(topo.ns["pc"], f"http://{CLUSTER_IP}/") == "pa"
    assert await fetch(topo.ns["pc"], "http://10.43.0.11/") == "pb"
    await other.cleanup()
    assert "PKB" not in await saved(topo)
    assert await fetch(topo.ns["pc"], f"http://{CLUSTER_IP}/") == "pa"
    await proxy.cleanup()
    assert "PKA" not in await saved(topo)
    assert not await proxier.cleanup("PKA", netns=topo.node)


async def test_component_puts_api_changes_in_the_kernel_within_a_second(
    topo: Topology,
) -> None:
    """Informers on the wire-format fake API drive the real proxier in the node namespace."""
    from pyk8s.client import kubeconfig, rest
    from pyk8s.client.informers import factory
    from pyk8s.proxy import server
    from tests.unit.client.fakeapi import FakeApi, serving

    await wait_for_backends(topo)
    config = ProxyConfig(
        node_name="node", chain_prefix="PKC", cluster_cidr="10.42.0.0/16", min_sync_period=0.1
    )
    provider = proxier.Proxier(config, netns=topo.node)
    await provider.setup()
    api = FakeApi()
    svc_path, es_path = "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"
    url = f"http://{CLUSTER_IP}/"

    async def within_a_second(expected: str) -> float:
        """Fails when a request sent 1 s after the change still meets the old rules (the
        age of the request, not of its answer: a client process starts slowly under load)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            sent = loop.time() - started
            got = await fetch(topo.ns["pc"], url, timeout=0.5)
            if got == expected:
                return sent
            assert sent < 1.0, got

    async with (
        serving(api) as base,
        rest.Client(kubeconfig.Config(base)) as client,
        factory.SharedInformerFactory(client) as informers,
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
            api.put(svc_path, service("web", CLUSTER_IP))
            api.put(es_path, endpoints("web", ["pa"]))
            await within_a_second("pa")
            api.put(es_path, endpoints("web", ["pb"]), event="MODIFIED")
            await within_a_second("pb")
            api.remove(es_path, "default", "web-1")
            await within_a_second("error: [Errno 111] Connection refused")
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await provider.cleanup()
    assert "PKC" not in await saved(topo)


# One UDP socket (one source port, so one conntrack entry) asking once per line of input.
UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect((sys.argv[1], int(sys.argv[2])))
for _ in sys.stdin:
    try:
        s.send(b"?")
        print(s.recv(100).decode(), flush=True)
    except OSError as e:
        print(f"error: {e}", flush=True)
"""


async def test_udp_flows_follow_endpoint_changes(topo: Topology, proxy: proxier.Proxier) -> None:
    import sys

    svc = service("dns", "10.43.0.53", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])

    def udp_endpoints(pods: list[str]) -> dict[str, Any]:
        es = endpoints("dns", pods)
        es["ports"] = [{"name": "dns", "port": 8080, "protocol": "UDP"}]
        return es

    client = await asyncio.create_subprocess_exec(
        *("ip", "netns", "exec", topo.ns["pc"], sys.executable, "-I", "-S", "-c", UDP_CLIENT),
        *("10.43.0.53", "53"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert client.stdin is not None and client.stdout is not None

    async def ask() -> str:
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(b"\n")
        await client.stdin.drain()
        return (await client.stdout.readline()).decode().strip()

    try:
        await proxy.sync([svc], [udp_endpoints(["pa"])])
        assert await ask() == "pa"
        assert await ask() == "pa"
        # Same socket, same conntrack entry: without deleting it, "pa" would go on answering.
        await proxy.sync([svc], [udp_endpoints(["pb"])])
        assert await ask() == "pb"
        await proxy.sync([svc], [])
        assert "refused" in (await ask()).lower()
        await proxy.sync([svc], [udp_endpoints(["pa"])])
        assert await ask() == "pa"
    finally:
        client.stdin.close()
        await client.wait()


async def test_load_balancer_ip_on_the_node_address(topo: Topology, proxy: proxier.Proxier) -> None:
    """k3s' service load balancer gives the node's own address; it answers on the port."""
    svc = service(
        "web",
        CLUSTER_IP,
        type="LoadBalancer",
        ports=[{"name": "http", "port": 8088, "nodePort": NODE_PORT}],
    )
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.77.1", "ipMode": "VIP"}]}}
    await proxy.sync([svc], [endpoints("web", ["pb"])])
    assert await fetch(topo.ns["ext"], "http://192.168.77.1:8088/") == "pb"  # from outside
    assert await fetch(topo.node, "http://192.168.77.1:8088/") == "pb"  # from the node
    assert await fetch(topo.ns["pc"], "http://192.168.77.1:8088/") == "pb"  # from a pod
    assert await fetch(topo.ns["ext"], f"http://192.168.77.1:{NODE_PORT}/") == "pb"


async def test_load_balancer_source_ranges(topo: Topology, proxy: proxier.Proxier) -> None:
    def svc(ranges: list[str]) -> dict[str, Any]:
        s = service(
            "web",
            CLUSTER_IP,
            type="LoadBalancer",
            loadBalancerSourceRanges=ranges,
            ports=[{"name": "http", "port": 8089, "nodePort": NODE_PORT}],
        )
        s["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.77.1"}]}}
        return s

    url = "http://192.168.77.1:8089/"
    await proxy.sync([svc(["192.168.77.0/30"])], [endpoints("web", ["pa"])])
    assert await fetch(topo.ns["ext"], url) == "pa"
    await proxy.sync([svc(["10.99.0.0/16"])], [endpoints("web", ["pa"])])
    assert "timed out" in await fetch(topo.ns["ext"], url, timeout=0.5)  # dropped, silently
    assert await fetch(topo.ns["ext"], f"http://192.168.77.1:{NODE_PORT}/") == "pa"


async def test_a_wiped_table_is_rebuilt_by_the_next_full_sync(
    topo: Topology, proxy: proxier.Proxier
) -> None:
    """Partial syncs trust what they wrote; when that is gone, the failure forces a full one."""
    url = f"http://{CLUSTER_IP}/"
    await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pa"])])
    assert await fetch(topo.ns["pc"], url) == "pa"
    for table in ("nat", "filter"):  # someone flushes everything (a firewall reload, say)
        await proxier.run_command(["iptables", "-t", table, "-F"], netns=topo.node)
        await proxier.run_command(["iptables", "-t", table, "-X"], netns=topo.node)
    with pytest.raises(proxier.IptablesError):
        await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pb"])])
    full = proxy.full_syncs
    await proxy.sync([service("web", CLUSTER_IP)], [endpoints("web", ["pb"])])
    assert proxy.full_syncs == full + 1
    assert await fetch(topo.ns["pc"], url) == "pb"

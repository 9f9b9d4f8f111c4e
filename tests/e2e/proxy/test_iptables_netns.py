"""The proxier routes real TCP packets, in network namespaces this test creates.

Topology (all namespaces are the test's own; the host's tables are never touched):

    ext (192.168.77.2) --veth-- node (192.168.77.1; br0 10.42.0.1/24) --bridge-- pa, pb, pc

``node`` is where the rules are applied; ``pa`` and ``pb`` run an HTTP server each that answers
its own name, ``pc`` is a client pod, ``ext`` a machine outside the cluster.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.iptables import proxier

pytestmark = pytest.mark.e2e

CLUSTER_IP = "10.43.0.10"
NODE_PORT = 30080
PODS = {"pa": "10.42.0.2", "pb": "10.42.0.3", "pc": "10.42.0.4"}


# A tiny HTTP/1.0 server answering its name. (http.server looks its own address up in DNS
# at start, which in a namespace without a resolver takes seconds.)
SERVER = """
import socketserver, sys
body = sys.argv[3].encode()
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while self.rfile.readline() not in (b"\\r\\n", b"\\n", b""):
            pass
        head = b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body)
        self.wfile.write(head + body)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces and iptables)"
    for tool in ("ip", "iptables-save", "iptables-restore"):
        if shutil.which(tool) is None:
            return f"needs {tool} (hack/system-packages.txt)"
    return None


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


class Topology:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.ns = {name: f"pyk8s-t{tag}-{name}" for name in ("node", "ext", *PODS)}
        self.servers: list[subprocess.Popen[bytes]] = []

    @property
    def node(self) -> str:
        return self.ns["node"]

    def up(self) -> None:
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        node = self.node
        sh("ip", "-n", node, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", node, "addr", "add", "10.42.0.1/24", "dev", "br0")
        sh("ip", "-n", node, "link", "set", "br0", "up")
        for pod, ip in PODS.items():
            ns = self.ns[pod]
            sh(
                "ip",
                "-n",
                node,
                "link",
                "add",
                f"v{pod}",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            )
            sh("ip", "-n", node, "link", "set", f"v{pod}", "master", "br0", "up")
            # As the kubelet does: a pod reaching itself through a Service comes back in
            # through the port it left by.
            sh("ip", "-n", node, "link", "set", f"v{pod}", "type", "bridge_slave", "hairpin", "on")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "route", "add", "default", "via", "10.42.0.1")
        ext = self.ns["ext"]
        sh(
            "ip",
            "-n",
            node,
            "link",
            "add",
            "vext",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ext,
        )
        sh("ip", "-n", node, "addr", "add", "192.168.77.1/24", "dev", "vext")
        sh("ip", "-n", node, "link", "set", "vext", "up")
        sh("ip", "-n", ext, "addr", "add", "192.168.77.2/24", "dev", "eth0")
        sh("ip", "-n", ext, "link", "set", "eth0", "up")
        # A default route, as a real node has: service IPs are not on any link.
        sh("ip", "-n", node, "route", "add", "default", "via", "192.168.77.2")
        sh("ip", "netns", "exec", node, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        for pod in ("pa", "pb"):
            self.servers.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        self.ns[pod],
                        sys.executable,
                        "-I",
                        "-S",
                        "-c",
                        SERVER,
                        PODS[pod],
                        "8080",
                        pod,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def down(self) -> None:
        for server in self.servers:
            server.kill()
            server.wait()
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


@pytest.fixture(scope="module")
def topo() -> Iterator[Topology]:
    if (why := _missing()) is not None:
        pytest.skip(why)
    t = Topology()
    try:
        t.up()
        yield t
    finally:
        t.down()


# A minimal HTTP/1.0 GET over a raw socket: starts fast, prints the body or the error.
CLIENT = """
import socket, sys
host, port, timeout, count = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
for _ in range(count):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        print(data.split(b"\\r\\n\\r\\n", 1)[1].decode(), flush=True)
    except OSError as e:
        print(f"error: {e}", flush=True)
"""


async def fetch_many(ns: str, url: str, count: int, timeout: float = 3) -> list[str]:
    """GET ``http://host[:port]/`` ``count`` times, a new connection each, from inside ``ns``."""
    host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
    proc = await asyncio.create_subprocess_exec(
        *("ip", "netns", "exec", ns, sys.executable, "-I", "-S", "-c", CLIENT),
        *(host, port or "80", str(timeout), str(count)),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return out.decode().splitlines()


async def fetch(ns: str, url: str, timeout: float = 3) -> str:
    """GET ``url`` once from inside ``ns``: the body, or ``error: ...``."""
    (body,) = await fetch_many(ns, url, 1, timeout)
    return body


async def wait_for_backends(t: Topology) -> None:
    for pod in ("pa", "pb"):
        for _ in range(100):
            if await fetch(t.node, f"http://{PODS[pod]}:8080/", timeout=1) == pod:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"backend {pod} never answered")


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
        started = asyncio.get_running_loop().time()
        while (got := await fetch(topo.ns["pc"], url, timeout=0.5)) != expected:
            assert asyncio.get_running_loop().time() - started < 1.0, got
        return asyncio.get_running_loop().time() - started

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
            await asyncio.wait_for(ready.wait(), 10)
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

"""The bridge pod network on real namespaces: two pods get addresses and talk over TCP.

The node is a network namespace this test creates (the bridge lives there, never on the
host), the pods are two more; teardown must leave no link and no reservation behind.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyk8s.kubelet.network import bridge
from pyk8s.kubelet.runtime.interface import PodSandboxConfig, PodSandboxMetadata
from tests.support.netns import missing

pytestmark = pytest.mark.e2e

CIDR = "10.42.7.0/24"

ECHO = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(); print("ready", flush=True)
c, peer = s.accept(); c.sendall(("hello " + peer[0]).encode()); c.close()
"""

CLIENT = """
import socket, sys, time
for _ in range(50):
    try:
        c = socket.create_connection((sys.argv[1], 8080), timeout=2); break
    except OSError:
        time.sleep(0.1)
print(c.recv(100).decode())
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    if (why := missing()) is not None:
        pytest.skip(why)
    tag = secrets.token_hex(4)
    ns = {"node": f"pyk8s-n{tag}-node", "a": f"pyk8s-{tag}-a", "b": f"pyk8s-{tag}-b"}
    try:
        for n in ns.values():
            sh("ip", "netns", "add", n)
            sh("ip", "-n", n, "link", "set", "lo", "up")
        ns["prefix"] = f"pyk8s-{tag}"
        yield ns
    finally:
        for key in ("node", "a", "b"):
            subprocess.run(["ip", "netns", "delete", ns[key]], check=False, capture_output=True)


def config(name: str) -> PodSandboxConfig:
    return PodSandboxConfig(metadata=PodSandboxMetadata(name=name, uid=name, namespace="default"))


async def test_two_pods_talk_and_teardown_leaves_nothing(
    names: dict[str, str], tmp_path: Path
) -> None:
    node = names["node"]
    net = bridge.BridgeNetwork(names["prefix"], tmp_path, netns=node, cidr_timeout=1)
    with pytest.raises(Exception, match=r"no spec\.podCIDR"):
        await net.setup(names["a"], f"/run/netns/{names['a']}", config("a"))
    net.set_pod_cidr(CIDR)
    ips = {}
    for pod in ("a", "b"):
        got = await net.setup(names[pod], f"/run/netns/{names[pod]}", config(pod))
        assert len(got) == 1 and ipaddress.ip_address(got[0]) in ipaddress.ip_network(CIDR)
        ips[pod] = got[0]
    assert ips["a"] != ips["b"] and "10.42.7.1" not in ips.values()
    route = sh("ip", "-n", names["a"], "route", "show", "default")
    assert "via 10.42.7.1 dev eth0" in route
    assert sh("ip", "netns", "exec", node, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"

    server = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", names["a"], sys.executable, "-c", ECHO,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert (await asyncio.wait_for(server.stdout.readline(), 30)).strip() == b"ready"
        client = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", names["b"], sys.executable, "-c", CLIENT, ips["a"],
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(client.communicate(), 60)
        assert out.decode().strip() == f"hello {ips['b']}"
    finally:
        if server.returncode is None:
            server.kill()
        await server.wait()

    # A restarted agent keeps the reservations: the same sandbox gets the same address.
    again = bridge.BridgeNetwork(names["prefix"], tmp_path, netns=node, pod_cidr=CIDR)
    ipam = again._ipam(ipaddress.IPv4Network(CIDR))
    assert sorted((await asyncio.to_thread(ipam.reserved)).values()) == sorted(
        [names["a"], names["b"]]
    )

    for pod in ("a", "b"):
        await again.teardown(names[pod], f"/run/netns/{names[pod]}", config(pod))
        await again.teardown(names[pod], f"/run/netns/{names[pod]}", config(pod))  # idempotent
    assert await asyncio.to_thread(ipam.reserved) == {}
    assert "eth0" not in sh("ip", "-n", names["a"], "-o", "link")
    links = sh("ip", "-n", node, "-o", "link")
    assert net.veth_name(names["a"]) not in links and net.bridge in links

    # killall: the bridge and the reservations go too.
    assert await bridge.cleanup(names["prefix"], tmp_path, netns=node) == [net.bridge]
    assert net.links not in sh("ip", "-n", node, "-o", "link")
    assert not await asyncio.to_thread(bridge.ipam_dir(tmp_path).exists)

"""host-gw routes, computed without touching the kernel."""

from __future__ import annotations

from typing import Any

from pyk8s.kubelet.network import hostgw


def node(name: str, cidr: str, ip: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr} if cidr else {},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname",
                                                                         "address": name}]},
    }  # fmt: skip


def test_a_route_per_other_node_with_a_pod_cidr() -> None:
    nodes = [
        node("me", "10.42.0.0/24", "172.31.0.1"),
        node("n2", "10.42.1.0/24", "172.31.0.2"),
        node("new", "", "172.31.0.3"),  # no podCIDR yet
    ]
    assert hostgw.wanted_routes(nodes, "me") == {"10.42.1.0/24": "172.31.0.2"}


def test_parse_routes_and_proto() -> None:
    text = "10.42.1.0/24 via 172.31.0.2 dev br0 proto 123 \n10.9.9.9 via 172.31.0.9 dev br0\n"
    assert hostgw.parse_routes(text) == {
        "10.42.1.0/24": "172.31.0.2",
        "10.9.9.9/32": "172.31.0.9",
    }
    protos = {hostgw.route_proto(f"pyk8s-{i:08x}") for i in range(50)}
    assert all(100 <= p < 250 for p in protos) and len(protos) > 10


def test_local_addresses_and_destinations() -> None:
    addrs = "2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n"
    assert hostgw.local_addresses(addrs) == ["192.0.2.2"]
    routes = "default via 192.0.2.1 dev eth0\n10.42.0.0/24 dev pkbr proto kernel scope link\n"
    assert hostgw.route_destinations(routes) == {"10.42.0.0/24"}

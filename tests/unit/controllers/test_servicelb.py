from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers import servicelb
from pyk8s.controllers.resources import NODES, SERVICES
from tests.unit.controllers.conftest import Harness, obj


def lb(name: str, port: int = 80, created: str = "2026-01-01T00:00:00Z", **spec: Any) -> Any:
    return obj(
        "Service",
        name,
        metadata={"creationTimestamp": created},
        spec={"type": "LoadBalancer", "ports": [{"port": port, "protocol": "TCP"}], **spec},
    )


def node(name: str, internal: str, external: str = "") -> Any:
    addresses = [{"type": "InternalIP", "address": internal}]
    if external:
        addresses.append({"type": "ExternalIP", "address": external})
    return obj("Node", name, None, status={"addresses": addresses})


def ingress(h: Harness, name: str) -> list[str]:
    svc = next(s for s in h.client.objects(SERVICES) if s["metadata"]["name"] == name)
    lbs = (svc.get("status") or {}).get("loadBalancer") or {}
    return [i["ip"] for i in lbs.get("ingress") or []]


def test_parse_pool() -> None:
    assert [str(ip) for ip in servicelb.parse_pool(["10.0.0.0/30", "10.1.0.5-10.1.0.6"])] == [
        "10.0.0.1", "10.0.0.2", "10.1.0.5", "10.1.0.6",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="ends before it starts"):
        servicelb.parse_pool(["10.0.0.9-10.0.0.1"])


async def test_node_addresses_and_port_clashes(harness: Harness) -> None:
    harness.client.add(NODES, node("n1", "192.0.2.2"))
    harness.client.add(NODES, node("n2", "192.0.2.3", external="203.0.113.3"))
    harness.client.add(SERVICES, lb("first", created="2026-01-01T00:00:00Z"))
    harness.client.add(SERVICES, lb("second", created="2026-01-02T00:00:00Z"))
    harness.client.add(SERVICES, lb("other-port", port=443))
    harness.client.add(SERVICES, obj("Service", "plain", spec={"type": "ClusterIP"}))
    harness.client.add(SERVICES, lb("theirs", loadBalancerClass="example.com/lb"))
    ctl = await harness.start(servicelb.new)
    for name in ("first", "second", "other-port", "plain", "theirs"):
        await ctl.reconcile(f"default/{name}")
    assert ingress(harness, "first") == ["192.0.2.2", "203.0.113.3"]
    assert ingress(harness, "other-port") == ["192.0.2.2", "203.0.113.3"]
    assert ingress(harness, "second") == []  # port 80 is first's on the nodes: pending
    assert ingress(harness, "plain") == [] and ingress(harness, "theirs") == []


async def test_pool_addresses(harness: Harness) -> None:
    harness.config.service_lb_pool = ("10.99.0.10-10.99.0.11",)
    harness.client.add(SERVICES, lb("a"))
    harness.client.add(SERVICES, lb("b", loadBalancerIP="10.99.0.10"))
    harness.client.add(SERVICES, lb("c"))
    ctl = await harness.start(servicelb.new)
    await ctl.reconcile("default/b")
    await ctl.reconcile("default/a")
    await ctl.reconcile("default/c")
    assert ingress(harness, "b") == ["10.99.0.10"]
    assert ingress(harness, "a") == ["10.99.0.11"]
    assert ingress(harness, "c") == []  # the pool is spent

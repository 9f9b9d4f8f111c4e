from __future__ import annotations

import pytest

from pyk8s.client import clock
from pyk8s.controllers import nodeipam, podgc
from pyk8s.controllers.resources import NODES, PODS
from tests.unit.controllers.conftest import Harness, obj


def test_cidr_set_hands_out_24s_and_reuses_released() -> None:
    cidrs = nodeipam.CIDRSet("10.42.0.0/16", 24)
    assert cidrs.occupy("10.42.0.0/24")
    assert [cidrs.allocate(), cidrs.allocate()] == ["10.42.1.0/24", "10.42.2.0/24"]
    cidrs.release("10.42.1.0/24")
    assert not cidrs.occupy("192.168.0.0/24")
    small = nodeipam.CIDRSet("10.0.0.0/23", 24)
    assert {small.allocate(), small.allocate()} == {"10.0.0.0/24", "10.0.1.0/24"}
    with pytest.raises(LookupError):
        small.allocate()


async def test_nodes_get_distinct_pod_cidrs(harness: Harness) -> None:
    harness.client.add(NODES, obj("Node", "old", None, spec={"podCIDR": "10.42.0.0/24"}))
    harness.client.add(NODES, obj("Node", "n1", None))
    harness.client.add(NODES, obj("Node", "n2", None))
    ctl = await harness.start(nodeipam.new)
    await ctl.reconcile("n1")
    await ctl.reconcile("n2")
    await ctl.reconcile("old")
    specs = {n["metadata"]["name"]: n.get("spec", {}) for n in harness.client.objects(NODES)}
    assert specs["old"] == {"podCIDR": "10.42.0.0/24"}
    assert {specs["n1"]["podCIDR"], specs["n2"]["podCIDR"]} == {"10.42.1.0/24", "10.42.2.0/24"}
    assert specs["n1"]["podCIDRs"] == [specs["n1"]["podCIDR"]]


async def test_pod_gc(harness: Harness) -> None:
    harness.config.terminated_pod_gc_threshold = 1
    harness.client.add(NODES, obj("Node", "alive", None))
    harness.client.add(PODS, obj("Pod", "on-alive", spec={"nodeName": "alive"}))
    harness.client.add(PODS, obj("Pod", "on-gone", spec={"nodeName": "gone"}))
    for i, created in enumerate(["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"]):
        harness.client.add(
            PODS,
            obj(
                "Pod",
                f"done-{i}",
                metadata={"creationTimestamp": created},
                spec={"nodeName": "alive"},
                status={"phase": "Succeeded"},
            ),
        )
    harness.clock = fake = clock.FakeClock()
    ctl = await harness.start(podgc.new)
    await ctl.gc()
    left = sorted(p["metadata"]["name"] for p in harness.client.objects(PODS))
    assert left == ["done-1", "on-alive", "on-gone"]  # "gone" is quarantined first
    assert harness.client.actions_of("get", "nodes") == []
    fake.advance(podgc.QUARANTINE)
    await ctl.gc()
    left = sorted(p["metadata"]["name"] for p in harness.client.objects(PODS))
    assert left == ["done-1", "on-alive"]
    assert [a.name for a in harness.client.actions_of("get", "nodes")] == ["gone"]


async def test_pod_gc_leaves_pods_of_a_node_that_registers_within_the_quarantine(
    harness: Harness,
) -> None:
    """A pod bound to a node that is not registered yet (the server's DNS pod while its
    node agent still imports images) stays: upstream waits 40 s, then asks the API."""
    harness.clock = fake = clock.FakeClock()
    harness.client.add(PODS, obj("Pod", "early", spec={"nodeName": "late"}))
    ctl = await harness.start(podgc.new)
    await ctl.gc()
    fake.advance(podgc.QUARANTINE / 2)
    await ctl.gc()
    harness.client.add(NODES, obj("Node", "late", None))
    await harness.settle()
    fake.advance(podgc.QUARANTINE)
    await ctl.gc()
    assert [p["metadata"]["name"] for p in harness.client.objects(PODS)] == ["early"]
    assert harness.client.actions_of("get", "nodes") == []


async def test_terminating_pods_of_out_of_service_nodes_are_force_deleted(
    harness: Harness,
) -> None:
    down = {"conditions": [{"type": "Ready", "status": "Unknown"}]}
    oos = {"taints": [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]}
    harness.client.add(NODES, obj("Node", "dead", None, spec=oos, status=down))
    harness.client.add(NODES, obj("Node", "down", None, status=down))
    for name, node in (("stuck", "dead"), ("waiting", "down")):
        harness.client.add(
            PODS,
            obj(
                "Pod",
                name,
                metadata={"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": []},
                spec={"nodeName": node},
                status={"phase": "Running"},
            ),
        )
    ctl = await harness.start(podgc.new)
    await ctl.gc()
    (patch,) = harness.client.actions_of("patch", "pods")
    assert (patch.name, patch.patch) == ("stuck", {"status": {"phase": "Failed"}})
    (delete,) = harness.client.actions_of("delete", "pods")
    assert delete.name == "stuck"  # not out of service: left for its kubelet

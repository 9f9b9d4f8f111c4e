"""EndpointSlice mirroring on the fake client (upstream reconciler_test.go in small)."""

from __future__ import annotations

from typing import Any

from pyk8s.controllers import endpointslicemirroring as mirroring
from pyk8s.controllers.resources import ENDPOINTS, ENDPOINTSLICES, SERVICES
from tests.unit.controllers.conftest import Harness, obj

PORTS = [{"name": "http", "port": 8080, "protocol": "TCP"}]


def hand_made(subsets: list[dict[str, Any]], **labels: str) -> dict[str, Any]:
    return obj("Endpoints", "ext", metadata={"labels": labels}, subsets=subsets)


def test_desired_splits_by_address_type_and_ports_and_drops_bad_ips() -> None:
    eps = hand_made(
        [
            {
                "addresses": [{"ip": "10.0.0.2", "nodeName": "n1"}, {"ip": "fd00::1"}],
                "notReadyAddresses": [{"ip": "10.0.0.1"}, {"ip": "not-an-ip"}],
                "ports": PORTS,
            },
            {"addresses": [{"ip": "10.0.0.3"}], "ports": [{"port": 9090}]},
        ]
    )
    want, invalid, skipped = mirroring.desired(eps, 1000)
    assert (invalid, skipped) == (1, 1)
    v4 = want[("IPv4", mirroring.port_key(mirroring.slice_ports(PORTS)))]
    assert [(e["addresses"][0], e["conditions"]["ready"]) for e in v4[1]] == [
        ("10.0.0.1", False),
        ("10.0.0.2", True),
    ]
    assert v4[1][1]["nodeName"] == "n1"
    assert len(want) == 3  # IPv4 x 8080, IPv6 x 8080, IPv4 x 9090


def test_max_per_subset_truncates() -> None:
    eps = hand_made([{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)], "ports": PORTS}])
    want, invalid, skipped = mirroring.desired(eps, 3)
    assert (invalid, skipped) == (0, 2)
    assert len(next(iter(want.values()))[1]) == 3


async def test_mirrors_once_and_then_leaves_it_alone(harness: Harness) -> None:
    harness.client.add(SERVICES, obj("Service", "ext", spec={"ports": [{"port": 80}]}))
    harness.client.add(
        ENDPOINTS, hand_made([{"addresses": [{"ip": "10.0.0.1"}], "ports": PORTS}], team="a")
    )
    ctl = await harness.start(mirroring.new)
    await ctl.reconcile("default/ext")
    (s,) = harness.client.objects(ENDPOINTSLICES)
    assert s["metadata"]["labels"] == {
        "team": "a",
        "kubernetes.io/service-name": "ext",
        "endpointslice.kubernetes.io/managed-by": mirroring.MANAGED_BY,
    }
    await harness.settle()
    harness.client.clear_actions()
    await ctl.reconcile("default/ext")
    assert harness.writes() == []


async def test_selector_services_are_not_mirrored(harness: Harness) -> None:
    harness.client.add(SERVICES, obj("Service", "ext", spec={"selector": {"app": "x"}}))
    harness.client.add(ENDPOINTS, hand_made([{"addresses": [{"ip": "10.0.0.1"}], "ports": PORTS}]))
    ctl = await harness.start(mirroring.new)
    await ctl.reconcile("default/ext")
    assert harness.writes() == []

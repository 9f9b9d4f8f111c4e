"""Endpoints and EndpointSlice controllers on the fake client."""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.controllers import endpoints, endpointslice
from pyk8s.controllers.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from tests.unit.controllers.conftest import Harness, obj


def seed(h: Harness, publish: bool = False) -> None:
    h.client.add(
        SERVICES,
        obj(
            "Service",
            "api",
            spec={
                "selector": {"app": "api"},
                "publishNotReadyAddresses": publish,
                "ports": [{"name": "web", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        ),
    )
    for name, ip, ready, deleting in [
        ("ready", "10.0.0.1", True, False),
        ("starting", "10.0.0.2", False, False),
        ("leaving", "10.0.0.3", True, True),
        ("no-ip", "", True, False),
    ]:
        status: dict[str, Any] = {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        }
        if ip:
            status["podIP"] = ip
        md: dict[str, Any] = {"labels": {"app": "api"}}
        if deleting:
            md["deletionTimestamp"] = meta.now()
            md["finalizers"] = ["example.com/hold"]
        h.client.add(PODS, obj("Pod", name, metadata=md, spec={"containers": []}, status=status))


async def test_endpoints_split_ready_and_not_ready(harness: Harness) -> None:
    seed(harness)
    ctl = await harness.start(endpoints.new)
    await ctl.reconcile("default/api")
    (ep,) = harness.client.objects(ENDPOINTS)
    (subset,) = ep["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.2"]
    assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    harness.client.clear_actions()
    await harness.settle()
    await ctl.reconcile("default/api")
    assert harness.verbs() == []  # nothing changed, nothing written


async def test_slices_carry_conditions(harness: Harness) -> None:
    seed(harness)
    ctl = await harness.start(endpointslice.new)
    await ctl.reconcile("default/api")
    (s,) = harness.client.objects(ENDPOINTSLICES)
    assert s["metadata"]["labels"]["kubernetes.io/service-name"] == "api"
    conditions = {e["addresses"][0]: e["conditions"] for e in s["endpoints"]}
    assert conditions == {
        "10.0.0.1": {"ready": True, "serving": True, "terminating": False},
        "10.0.0.2": {"ready": False, "serving": False, "terminating": False},
        "10.0.0.3": {"ready": False, "serving": True, "terminating": True},
    }


async def test_publish_not_ready_addresses(harness: Harness) -> None:
    seed(harness, publish=True)
    ctl = await harness.start(endpoints.new)
    await ctl.reconcile("default/api")
    (ep,) = harness.client.objects(ENDPOINTS)
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.0.0.1", "10.0.0.2"]

"""Endpoints and EndpointSlices from a Service's pods, against the real API server."""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client import rest
from pyk8s.controllers.config import ControllerManagerConfig
from pyk8s.controllers.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from tests.integration.controllers.conftest import eventually


async def make_pod(client: rest.Client, name: str, ip: str, ready: bool, port: int) -> None:
    await client.create(
        PODS,
        {
            "metadata": {"name": name, "labels": {"app": "api"}},
            "spec": {
                "containers": [
                    {"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": port}]}
                ]
            },
        },
        "default",
    )
    status = {
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": meta.now(),
                }
            ],
        }
    }
    await client.patch(PODS, name, status, "default", subresource="status")


async def test_endpoints_and_slices_follow_pods(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    await client.create(
        SERVICES,
        {
            "metadata": {"name": "api", "labels": {"tier": "backend"}},
            "spec": {
                "selector": {"app": "api"},
                "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
            },
        },
        "default",
    )
    await make_pod(client, "a", "10.42.0.5", True, 8080)
    await make_pod(client, "b", "10.42.0.6", False, 8080)
    await make_pod(client, "c", "10.42.0.7", True, 9090)  # "http" is another port here

    async def endpoints_ready() -> dict[str, Any] | None:
        try:
            ep = await client.get(ENDPOINTS, "api", "default")
        except errors.NotFound:
            return None
        subsets = ep.get("subsets") or []
        return ep if len(subsets) == 2 else None

    ep = await eventually(endpoints_ready)
    by_port = {s["ports"][0]["port"]: s for s in ep["subsets"]}
    assert [a["ip"] for a in by_port[8080]["addresses"]] == ["10.42.0.5"]
    assert [a["ip"] for a in by_port[8080]["notReadyAddresses"]] == ["10.42.0.6"]
    assert [a["ip"] for a in by_port[9090]["addresses"]] == ["10.42.0.7"]
    assert by_port[8080]["addresses"][0]["targetRef"]["name"] == "a"

    async def slices() -> list[dict[str, Any]] | None:
        items = (
            await client.list(
                ENDPOINTSLICES, "default", label_selector="kubernetes.io/service-name=api"
            )
        )["items"]
        total = sum(len(s.get("endpoints") or []) for s in items)
        return items if total == 3 else None

    items = await eventually(slices)
    assert len(items) == 2  # one per port set
    endpoints = {e["addresses"][0]: e for s in items for e in s["endpoints"]}
    assert endpoints["10.42.0.5"]["conditions"] == {
        "ready": True,
        "serving": True,
        "terminating": False,
    }
    assert endpoints["10.42.0.6"]["conditions"]["ready"] is False
    for s in items:
        assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == (
            "endpointslice-controller.k8s.io"
        )
        assert s["metadata"]["labels"]["tier"] == "backend"
        assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"

    await client.delete(PODS, "c", "default")

    async def shrunk() -> bool:
        ep = await client.get(ENDPOINTS, "api", "default")
        items = (
            await client.list(
                ENDPOINTSLICES, "default", label_selector="kubernetes.io/service-name=api"
            )
        )["items"]
        return len(ep.get("subsets") or []) == 1 and len(items) == 1

    assert await eventually(shrunk)


async def test_service_without_selector_keeps_user_endpoints(
    client: rest.Client, controllers: ControllerManagerConfig
) -> None:
    await client.create(
        SERVICES, {"metadata": {"name": "ext"}, "spec": {"ports": [{"port": 5432}]}}, "default"
    )
    subsets = [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}]
    await client.create(ENDPOINTS, {"metadata": {"name": "ext"}, "subsets": subsets}, "default")
    # A second service with a selector proves the controllers have had time to act.
    await client.create(
        SERVICES,
        {"metadata": {"name": "probe"}, "spec": {"selector": {"x": "y"}, "ports": [{"port": 1}]}},
        "default",
    )

    async def probe_done() -> bool:
        try:
            await client.get(ENDPOINTS, "probe", "default")
            return True
        except errors.NotFound:
            return False

    assert await eventually(probe_done)
    ep = await client.get(ENDPOINTS, "ext", "default")
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["192.0.2.10"]
    assert len(ep["subsets"]) == 1

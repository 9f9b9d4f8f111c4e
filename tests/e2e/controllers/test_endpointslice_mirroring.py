"""EndpointSlice mirroring against a real ``pyk8s server`` with kubectl 1.33: Endpoints
made by hand for a Service without a selector show up as EndpointSlices."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e.apiserver.conftest import Server
from tests.e2e.controllers.conftest import get_json, kubectl, log_tail, wait_for

MIRRORING = "endpointslicemirroring-controller.k8s.io"


def create(cluster: Server, *objs: dict[str, Any]) -> None:
    doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)})
    cluster.kubectl("1.33", "apply", "-f", "-", input=doc)


def service(name: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def endpoints(name: str, ready: list[str], not_ready: list[str], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "labels": labels, "annotations": {"example.com/note": "x"}},
        "subsets": [
            {
                "addresses": [{"ip": ip} for ip in ready],
                "notReadyAddresses": [{"ip": ip} for ip in not_ready],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }


def mirrored(cluster: Server, name: str) -> list[dict[str, Any]]:
    items = get_json(
        cluster,
        "endpointslices",
        "-l",
        f"kubernetes.io/service-name={name},endpointslice.kubernetes.io/managed-by={MIRRORING}",
    )["items"]
    return list(items)


def addresses(s: dict[str, Any]) -> dict[str, bool]:
    return {e["addresses"][0]: e["conditions"]["ready"] for e in s.get("endpoints") or []}


def test_hand_made_endpoints_are_mirrored(cluster: Server) -> None:
    try:
        create(cluster, service("ext"))
        create(cluster, endpoints("ext", ["10.1.2.3", "10.1.2.4"], ["10.1.2.5"], team="a"))
        (s,) = wait_for(lambda: mirrored(cluster, "ext"), 30, "a mirrored slice")
        assert s["addressType"] == "IPv4"
        assert addresses(s) == {"10.1.2.3": True, "10.1.2.4": True, "10.1.2.5": False}
        assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        assert s["metadata"]["labels"]["team"] == "a"
        assert s["metadata"]["annotations"] == {"example.com/note": "x"}
        (owner,) = s["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Endpoints", "ext", True)
        assert s["metadata"]["name"].startswith("ext-")

        # an address goes: the same slice is updated
        create(cluster, endpoints("ext", ["10.1.2.3"], [], team="a"))

        def updated() -> dict[str, Any] | None:
            items = mirrored(cluster, "ext")
            ok = len(items) == 1 and addresses(items[0]) == {"10.1.2.3": True}
            return items[0] if ok else None

        assert (
            wait_for(updated, 30, "the slice to lose addresses")["metadata"]["name"]
            == (s["metadata"]["name"])
        )
        # and then left alone (no update loop against the server's defaults)
        settled = mirrored(cluster, "ext")[0]["metadata"]["resourceVersion"]
        time.sleep(2)
        assert mirrored(cluster, "ext")[0]["metadata"]["resourceVersion"] == settled
        listed = kubectl(cluster, "get", "endpointslices", "-l", "kubernetes.io/service-name=ext")
        assert "10.1.2.3" in listed and "8080" in listed

        # skip-mirror: the mirrored slice goes
        create(
            cluster,
            endpoints(
                "ext", ["10.1.2.3"], [], **{"endpointslice.kubernetes.io/skip-mirror": "true"}
            ),
        )
        wait_for(lambda: not mirrored(cluster, "ext"), 30, "the slice to go (skip-mirror)")

        # a Service with a selector is the endpointslice controller's, never mirrored
        create(cluster, service("picky", {"app": "none"}))  # its Endpoints: the controller's
        wait_for(
            lambda: get_json(cluster, "endpointslices", "-l", "kubernetes.io/service-name=picky")[
                "items"
            ],
            30,
            "the endpointslice controller's slice",
        )
        assert mirrored(cluster, "picky") == []

        # the Endpoints go: so does their slice
        create(cluster, endpoints("ext", ["10.1.2.7"], []))
        wait_for(lambda: mirrored(cluster, "ext"), 30, "the slice back")
        kubectl(cluster, "delete", "endpoints", "ext")
        wait_for(lambda: not mirrored(cluster, "ext"), 30, "the slice to go with its Endpoints")
    except AssertionError:
        print(log_tail(cluster))
        raise

"""Services carrying real traffic to real pods, reached with curl from the host: NodePort and
LoadBalancer, ClientIP session affinity, and pods that go unready dropping out."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from typing import Any

import pytest

from tests.e2e.cluster.conftest import NetCluster, node_ip
from tests.e2e.scheduler.conftest import wait_for

pytestmark = pytest.mark.e2e

# Each pod answers its own name; /tmp/ready is what its readiness probe looks at.
ECHO = (
    "mkdir -p /www && hostname > /www/index.html && touch /tmp/ready && "
    "exec httpd -f -p 8080 -h /www"
)
LB_PORT = 8081


def _deployment() -> dict[str, Any]:
    container = {
        "name": "echo",
        "image": "busybox",
        "command": ["sh", "-c", ECHO],
        "ports": [{"containerPort": 8080, "name": "http"}],
        "readinessProbe": {
            "exec": {"command": ["test", "-f", "/tmp/ready"]},
            "periodSeconds": 1,
            "failureThreshold": 1,
            # a missing file fails at once; a slow exec on a loaded machine (runc exec past
            # the default 1 s) must not take a ready pod out of the Service
            "timeoutSeconds": 10,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "echo"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "echo"}},
            "template": {
                "metadata": {"labels": {"app": "echo"}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 1},
            },
        },
    }


def _service(name: str, port: int = 80, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": "echo"},
            "ports": [{"port": port, "targetPort": "http"}],
            **spec,
        },
    }


def _get(url: str) -> str:
    res = subprocess.run(
        ["curl", "-s", "--max-time", "10", url], capture_output=True, text=True, check=False
    )
    return res.stdout.strip() if res.returncode == 0 else ""


def _ready_endpoints(c: NetCluster, name: str) -> list[str]:
    eps = json.loads(c.kubectl("get", "endpoints", name, "-o", "json").stdout)
    return sorted(
        a["targetRef"]["name"] for s in eps.get("subsets") or [] for a in s.get("addresses") or []
    )


@pytest.fixture(scope="module")
def echo(cluster: NetCluster) -> list[str]:
    """The three echo pods, ready, behind their Services; their names."""
    cluster.apply(
        _deployment(),
        _service("echo"),
        _service("echo-sticky", sessionAffinity="ClientIP"),
        _service("echo-np", type="NodePort"),
        _service("echo-lb", port=LB_PORT, type="LoadBalancer"),
    )
    pods = wait_for(
        "three ready echo endpoints",
        lambda: (names := _ready_endpoints(cluster, "echo")) and len(names) == 3 and names,
        timeout=120,
    )
    assert isinstance(pods, list)
    return pods


def _svc(c: NetCluster, name: str) -> dict[str, Any]:
    return json.loads(c.kubectl("get", "svc", name, "-o", "json").stdout)  # type: ignore[no-any-return]


def test_node_port_and_load_balancer_from_the_host(cluster: NetCluster, echo: list[str]) -> None:
    node_port = _svc(cluster, "echo-np")["spec"]["ports"][0]["nodePort"]
    ip = node_ip(cluster)
    for host in (ip, "127.0.0.1"):
        url = f"http://{host}:{node_port}/"
        assert wait_for(f"NodePort {url}", lambda u=url: _get(u) in echo, timeout=60)

    def external_ip() -> str | None:
        ingress = (_svc(cluster, "echo-lb").get("status") or {}).get("loadBalancer") or {}
        return next((i["ip"] for i in ingress.get("ingress") or [] if i.get("ip")), None)

    lb = wait_for("the LoadBalancer's address", external_ip, timeout=30)
    assert lb == ip  # the node's address, as k3s' service-lb gives it
    row = cluster.kubectl("get", "svc", "echo-lb", "--no-headers").stdout.split()
    assert row[1] == "LoadBalancer" and row[3] == lb, row  # EXTERNAL-IP
    url = f"http://{lb}:{LB_PORT}/"
    assert wait_for(f"LoadBalancer {url}", lambda: _get(url) in echo, timeout=60)
    lb_node_port = _svc(cluster, "echo-lb")["spec"]["ports"][0]["nodePort"]
    assert _get(f"http://127.0.0.1:{lb_node_port}/") in echo


def test_client_ip_affinity_pins_the_client(cluster: NetCluster, echo: list[str]) -> None:
    plain = _svc(cluster, "echo")["spec"]["clusterIP"]
    sticky = _svc(cluster, "echo-sticky")["spec"]["clusterIP"]
    assert wait_for("the sticky Service", lambda: _get(f"http://{sticky}/") in echo, timeout=60)
    spread = Counter(_get(f"http://{plain}/") for _ in range(24))
    assert set(spread) <= set(echo) and len(spread) > 1, spread  # balanced without affinity
    pinned = Counter(_get(f"http://{sticky}/") for _ in range(24))
    assert len(pinned) == 1 and next(iter(pinned)) in echo, pinned


def test_unready_pods_stop_receiving_traffic(cluster: NetCluster, echo: list[str]) -> None:
    keep, *drop = echo
    for pod in drop:
        cluster.kubectl("exec", pod, "--", "rm", "/tmp/ready")
    assert wait_for(
        "only one ready endpoint",
        lambda: _ready_endpoints(cluster, "echo") == [keep],
        timeout=30,
    )
    eps = json.loads(cluster.kubectl("get", "endpoints", "echo", "-o", "json").stdout)
    not_ready = sorted(
        a["targetRef"]["name"] for s in eps["subsets"] for a in s.get("notReadyAddresses") or []
    )
    assert not_ready == sorted(drop)
    plain = _svc(cluster, "echo")["spec"]["clusterIP"]
    # The rule follows within a second; then every request goes to the ready pod.
    assert wait_for(
        "traffic only to the ready pod",
        lambda: {_get(f"http://{plain}/") for _ in range(6)} == {keep},
        timeout=30,
    )
    assert Counter(_get(f"http://{plain}/") for _ in range(20)) == Counter({keep: 20})
    for pod in drop:  # ready again: back in
        cluster.kubectl("exec", pod, "--", "touch", "/tmp/ready")
    assert wait_for("three ready again", lambda: _ready_endpoints(cluster, "echo") == echo, 30)

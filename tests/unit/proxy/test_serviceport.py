"""Reading proxied ports from Services (pyk8s/proxy/serviceport.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.proxy import serviceport


def svc(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "s", "namespace": "ns"}, "spec": spec, "status": status or {}}


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"clusterIP": "None", "ports": [{"port": 80}]}, id="headless"),
        pytest.param({"clusterIP": "", "ports": [{"port": 80}]}, id="no-cluster-ip"),
        pytest.param({"type": "ExternalName", "externalName": "example.com"}, id="externalname"),
        pytest.param({"clusterIP": "fd00::1", "ports": [{"port": 80}]}, id="ipv6-only"),
    ],
)
def test_not_proxied(spec: dict[str, Any]) -> None:
    assert serviceport.service_ports(svc(spec)) == []


def test_defaults_and_names() -> None:
    (p,) = serviceport.service_ports(svc({"clusterIP": "10.43.0.1", "ports": [{"port": 80}]}))
    assert (p.protocol, p.port, p.port_name, p.node_port) == ("TCP", 80, "", 0)
    assert str(p) == "ns/s"
    assert p.affinity_timeout is None
    assert not p.externally_accessible


def test_client_ip_affinity_default_timeout() -> None:
    spec = {"clusterIP": "10.43.0.1", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}
    (p,) = serviceport.service_ports(svc(spec))
    assert p.affinity_timeout == 10800


def test_node_port_only_for_nodeport_and_loadbalancer_types() -> None:
    ports = [{"name": "http", "port": 80, "nodePort": 30080}]
    (cip,) = serviceport.service_ports(svc({"clusterIP": "10.43.0.1", "ports": ports}))
    (np,) = serviceport.service_ports(
        svc({"type": "NodePort", "clusterIP": "10.43.0.1", "ports": ports})
    )
    assert (cip.node_port, np.node_port, str(np)) == (0, 30080, "ns/s:http")


def test_external_policy_local_only_when_externally_accessible() -> None:
    base = {"clusterIP": "10.43.0.1", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}
    (internal,) = serviceport.service_ports(svc(base))
    (external,) = serviceport.service_ports(svc({**base, "externalIPs": ["1.2.3.4"]}))
    assert not internal.external_policy_local
    assert external.external_policy_local


def test_load_balancer_ips_from_status() -> None:
    status = {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}, {"hostname": "lb.example"}]}}
    spec = {"type": "LoadBalancer", "clusterIP": "10.43.0.1", "ports": [{"port": 80}]}
    (p,) = serviceport.service_ports(svc(spec, status))
    assert p.load_balancer_ips == ("1.1.1.1",)
    (cip,) = serviceport.service_ports(svc({**spec, "type": "ClusterIP"}, status))
    assert cip.load_balancer_ips == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"clusterIP": "banana", "ports": [{"port": 80}]}, "spec.clusterIP", id="ip"),
        pytest.param(
            {"clusterIP": "10.43.0.1", "ports": [{"port": 0}]}, "ports[0].port", id="port"
        ),
        pytest.param(
            {"clusterIP": "10.43.0.1", "ports": [{"port": 80, "protocol": "ICMP"}]},
            "ports[0].protocol",
            id="protocol",
        ),
        pytest.param(
            {"clusterIP": "10.43.0.1", "externalIPs": ["x"], "ports": [{"port": 80}]},
            "spec.externalIPs",
            id="external-ip",
        ),
        pytest.param(
            {
                "clusterIP": "10.43.0.1",
                "loadBalancerSourceRanges": ["1.2.3/8"],
                "ports": [{"port": 80}],
            },
            "loadBalancerSourceRanges",
            id="source-range",
        ),
    ],
)
def test_invalid_service_is_a_clear_error(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"service ns/s: .*" + message.replace("[", r"\[")):
        serviceport.service_ports(svc(spec))

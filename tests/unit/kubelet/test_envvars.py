"""The Service environment variables of a container (``envvars.FromServices`` and the
kubelet's choice of Services)."""

from __future__ import annotations

from typing import Any

from pyk8s.kubelet import envvars


def svc(name: str, ns: str, ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": list(ports)}}  # fmt: skip


KUBERNETES = svc("kubernetes", "default", "10.43.0.1",
                 {"name": "https", "port": 443, "protocol": "TCP"})  # fmt: skip


def test_from_services_as_upstream_names_them() -> None:
    web = svc("my-web", "ns1", "10.43.0.7", {"port": 80}, {"name": "dns", "port": 53,
                                                           "protocol": "UDP"})  # fmt: skip
    assert envvars.from_services([web]) == [
        ("MY_WEB_SERVICE_HOST", "10.43.0.7"),
        ("MY_WEB_SERVICE_PORT", "80"),
        ("MY_WEB_SERVICE_PORT_DNS", "53"),
        ("MY_WEB_PORT", "tcp://10.43.0.7:80"),
        ("MY_WEB_PORT_80_TCP", "tcp://10.43.0.7:80"),
        ("MY_WEB_PORT_80_TCP_PROTO", "tcp"),
        ("MY_WEB_PORT_80_TCP_PORT", "80"),
        ("MY_WEB_PORT_80_TCP_ADDR", "10.43.0.7"),
        ("MY_WEB_PORT_53_UDP", "udp://10.43.0.7:53"),
        ("MY_WEB_PORT_53_UDP_PROTO", "udp"),
        ("MY_WEB_PORT_53_UDP_PORT", "53"),
        ("MY_WEB_PORT_53_UDP_ADDR", "10.43.0.7"),
    ]
    v6 = svc("v6", "ns1", "fd00::5", {"port": 80})
    assert ("V6_PORT", "tcp://[fd00::5]:80") in envvars.from_services([v6])


def test_service_env_chooses_the_namespaces_services_and_the_api_servers() -> None:
    mine = svc("web", "ns1", "10.43.0.7", {"port": 80})
    other = svc("db", "ns2", "10.43.0.8", {"port": 5432})
    headless = svc("hl", "ns1", "None", {"port": 80})
    external = svc("ext", "ns1", "", {"port": 80})
    every = [KUBERNETES, mine, other, headless, external]
    env = envvars.service_env(every, "ns1", True)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT"] == "tcp://10.43.0.1:443"
    assert env["WEB_SERVICE_HOST"] == "10.43.0.7"
    assert not any(k.startswith(("DB_", "HL_", "EXT_")) for k in env)
    # enableServiceLinks: false keeps only the API server's
    assert {k.split("_")[0] for k in envvars.service_env(every, "ns1", False)} == {"KUBERNETES"}

"""One proxied (Service, port) pair, read from a Service as the API returns it.

Mirrors ``pkg/proxy/serviceport.go`` (``BaseServicePortInfo``) and ``pkg/proxy/service.go``
(``newBaseServiceInfo``, ``ShouldSkipService``): headless and ExternalName Services are not
proxied; only IPv4 addresses are used (this proxier is single-stack IPv4).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

DEFAULT_AFFINITY_TIMEOUT = 10800  # v1.DefaultClientIPServiceAffinitySeconds
PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP, UDP or SCTP
    port: int
    cluster_ip: str
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()  # loadBalancerSourceRanges, IPv4 CIDRs
    affinity_timeout: int | None = None  # seconds, when sessionAffinity is ClientIP
    external_policy_local: bool = False
    internal_policy_local: bool = False

    def __str__(self) -> str:
        """``ns/name:port`` (``ns/name`` for an unnamed port), as kube-proxy prints it."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What endpoints are matched on: namespace, Service name, port name, protocol."""
        return (self.namespace, self.name, self.port_name, self.protocol)

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Even with externalTrafficPolicy Local, pod and host traffic to an external
        # address is short-circuited to all endpoints, so the cluster set is needed.
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or self.external_policy_local


def _ipv4(value: Any, what: str) -> str | None:
    """The IPv4 address in ``value``; None for IPv6; ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"{what}: {value!r} is not an IP address")
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an IP address") from None
    return str(ip) if ip.version == 4 else None


def service_ports(service: Mapping[str, Any]) -> list[ServicePort]:
    """The proxied ports of one Service; [] when it is not proxied (headless, ExternalName).

    Raises ValueError, naming the field, for a Service the API server should have refused.
    """
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    namespace, name = meta.get("namespace") or "default", meta.get("name")
    if not name:
        raise ValueError("service without metadata.name")
    where = f"service {namespace}/{name}"
    svc_type = spec.get("type") or "ClusterIP"
    if svc_type == "ExternalName":
        return []
    raw_ip = spec.get("clusterIP") or ""
    if raw_ip in ("", "None"):
        return []
    cluster_ip = _ipv4(raw_ip, f"{where}: spec.clusterIP")
    if cluster_ip is None:
        return []
    external_ips = tuple(
        ip
        for raw in spec.get("externalIPs") or []
        if (ip := _ipv4(raw, f"{where}: spec.externalIPs")) is not None
    )
    lb_ips: tuple[str, ...] = ()
    if svc_type == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        lb_ips = tuple(
            ip
            for item in ingress
            # ipMode Proxy: the load balancer proxies, so the node must not capture the IP.
            if item.get("ip") and item.get("ipMode", "VIP") == "VIP"
            if (ip := _ipv4(item["ip"], f"{where}: status.loadBalancer.ingress")) is not None
        )
    ranges: list[str] = []
    for raw in spec.get("loadBalancerSourceRanges") or []:
        try:
            net = ipaddress.ip_network(str(raw).strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"{where}: spec.loadBalancerSourceRanges: {raw!r} is not a CIDR"
            ) from None
        if net.version == 4:
            ranges.append(str(net))
    timeout: int | None = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}
        timeout = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    result = []
    for i, p in enumerate(spec.get("ports") or []):
        protocol = p.get("protocol") or "TCP"
        if protocol not in PROTOCOLS:
            raise ValueError(f"{where}: spec.ports[{i}].protocol {protocol!r} is not supported")
        port = p.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{where}: spec.ports[{i}].port {port!r} is not a port number")
        node_port = p.get("nodePort") or 0
        if svc_type not in ("NodePort", "LoadBalancer"):
            node_port = 0
        sp = ServicePort(
            namespace=namespace,
            name=name,
            port_name=p.get("name") or "",
            protocol=protocol,
            port=port,
            cluster_ip=cluster_ip,
            node_port=int(node_port),
            external_ips=external_ips,
            load_balancer_ips=lb_ips,
            source_ranges=tuple(ranges) if lb_ips else (),
            affinity_timeout=timeout,
            internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
        )
        if sp.externally_accessible and spec.get("externalTrafficPolicy") == "Local":
            sp = replace(sp, external_policy_local=True)
        result.append(sp)
    return result

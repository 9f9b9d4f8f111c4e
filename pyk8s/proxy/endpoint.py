"""Endpoints of a service port, read from EndpointSlices, and the choice of which to use.

Mirrors ``pkg/proxy/endpoint.go`` (``BaseEndpointInfo``: ready, serving, terminating, local),
``pkg/proxy/endpointslicecache.go`` (slices of one Service merged per port, duplicates dropped)
and ``pkg/proxy/topology.go`` (``CategorizeEndpoints``: ready endpoints, else serving
terminating ones as a fallback; the node-local subset for the ``Local`` traffic policies).
Topology hints are not implemented.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.proxy.serviceport import ServicePort

SERVICE_NAME_LABEL = "kubernetes.io/service-name"

PortKey = tuple[str, str, str, str]  # namespace, service, port name, protocol


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    local: bool = False

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Categorized:
    """Which endpoints each traffic policy uses (``CategorizeEndpoints``' four results)."""

    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    all_reachable: tuple[Endpoint, ...]
    has_any: bool


def endpoints_by_port(
    slices: Iterable[Mapping[str, Any]], node_name: str
) -> dict[PortKey, list[Endpoint]]:
    """Group the IPv4 endpoints of all slices by service port; the first slice (by name) wins."""
    result: dict[PortKey, dict[str, Endpoint]] = {}
    ordered = sorted(
        slices,
        key=lambda s: (
            (s.get("metadata") or {}).get("namespace") or "",
            (s.get("metadata") or {}).get("name") or "",
        ),
    )
    for es in ordered:
        meta = es.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service or es.get("addressType", "IPv4") != "IPv4":
            continue
        namespace = meta.get("namespace") or "default"
        for p in es.get("ports") or []:
            number = p.get("port")
            if not isinstance(number, int) or not 0 < number < 65536:
                continue
            key = (namespace, service, p.get("name") or "", p.get("protocol") or "TCP")
            bucket = result.setdefault(key, {})
            for ep in es.get("endpoints") or []:
                addresses = ep.get("addresses") or []
                if not addresses or not isinstance(addresses[0], str) or not _is_ipv4(addresses[0]):
                    continue
                cond = ep.get("conditions") or {}
                ready = cond.get("ready") is not False  # unset means ready
                serving = ready if cond.get("serving") is None else bool(cond["serving"])
                e = Endpoint(
                    ip=addresses[0],
                    port=number,
                    ready=ready,
                    serving=serving,
                    terminating=cond.get("terminating") is True,
                    local=bool(node_name) and ep.get("nodeName") == node_name,
                )
                bucket.setdefault(str(e), e)
    return {k: sorted(v.values(), key=_order) for k, v in result.items()}


@functools.lru_cache(maxsize=1 << 16)
def _is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _order(e: Endpoint) -> tuple[int, ...]:
    return (*(int(x) for x in e.ip.split(".")), e.port)


def categorize(endpoints: list[Endpoint], svc: ServicePort) -> Categorized:
    cluster: tuple[Endpoint, ...] = ()
    local: tuple[Endpoint, ...] = ()
    has_any = False
    if svc.uses_cluster_endpoints:
        cluster = tuple(e for e in endpoints if e.ready)
        if not cluster:
            cluster = tuple(e for e in endpoints if e.serving and e.terminating)
        has_any = bool(cluster)
    if not svc.uses_local_endpoints:
        return Categorized(cluster, (), cluster, has_any)
    usable = [e for e in endpoints if e.ready or (e.serving and e.terminating)]
    has_any = has_any or bool(usable)
    local = tuple(e for e in endpoints if e.local and e.ready)
    if not local:
        local = tuple(e for e in endpoints if e.local and e.serving and e.terminating)
    if not svc.uses_cluster_endpoints:
        return Categorized((), local, local, has_any)
    reachable = tuple(sorted(set(cluster) | set(local), key=_order))
    return Categorized(cluster, local, reachable, has_any)

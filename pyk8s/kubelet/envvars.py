"""The Service environment variables every container gets (``FOO_SERVICE_HOST``,
``FOO_SERVICE_PORT``, the Docker-link style ``FOO_PORT_80_TCP...``).

Mirrors ``pkg/kubelet/envvars/envvars.go`` (``FromServices``) and ``getServiceEnvVarMap`` in
``pkg/kubelet/kubelet_pods.go``: the services of the pod's namespace when
``enableServiceLinks`` is set, and always the API server's ``kubernetes`` Service of the
``default`` namespace (what in-cluster clients read their server from).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MASTER_SERVICES = frozenset({"kubernetes"})


def _name(s: str) -> str:
    return s.replace("-", "_").upper()


def _ip_set(svc: Mapping[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def from_services(services: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``FromServices``: the variables of services that have a cluster IP."""
    out: list[tuple[str, str]] = []
    for svc in services:
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        if not _ip_set(svc) or not ports:
            continue
        ip = spec["clusterIP"]
        prefix = _name(svc["metadata"]["name"])
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(ports[0]["port"])))
        out.extend(
            (f"{prefix}_SERVICE_PORT_{_name(p['name'])}", str(p["port"]))
            for p in ports
            if p.get("name")
        )
        host = f"[{ip}]" if ":" in ip else ip
        for i, p in enumerate(ports):
            proto = str(p.get("protocol") or "TCP")
            url = f"{proto.lower()}://{host}:{p['port']}"
            if i == 0:  # Docker's links name the first port alone
                out.append((f"{prefix}_PORT", url))
            port_prefix = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
            out.append((port_prefix, url))
            out.append((f"{port_prefix}_PROTO", proto.lower()))
            out.append((f"{port_prefix}_PORT", str(p["port"])))
            out.append((f"{port_prefix}_ADDR", ip))
    return out


def service_env(
    services: Iterable[Mapping[str, Any]], namespace: str, enable_service_links: bool
) -> dict[str, str]:
    """``getServiceEnvVarMap``: the master services of ``default``, then (when
    ``enableServiceLinks``) the services of ``namespace``, one per name."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for svc in services:
        if not _ip_set(svc):
            continue
        meta = svc.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        if ns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif ns == namespace and enable_service_links:
            chosen[name] = svc
    return dict(from_services(chosen[k] for k in sorted(chosen)))

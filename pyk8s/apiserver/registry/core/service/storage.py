"""Service REST: cluster IPs and node ports are allocated on create and update,
and released on delete or when a type change drops them.

Mirrors ``pkg/registry/core/service/storage/storage.go`` and ``alloc.go``
(``allocateCreate``, ``allocateUpdate``, ``releaseAllocatedResources``): an
explicit ``clusterIP`` must be free and in range, ``None`` makes a headless
service, ExternalName services get neither; NodePort and LoadBalancer services
get a node port per port unless they name one.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors
from pyk8s.apiserver.registry.core.service.ipallocator import ClusterIPAllocator
from pyk8s.apiserver.registry.core.service.portallocator import NodePortAllocator
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.apiserver.registry.generic.strategy import Obj

NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _cluster_ip(obj: Obj) -> str:
    return str((obj.get("spec") or {}).get("clusterIP") or "")


def _node_ports(obj: Obj) -> set[int]:
    return {
        int(p["nodePort"])
        for p in (obj.get("spec") or {}).get("ports") or []
        if isinstance(p, dict) and p.get("nodePort")
    }


class ServiceStore(generic.Store):
    def __init__(
        self, *args: Any, ips: ClusterIPAllocator, ports: NodePortAllocator, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.ips = ips
        self.ports = ports

    async def allocate(self, obj: Obj, old: Obj | None) -> generic.Release | None:
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md.get("name", "")
        spec = obj.setdefault("spec", {})
        stype = spec.get("type") or "ClusterIP"
        taken_ips: list[str] = []
        taken_ports: list[int] = []

        async def undo() -> None:
            for ip in taken_ips:
                await self.ips.release(ip)
            for port in taken_ports:
                await self.ports.release(port)

        try:
            old_ip = _cluster_ip(old) if old else ""
            if stype == "ExternalName":
                if spec.get("clusterIP") and spec["clusterIP"] != "None":
                    spec.pop("clusterIP", None)
                spec.pop("clusterIPs", None)
            else:
                want = spec.get("clusterIP") or ""
                if old_ip and old_ip != "None" and not want:
                    want = old_ip
                if old_ip and want != old_ip:
                    raise errors.Invalid.for_object(
                        "Service",
                        "",
                        name,
                        [
                            errors.invalid_value(
                                "spec.clusterIPs[0]",
                                errors.Raw(f'[]string{{"{want}"}}'),  # upstream shows the list
                                "may not change once set",
                            )
                        ],
                    )
                if want == "None":
                    spec["clusterIP"] = "None"
                elif want != old_ip or not old_ip:
                    ip = await self.ips.allocate(want or None, ns, name, "spec.clusterIPs")
                    taken_ips.append(ip)
                    spec["clusterIP"] = ip
                spec["clusterIPs"] = [spec["clusterIP"]]
                # initIPFamilyFields: an update keeps the policy; a headless Service without
                # a selector is dual-stack (its endpoints may be of either family)
                headless_selectorless = want == "None" and not spec.get("selector")
                old_policy = ((old or {}).get("spec") or {}).get("ipFamilyPolicy")
                if not spec.get("ipFamilyPolicy"):
                    spec["ipFamilyPolicy"] = old_policy or (
                        "RequireDualStack" if headless_selectorless else "SingleStack"
                    )
                families = list(spec.get("ipFamilies") or ["IPv4"])
                if (
                    headless_selectorless
                    and len(families) < 2
                    and spec["ipFamilyPolicy"] != "SingleStack"
                ):
                    families.append("IPv6" if families[0] == "IPv4" else "IPv4")
                spec["ipFamilies"] = families
            old_ports = _node_ports(old) if old else set()
            old_by_port = {
                (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                for p in ((old or {}).get("spec") or {}).get("ports") or []
                if isinstance(p, dict)
            }
            for i, p in enumerate(spec.get("ports") or []):
                if not isinstance(p, dict):
                    continue
                if stype not in NODE_PORT_TYPES:
                    p.pop("nodePort", None)
                    continue
                want_port = p.get("nodePort") or old_by_port.get(
                    (p.get("port"), p.get("protocol", "TCP"))
                )
                if want_port and int(want_port) in old_ports:
                    p["nodePort"] = int(want_port)
                    continue
                got = await self.ports.allocate(
                    int(want_port) if want_port else None, ns, name, f"spec.ports[{i}].nodePort"
                )
                taken_ports.append(got)
                p["nodePort"] = got
        except BaseException:
            await undo()
            raise
        return undo if (taken_ips or taken_ports) else None

    async def after_update(self, obj: Obj, old: Obj) -> None:
        old_ip, new_ip = _cluster_ip(old), _cluster_ip(obj)
        if old_ip and old_ip not in ("None", new_ip):
            await self.ips.release(old_ip)
        for port in _node_ports(old) - _node_ports(obj):
            await self.ports.release(port)

    async def release(self, obj: Obj) -> None:
        ip = _cluster_ip(obj)
        if ip and ip != "None":
            await self.ips.release(ip)
        for port in _node_ports(obj):
            await self.ports.release(port)

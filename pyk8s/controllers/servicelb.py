"""Service load balancers: every ``LoadBalancer`` Service gets addresses in
``status.loadBalancer.ingress``, which the service proxy then routes.

Plays the part of k3s' servicelb (``pkg/cloudprovider/servicelb.go``) in the place upstream
gives the cloud provider's service controller
(``staging/src/k8s.io/cloud-provider/controllers/service/controller.go``):

- with a pool (``--service-lb-pool``: CIDRs or ``first-last`` ranges), one address of the
  pool per Service, ``spec.loadBalancerIP`` when it is in the pool and free;
- without one, the nodes' addresses (ExternalIP, else InternalIP), as k3s gives them. A
  Service port then takes that port on every node, so a second Service on a (protocol, port)
  an older one holds stays pending with an event, as k3s' svclb pods do on a hostPort clash.

Services with a ``spec.loadBalancerClass`` belong to another implementation and are left
alone; a Service that stops being ``LoadBalancer`` loses its addresses.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from pyk8s.api import errors
from pyk8s.client import events, rest
from pyk8s.client.cache import store
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import NODES, SERVICES

log = logging.getLogger(__name__)

Object = base.Object


def parse_pool(specs: Iterable[str]) -> list[ipaddress.IPv4Address]:
    """The addresses of ``10.0.0.0/30`` or ``192.168.1.10-192.168.1.20`` items, in order."""
    out: list[ipaddress.IPv4Address] = []
    for item in specs:
        spec = item.strip()
        if not spec:
            continue
        try:
            if "-" in spec:
                first, last = (ipaddress.IPv4Address(p.strip()) for p in spec.split("-", 1))
                if last < first:
                    raise ValueError("the range ends before it starts")
                out += [ipaddress.IPv4Address(i) for i in range(int(first), int(last) + 1)]
            else:
                net = ipaddress.IPv4Network(spec, strict=False)
                out += list(net.hosts()) if net.num_addresses > 2 else list(net)
        except ValueError as e:
            raise ValueError(f"service LB pool {spec!r}: {e}") from None
    return out


def _is_lb(svc: Object) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def _ports(svc: Object) -> set[tuple[str, int]]:
    return {
        (p.get("protocol", "TCP"), p["port"]) for p in (svc.get("spec") or {}).get("ports") or []
    }


def _age(svc: Object) -> tuple[str, str]:
    meta = svc["metadata"]
    return meta.get("creationTimestamp", ""), store.meta_namespace_key(svc)


def node_addresses(nodes: Iterable[Object]) -> list[str]:
    out = []
    for node in nodes:
        addresses = (node.get("status") or {}).get("addresses") or []
        by_type = {a.get("type"): a.get("address") for a in addresses}
        ip = by_type.get("ExternalIP") or by_type.get("InternalIP")
        if ip:
            out.append(ip)
    return sorted(set(out))


class ServiceLBController(base.Controller):
    name = "service-lb-controller"
    workers = 1  # one pool, one writer

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.recorder = ctx.recorder("service-lb-controller")
        self.pool = parse_pool(ctx.config.service_lb_pool)
        self.services = ctx.informers.lister(SERVICES)
        self.nodes = ctx.informers.lister(NODES)
        self.assigned: dict[str, str] = {}  # service key -> pool address
        self.watch(
            ctx.informers.for_resource(SERVICES),
            add=self._service_changed,
            update=lambda old, new: self._service_changed(new, old),
            delete=self._service_changed,
        )
        if not self.pool:
            self.watch(
                ctx.informers.for_resource(NODES),
                add=lambda _n: self._all(),
                update=self._nodes_changed,
                delete=lambda _n: self._all(),
            )

    def _service_changed(self, svc: Object, old: Object | None = None) -> None:
        self.enqueue(svc)
        if not self.pool:  # a freed or taken port may decide another Service
            self._all()

    def _nodes_changed(self, old: Object, new: Object) -> None:
        if node_addresses([old]) != node_addresses([new]):
            self._all()

    def _all(self) -> None:
        for svc in self.services.list():
            if _is_lb(svc):
                self.enqueue(svc)

    async def reconcile(self, key: str) -> None:
        namespace, _, name = key.rpartition("/")
        try:
            svc = self.services.namespace(namespace).get(name)
        except errors.NotFound:
            self.assigned.pop(key, None)
            return
        if (svc.get("spec") or {}).get("loadBalancerClass"):
            return
        if not _is_lb(svc):
            self.assigned.pop(key, None)
            await self._write(svc, [])
            return
        ips = self._pool_address(svc, key) if self.pool else self._node_addresses(svc)
        await self._write(svc, ips)

    def _pool_address(self, svc: Object, key: str) -> list[str]:
        pool = {str(ip) for ip in self.pool}
        taken = {ip for k, ip in self.assigned.items() if k != key}
        for other in self.services.list():  # what the status of others already says
            if store.meta_namespace_key(other) != key and _is_lb(other):
                taken.update(i.get("ip", "") for i in _ingress(other))
        wanted = (svc.get("spec") or {}).get("loadBalancerIP") or ""
        have = [i.get("ip", "") for i in _ingress(svc)]
        for candidate in [wanted] if wanted else [*have, *(str(ip) for ip in self.pool)]:
            if candidate in pool and candidate not in taken:
                self.assigned[key] = candidate
                return [candidate]
        why = (
            f"requested address {wanted} is not free in the pool"
            if wanted
            else "no address left in the service LB pool"
        )
        self.recorder.event(svc, events.WARNING, "AllocationFailed", "Allocate", why)
        return []

    def _node_addresses(self, svc: Object) -> list[str]:
        key = store.meta_namespace_key(svc)
        mine = _ports(svc)
        for other in sorted(self.services.list(), key=_age):
            if store.meta_namespace_key(other) == key:
                break
            clash = mine & _ports(other) if _is_lb(other) else set()
            if clash:
                proto, port = sorted(clash)[0]
                why = (
                    f"{proto} port {port} is taken on the nodes by LoadBalancer Service "
                    f"{store.meta_namespace_key(other)}"
                )
                self.recorder.event(svc, events.WARNING, "AllocationFailed", "Allocate", why)
                return []
        return node_addresses(self.nodes.list())

    async def _write(self, svc: Object, ips: list[str]) -> None:
        want = [{"ip": ip, "ipMode": "VIP"} for ip in ips]
        if _ingress(svc) == want:
            return
        status = {"loadBalancer": {"ingress": want} if want else {}}
        meta = svc["metadata"]
        try:
            await self.client.patch(
                SERVICES, meta["name"], {"status": status}, meta.get("namespace"),
                subresource="status",
            )  # fmt: skip
        except errors.NotFound:
            return
        if want:
            log.info("service %s: load balancer %s", store.meta_namespace_key(svc), ips)
            self.recorder.event(
                svc, events.NORMAL, "EnsuredLoadBalancer", "Ensure", "Ensured load balancer"
            )


def _ingress(svc: Object) -> list[dict[str, Any]]:
    lb = (svc.get("status") or {}).get("loadBalancer") or {}
    return list(lb.get("ingress") or [])


def new(ctx: manager_.ControllerContext) -> ServiceLBController:
    return ServiceLBController(ctx)

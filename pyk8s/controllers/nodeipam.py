"""Node IPAM: every Node gets ``spec.podCIDR`` (and ``podCIDRs``) from the cluster CIDR.

Mirrors ``pkg/controller/nodeipam/ipam/range_allocator.go`` (a bitmap of the
cluster CIDR's subnets of ``--node-cidr-mask-size``; CIDRs already on nodes are
marked used at start; a deleted node's CIDR is released; ``CIDRNotAvailable``
when the range is exhausted) and ``cidrset/cidr_set.go``.
"""

from __future__ import annotations

import ipaddress
import logging

from pyk8s.api import errors
from pyk8s.client import events, rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import NODES

log = logging.getLogger(__name__)


class CIDRSet:
    """The subnets of ``cluster`` of size ``/mask``, handed out lowest first."""

    def __init__(self, cluster: str, mask: int) -> None:
        self.network = ipaddress.ip_network(cluster, strict=False)
        if mask < self.network.prefixlen:
            raise ValueError(f"node CIDR mask /{mask} is larger than the cluster CIDR {cluster}")
        self.mask = mask
        self.size = 1 << (mask - self.network.prefixlen)
        self.used: set[int] = set()
        self._next = 0

    def _index(self, cidr: str) -> int | None:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.prefixlen != self.mask or not net.subnet_of(self.network):  # type: ignore[arg-type]
            return None
        offset = int(net.network_address) - int(self.network.network_address)
        return offset >> (self.network.max_prefixlen - self.mask)

    def _cidr(self, index: int) -> str:
        step = 1 << (self.network.max_prefixlen - self.mask)
        addr = ipaddress.ip_address(int(self.network.network_address) + index * step)
        return f"{addr}/{self.mask}"

    def occupy(self, cidr: str) -> bool:
        index = self._index(cidr)
        if index is None:
            return False
        self.used.add(index)
        return True

    def release(self, cidr: str) -> None:
        index = self._index(cidr)
        if index is not None:
            self.used.discard(index)

    def allocate(self) -> str:
        for i in range(self.size):
            index = (self._next + i) % self.size
            if index not in self.used:
                self.used.add(index)
                self._next = (index + 1) % self.size
                return self._cidr(index)
        raise LookupError("CIDR allocation failed; there are no remaining CIDRs left to allocate")


class NodeIPAMController(base.Controller):
    name = "node-ipam-controller"
    workers = 1  # one allocator, one writer: no two nodes get the same range

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.recorder = ctx.recorder("cidrAllocator")
        self.cidrs = CIDRSet(ctx.config.cluster_cidr, ctx.config.node_cidr_mask_size)
        self.nodes = ctx.informers.lister(NODES)
        self.watch(
            ctx.informers.for_resource(NODES),
            add=self._node_seen,
            update=lambda old, new: self._node_seen(new),
            delete=self._node_deleted,
        )

    def _node_seen(self, node: base.Object) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            if not self.cidrs.occupy(cidr):
                log.warning(
                    "node %s has podCIDR %s outside the cluster CIDR",
                    node["metadata"]["name"],
                    cidr,
                )
            return
        self.enqueue(node)

    def _node_deleted(self, node: base.Object) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            self.cidrs.release(cidr)

    async def reconcile(self, key: str) -> None:
        try:
            node = self.nodes.get(key)
        except errors.NotFound:
            return
        if (node.get("spec") or {}).get("podCIDR"):
            return
        try:
            cidr = self.cidrs.allocate()
        except LookupError as e:
            self.recorder.event(node, events.WARNING, "CIDRNotAvailable", "Allocate", str(e))
            return
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except errors.NotFound:
            self.cidrs.release(cidr)
            return
        except Exception:
            self.cidrs.release(cidr)
            raise
        log.info("node %s: podCIDR %s", key, cidr)


def new(ctx: manager_.ControllerContext) -> NodeIPAMController:
    return NodeIPAMController(ctx)

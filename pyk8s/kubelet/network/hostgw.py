"""Routes to the other nodes' pods: each node's ``spec.podCIDR`` via its InternalIP.

What flannel's ``host-gw`` backend does (flannel-io/flannel ``pkg/backend/hostgw``, the
``RouteNetwork`` in ``pkg/backend/route_network.go``): nodes that share a link reach each
other's pods without encapsulation, through a route per remote node. The routes carry a
protocol number of the cluster's own (:func:`route_proto`), so a sync replaces exactly the
routes of this cluster and ``pyk8s killall`` finds them again. With ``netns`` set, the node
is that network namespace (several nodes on one machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pyk8s.client import rest
from pyk8s.client.informers import factory, shared_informer
from pyk8s.kubelet.runtime import command

log = logging.getLogger(__name__)

NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")


def route_proto(prefix: str) -> int:
    """The route protocol number of cluster ``prefix``: 100-249, away from the kernel's,
    the routing daemons' and ``static`` (4)."""
    return 100 + int(hashlib.sha256(prefix.encode()).hexdigest()[:8], 16) % 150


def wanted_routes(nodes: Iterable[Mapping[str, Any]], own: str) -> dict[str, str]:
    """podCIDR -> InternalIP of every node but ``own`` that has both (pure)."""
    out = {}
    for node in nodes:
        if node["metadata"]["name"] == own:
            continue
        cidr = (node.get("spec") or {}).get("podCIDR")
        addresses = (node.get("status") or {}).get("addresses") or []
        ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")
        if cidr and ip:
            out[cidr] = ip
    return out


def parse_routes(text: str) -> dict[str, str]:
    """``ip -o -4 route show proto N`` output: destination -> gateway."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "via":
            dest = parts[0] if "/" in parts[0] else parts[0] + "/32"
            out[dest] = parts[2]
    return out


def local_addresses(text: str) -> list[str]:
    """The addresses in ``ip -o -4 addr show`` output."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if "inet" in parts:
            out.append(parts[parts.index("inet") + 1].split("/")[0])
    return out


def route_destinations(text: str) -> set[str]:
    """The destinations in ``ip -o -4 route show`` output, as CIDRs."""
    out = set()
    for line in text.splitlines():
        dest = line.split(" ", 1)[0]
        if dest and dest != "default":
            out.add(dest if "/" in dest else dest + "/32")
    return out


class HostGateway:
    """Keeps this node's routes to the other nodes' pod CIDRs in line with the Nodes."""

    def __init__(self, node_name: str, prefix: str, netns: str | None = None) -> None:
        self.node_name = node_name
        self.proto = str(route_proto(prefix))
        self.netns = netns
        self._wanted = asyncio.Event()

    async def _ip(self, *argv: str, check: bool = True) -> str:
        base = ["ip", "-n", self.netns] if self.netns else ["ip"]
        return await command.run(*base, *argv, check=check)

    async def sync(self, nodes: Iterable[Mapping[str, Any]]) -> None:
        want = wanted_routes(nodes, self.node_name)
        have = parse_routes(await self._ip("-o", "-4", "route", "show", "proto", self.proto))
        # Another node in this same network namespace (its InternalIP is ours), or a range
        # some other route already serves (a local bridge's): nothing to route, and a
        # replace would take the kernel's own route away.
        local = set(local_addresses(await self._ip("-o", "-4", "addr", "show")))
        taken = {
            dest
            for dest in route_destinations(await self._ip("-o", "-4", "route", "show"))
            if dest not in have
        }
        want = {d: via for d, via in want.items() if via not in local and d not in taken}
        for dest in sorted(set(have) - set(want)):
            await self._ip("route", "del", dest, "proto", self.proto, check=False)
            log.info("host-gw: route to %s removed", dest)
        for dest, via in sorted(want.items()):
            if have.get(dest) == via:
                continue
            try:
                await self._ip("route", "replace", dest, "via", via, "proto", self.proto)
            except command.CommandError as e:  # not on a shared link: host-gw cannot help
                log.warning("host-gw: no route to %s via %s: %s", dest, via, e.stderr.strip())
            else:
                log.info("host-gw: %s via %s", dest, via)

    async def run(self, client: rest.Client, resync: float = 30.0) -> None:
        """Follow the Nodes until cancelled."""
        async with factory.SharedInformerFactory(client) as informers:
            nodes = informers.for_resource(NODES)
            nodes.add_event_handler(
                shared_informer.EventHandlerFuncs(
                    add=lambda _n: self._wanted.set(),
                    update=lambda _o, _n: self._wanted.set(),
                    delete=lambda _n: self._wanted.set(),
                )
            )
            informers.start()
            await nodes.wait_for_sync()
            while True:
                self._wanted.clear()
                try:
                    await self.sync(nodes.store.list())
                except command.CommandError as e:
                    log.warning("host-gw sync: %s", e)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted.wait(), resync)


async def cleanup(prefix: str, netns: str | None = None) -> None:
    """Remove the cluster's routes (``pyk8s killall``)."""
    base = ["ip", "-n", netns] if netns else ["ip"]
    await command.run(*base, "route", "flush", "proto", str(route_proto(prefix)), check=False)

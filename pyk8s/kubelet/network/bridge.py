"""The node's pod network: a Linux bridge, a veth pair per pod, addresses from the podCIDR.

Plays the part of the CNI ``bridge`` plugin with ``host-local`` IPAM as k3s configures it
(``cni0``, ``isGateway``, ``hairpinMode``; containernetworking/plugins
``plugins/main/bridge/bridge.go``): the bridge holds the first address of the node's
``spec.podCIDR`` and is every pod's default gateway; each pod gets ``eth0``, the peer of a
host-side veth enslaved to the bridge, with hairpin on so a pod reaches itself through a
Service. IP forwarding is switched on; masquerading of traffic leaving the cluster CIDR is
the service proxy's (its rules already carry it). Host ports are DNATed as the ``portmap``
plugin chained after ``bridge`` does it (:mod:`.hostport`).

Names carry the cluster's prefix (:func:`link_prefix`), so clusters side by side never share
a bridge and :func:`cleanup` (``pyk8s killall``) removes exactly this cluster's links. With
``netns`` set, the bridge lives in that named network namespace instead of the host's (tests,
and several nodes on one machine).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import shutil
from pathlib import Path

from pyk8s.kubelet.network import hostgw, hostlocal, hostport
from pyk8s.kubelet.network.hostlocal import HostLocal
from pyk8s.kubelet.runtime import command
from pyk8s.kubelet.runtime.interface import ContainerRuntimeError, PodSandboxConfig
from pyk8s.kubelet.runtime.naming import NETNS_DIR

log = logging.getLogger(__name__)

POD_IFNAME = "eth0"


def link_prefix(prefix: str) -> str:
    """``pk`` and 8 hex digits: what every link of the cluster named ``prefix`` starts with.

    Interface names have at most 15 characters; this leaves 5 for a pod's veth."""
    tail = prefix.rsplit("-", 1)[-1].lower()
    if len(tail) != 8 or any(c not in "0123456789abcdef" for c in tail):
        tail = hashlib.sha256(prefix.encode()).hexdigest()[:8]
    return "pk" + tail


def ipam_dir(data_dir: Path) -> Path:
    return data_dir / "network" / "host-local"


class BridgeNetwork:
    """:class:`~pyk8s.kubelet.runtime.interface.PodNetwork` on a bridge of this node.

    ``pod_cidr`` may be unknown at start (the node gets it from the controller-manager after
    it registers); :meth:`set_pod_cidr` gives it, and :meth:`setup` waits up to
    ``cidr_timeout`` for it."""

    def __init__(
        self,
        prefix: str,
        data_dir: Path,
        *,
        pod_cidr: str = "",
        netns: str | None = None,
        mtu: int = 1500,
        cidr_timeout: float = 30.0,
    ) -> None:
        self.links = link_prefix(prefix)
        self.bridge = self.links + "br"
        self.data_dir = data_dir
        self.netns = netns
        self.mtu = mtu
        self.cidr_timeout = cidr_timeout
        self._cidr: ipaddress.IPv4Network | None = None
        self._cidr_known = asyncio.Event()
        self._bridge_lock = asyncio.Lock()
        self._bridge_ready: ipaddress.IPv4Network | None = None
        self.hostports = hostport.HostPorts(self.links, data_dir, netns)
        if pod_cidr:
            self.set_pod_cidr(pod_cidr)

    def set_pod_cidr(self, cidr: str) -> None:
        try:
            net = ipaddress.IPv4Network(cidr, strict=False)
        except ValueError as e:
            raise ValueError(f"pod CIDR {cidr!r}: {e}") from None
        if self._cidr is not None and net != self._cidr:
            log.warning("pod CIDR changed from %s to %s", self._cidr, net)
        self._cidr = net
        self._cidr_known.set()

    @property
    def pod_cidr(self) -> str:
        return str(self._cidr) if self._cidr is not None else ""

    def veth_name(self, sandbox_id: str) -> str:
        return self.links + hashlib.sha256(sandbox_id.encode()).hexdigest()[:5]

    def _ipam(self, net: ipaddress.IPv4Network) -> HostLocal:
        return HostLocal(ipam_dir(self.data_dir) / self.bridge, str(net))

    async def _node(self, *argv: str, check: bool = True) -> str:
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)
        return await command.run(*full, check=check)

    async def _pod(self, netns_path: str, *argv: str) -> str:
        return await command.run("nsenter", f"--net={netns_path}", *argv)

    async def _wait_cidr(self) -> ipaddress.IPv4Network:
        try:
            await asyncio.wait_for(self._cidr_known.wait(), self.cidr_timeout)
        except TimeoutError:
            raise ContainerRuntimeError(
                "pod network not ready: this node has no spec.podCIDR yet"
            ) from None
        assert self._cidr is not None
        return self._cidr

    async def ensure_bridge(self) -> ipaddress.IPv4Network:
        """The bridge, up, with the gateway address; IP forwarding on. Idempotent."""
        net = await self._wait_cidr()
        async with self._bridge_lock:
            if self._bridge_ready == net:
                return net
            gw = f"{net.network_address + 1}/{net.prefixlen}"
            links = await self._node("ip", "-o", "link", "show", "dev", self.bridge, check=False)
            if not links.strip():
                await self._node("ip", "link", "add", self.bridge, "type", "bridge")
            addrs = await self._node("ip", "-o", "-4", "addr", "show", "dev", self.bridge)
            if f" {gw} " not in addrs:
                await self._node("ip", "addr", "add", gw, "dev", self.bridge)
            await self._node("ip", "link", "set", self.bridge, "mtu", str(self.mtu), "up")
            await self._node("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
            self._bridge_ready = net
            return net

    async def setup(self, sandbox_id: str, netns_path: str, config: PodSandboxConfig) -> list[str]:
        net = await self.ensure_bridge()
        ipam = self._ipam(net)
        ip = await asyncio.to_thread(ipam.allocate, sandbox_id, _netns_alive)
        veth = self.veth_name(sandbox_id)
        try:
            await self._node("ip", "link", "del", veth, check=False)  # a half-made earlier try
            await self._node(
                "ip", "link", "add", veth, "mtu", str(self.mtu), "type", "veth",
                "peer", "name", POD_IFNAME, "netns", netns_path,
            )  # fmt: skip
            await self._node("ip", "link", "set", veth, "master", self.bridge)
            await self._node(
                "ip", "link", "set", "dev", veth, "type", "bridge_slave", "hairpin", "on"
            )
            await self._node("ip", "link", "set", veth, "up")
            await self._pod(
                netns_path, "ip", "addr", "add", f"{ip}/{net.prefixlen}", "dev", POD_IFNAME
            )
            await self._pod(netns_path, "ip", "link", "set", POD_IFNAME, "up")
            await self._pod(
                netns_path, "ip", "route", "add", "default", "via", str(net.network_address + 1)
            )
            if config.port_mappings:
                meta = config.metadata
                await self.hostports.add(
                    hostport.PodPorts(
                        sandbox_id, f"{meta.namespace}/{meta.name}", str(ip), config.port_mappings
                    )
                )
        except BaseException:
            await self.hostports.remove(sandbox_id)
            await self._node("ip", "link", "del", veth, check=False)
            await asyncio.to_thread(ipam.release, sandbox_id)
            raise
        log.debug("pod sandbox %s: %s on %s", sandbox_id, ip, veth)
        return [str(ip)]

    async def teardown(self, sandbox_id: str, netns_path: str, config: PodSandboxConfig) -> None:
        await self.hostports.remove(sandbox_id)
        await self._node("ip", "link", "del", self.veth_name(sandbox_id), check=False)
        # Every range this node had: a podCIDR that changed leaves reservations in the old one.
        await asyncio.to_thread(_release_everywhere, ipam_dir(self.data_dir), sandbox_id)


def _netns_alive(sandbox_id: str) -> bool:
    return (NETNS_DIR / sandbox_id).exists()


def _release_everywhere(root: Path, owner: str) -> None:
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir():
                hostlocal.release(d, owner)


def host_links(prefix: str) -> list[str]:
    """The links of cluster ``prefix`` in the host's network namespace (blocking)."""
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return []
    links = link_prefix(prefix)
    return sorted(n for n in names if n.startswith(links))


async def cleanup(prefix: str, data_dir: Path | None, netns: str | None = None) -> list[str]:
    """Delete every link of the cluster ``prefix`` (``pyk8s killall``) and, with ``data_dir``,
    its address reservations; return the links deleted."""
    links = link_prefix(prefix)
    base = ["ip", "netns", "exec", netns] if netns else []
    out = await command.run(*base, "ip", "-o", "link", "show", check=False)
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            name = parts[1].strip().split("@", 1)[0]
            if name.startswith(links):
                names.append(name)
    # Pods' veths first (deleting one end deletes both), then the bridge.
    for name in sorted(names, key=lambda n: n.endswith("br")):
        await command.run(*base, "ip", "link", "del", name, check=False)
    if data_dir is not None:
        await asyncio.to_thread(shutil.rmtree, ipam_dir(data_dir), True)
    if await asyncio.to_thread(shutil.which, "iptables-save"):
        await hostport.cleanup(links, data_dir, netns)
    await hostgw.cleanup(prefix, netns)
    return names

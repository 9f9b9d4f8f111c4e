"""Settings of the service proxy (kube-proxy's KubeProxyConfiguration, the iptables part).

Mirrors ``pkg/proxy/apis/config/types.go``; one dataclass, passed in explicitly.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

# iptables chain names are at most 28 characters; the longest we build is
# "<prefix>-SVC-" + a 16-character hash, so the prefix may have up to 7.
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,6}$")


@dataclass(frozen=True)
class ProxyConfig:
    """What the rules depend on besides Services and EndpointSlices.

    ``chain_prefix`` names every chain we own (``KUBE`` would give kube-proxy's own names, and
    clash with a kube-proxy on the same host); two clusters on one machine use two prefixes
    (``chain_prefix_for``) and never touch each other's rules. They may share
    ``masquerade_bit``: the mark means "masquerade this packet" in every cluster's chains, so
    whichever cluster's ``POSTROUTING`` chain sees a marked packet first does what the marking
    one wanted (``pyk8s.cluster.hostranges`` has the ranges that must not be shared).

    ``node_ips`` empty means NodePorts answer on every local address (and localhost);
    otherwise on those addresses and on localhost.
    """

    node_name: str = ""
    chain_prefix: str = "PYK8S"
    cluster_cidr: str = "10.42.0.0/16"
    node_ips: tuple[str, ...] = ()
    masquerade_bit: int = 14
    masquerade_all: bool = False
    localhost_node_ports: bool = True
    sync_period: float = 30.0
    min_sync_period: float = 0.1

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.chain_prefix):
            raise ValueError(
                f"chain prefix {self.chain_prefix!r}: want 1-7 upper-case letters or digits, "
                "starting with a letter"
            )
        if self.cluster_cidr:
            try:
                net = ipaddress.ip_network(self.cluster_cidr, strict=False)
            except ValueError as e:
                raise ValueError(f"cluster CIDR {self.cluster_cidr!r}: {e}") from None
            if net.version != 4:
                raise ValueError(f"cluster CIDR {self.cluster_cidr!r}: only IPv4 is supported")
        for ip in self.node_ips:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                raise ValueError(f"node IP {ip!r} is not an IPv4 address") from None
        if not 0 <= self.masquerade_bit <= 31:
            raise ValueError(f"masquerade bit {self.masquerade_bit} is not in 0..31")

    @property
    def masquerade_mark(self) -> str:
        return f"{1 << self.masquerade_bit:#x}"


def chain_prefix_for(cluster: str) -> str:
    """The chain prefix of a cluster named ``cluster`` (e.g. the runtime's ``pyk8s-1a2b3c4d``).

    ``P`` and six hex digits: a valid, short prefix that ``pyk8s killall`` can derive again to
    remove the cluster's chains (``proxier.cleanup(chain_prefix_for(prefix))``).
    """
    tail = cluster.rsplit("-", 1)[-1].lower()
    if len(tail) < 6 or any(c not in "0123456789abcdef" for c in tail):
        tail = hashlib.sha256(cluster.encode()).hexdigest()
    return "P" + tail[:6].upper()

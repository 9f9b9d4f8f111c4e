"""Which addresses the API server agrees to proxy to.

Mirrors the checks of ``pkg/registry/core/pod/strategy.go`` (``ResourceLocation``: a pod's
IP must be a global unicast address, else 400 ``address not allowed``) and
``pkg/registry/core/node/strategy.go`` (``isProxyableHostname``). Go's ``IsGlobalUnicast``
includes private ranges and excludes loopback; nodes here may well sit on loopback (every
test cluster, a one-machine server), so for nodes loopback is allowed and only link-local,
multicast and unspecified addresses are refused.
"""

from __future__ import annotations

import ipaddress

from pyk8s.api import errors


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def global_unicast(address: str) -> bool:
    ip = _parse(address)
    if ip is None:
        return False
    if ip.is_loopback or ip.is_multicast or ip.is_link_local or ip.is_unspecified:
        return False
    return not (ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"))


def check_node(host: str) -> None:
    """Refuse a node address no proxy should reach (a name is taken as it is)."""
    ip = _parse(host)
    if ip is None or ip.is_loopback:
        return
    if not global_unicast(host):
        raise errors.BadRequest("address not allowed")


def port_number(port: str, what: str) -> int:
    try:
        n = int(port)
    except ValueError:
        raise errors.BadRequest(f'invalid {what} request port "{port}"') from None
    if not 0 < n <= 65535:
        raise errors.BadRequest(f'invalid {what} request port "{port}"')
    return n

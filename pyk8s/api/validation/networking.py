"""Semantic validation of networking.k8s.io/v1 objects.

Mirrors the NetworkPolicy half of ``pkg/apis/networking/validation/validation.go``
(Ingresses are in :mod:`pyk8s.api.validation.ingress`): ``ValidateNetworkPolicySpec``
(selectors, ports and end ports, peers and IP blocks whose exceptions lie inside their
CIDR, policy types).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pyk8s.api import selectors
from pyk8s.api.errors import FieldError, forbidden, invalid_value, not_supported, required

Obj = dict[str, Any]

PROTOCOLS = ["SCTP", "TCP", "UDP"]
POLICY_TYPES = ["Egress", "Ingress"]


def _selector(sel: Any, path: str) -> list[FieldError]:
    if sel is None:
        return []
    try:
        selectors.from_label_selector(sel if isinstance(sel, dict) else {})
    except selectors.SelectorError as e:
        return [invalid_value(path, sel, str(e))]
    return []


def _cidr(value: Any, path: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network | None, list[FieldError]]:  # noqa: E501  # fmt: skip
    try:
        return ipaddress.ip_network(str(value), strict=False), []
    except ValueError:
        return None, [invalid_value(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]  # noqa: E501  # fmt: skip


def _peer(peer: Any, path: str) -> list[FieldError]:
    peer = peer if isinstance(peer, dict) else {}
    errs: list[FieldError] = []
    given = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(k) is not None]
    if not given:
        return [required(path, "must specify a peer")]
    if "ipBlock" in given and len(given) > 1:
        return [forbidden(path, "may not specify both ipBlock and another peer")]
    errs += _selector(peer.get("podSelector"), f"{path}.podSelector")
    errs += _selector(peer.get("namespaceSelector"), f"{path}.namespaceSelector")
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        if not block.get("cidr"):
            return [*errs, required(f"{path}.ipBlock.cidr")]
        net, bad = _cidr(block["cidr"], f"{path}.ipBlock.cidr")
        errs += bad
        for i, ex in enumerate(block.get("except") or []):
            sub, bad = _cidr(ex, f"{path}.ipBlock.except[{i}]")
            errs += bad
            if (
                net is not None
                and sub is not None
                and (
                    sub.version != net.version or not sub.subnet_of(net) or sub == net  # type: ignore[arg-type]
                )
            ):
                errs.append(invalid_value(f"{path}.ipBlock.except[{i}]", ex, "must be a strict subset of `cidr`"))  # noqa: E501  # fmt: skip
    return errs


def _ports(ports: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate(ports if isinstance(ports, list) else []):
        p = item if isinstance(item, dict) else {}
        where = f"{path}[{i}]"
        proto = p.get("protocol")
        if proto is not None and proto not in PROTOCOLS:
            errs.append(not_supported(f"{where}.protocol", proto, PROTOCOLS))
        port = p.get("port")
        if isinstance(port, int) and not 1 <= port <= 65535:
            errs.append(invalid_value(f"{where}.port", port, "must be between 1 and 65535, inclusive"))  # noqa: E501  # fmt: skip
        elif isinstance(port, str):
            errs += [invalid_value(f"{where}.port", port, m) for m in _port_name(port)]
        end = p.get("endPort")
        if end is not None:
            if port is None:
                errs.append(required(f"{where}.port", "must be specified when endPort is specified"))  # noqa: E501  # fmt: skip
            elif isinstance(port, str):
                errs.append(forbidden(f"{where}.endPort", "may not be specified when `port` is non-numeric"))  # noqa: E501  # fmt: skip
            elif isinstance(end, int) and end < port:
                errs.append(invalid_value(f"{where}.endPort", end, "must be greater than or equal to `port`"))  # noqa: E501  # fmt: skip
    return errs


def _port_name(name: str) -> list[str]:
    if len(name) > 15:
        return ["must be no more than 15 characters"]
    if not re.fullmatch(r"[-a-z0-9]+", name):
        return ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]
    if not re.search(r"[a-z]", name):
        return ["must contain at least one letter (a-z)"]
    if "--" in name:
        return ["must not contain consecutive hyphens"]
    if name.startswith("-") or name.endswith("-"):
        return ["must not begin or end with a hyphen"]
    return []


def network_policy(obj: Obj) -> list[FieldError]:
    """``ValidateNetworkPolicySpec``: selectors, ports, peers, policy types."""
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs = _selector(spec.get("podSelector"), "spec.podSelector")
    for i, raw in enumerate(spec.get("ingress") or []):
        rule = raw if isinstance(raw, dict) else {}
        errs += _ports(rule.get("ports"), f"spec.ingress[{i}].ports")
        for j, peer in enumerate(rule.get("from") or []):
            errs += _peer(peer, f"spec.ingress[{i}].from[{j}]")
    for i, raw in enumerate(spec.get("egress") or []):
        rule = raw if isinstance(raw, dict) else {}
        errs += _ports(rule.get("ports"), f"spec.egress[{i}].ports")
        for j, peer in enumerate(rule.get("to") or []):
            errs += _peer(peer, f"spec.egress[{i}].to[{j}]")
    types = spec.get("policyTypes") or []
    for i, t in enumerate(types):
        if t not in POLICY_TYPES:
            errs.append(not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES))
    if len(types) > 2:
        errs.append(invalid_value("spec.policyTypes", types, "may not specify more than two policyTypes"))  # noqa: E501  # fmt: skip
    return errs

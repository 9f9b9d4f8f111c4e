"""The whole iptables rule set of the service proxy, rendered from Services and EndpointSlices.

Pure: no I/O. ``render_rules`` returns the complete ``iptables-restore --noflush`` input for the
``filter`` and ``nat`` tables; ``proxier.py`` applies it. Mirrors
``pkg/proxy/iptables/proxier.go`` ``syncProxyRules`` (chains, rule order, comments and the
traffic-policy logic) and ``writeServiceToEndpointRules``; written anew, not translated.

Every chain we own is named ``<prefix>-...``: the fixed chains below, and per service port the
hashed ``SVC`` (all endpoints), ``SVL`` (node-local endpoints), ``EXT`` (external destinations)
and per endpoint ``SEP`` chains. With ``--noflush`` a declared chain is created or flushed and
nothing else is touched, so two prefixes live side by side in one network namespace.

Warning: ``--noflush`` keeps rules in the built-in chains, so jumps into our chains are written
only when ``current`` (parsed from ``iptables-save``) says they are missing, and chains of ours
that ``current`` lists but this rendering no longer uses are flushed and deleted.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.proxy import endpoint, serviceport
from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.endpoint import Endpoint
from pyk8s.proxy.serviceport import ServicePort

log = logging.getLogger(__name__)

FILTER, NAT = "filter", "nat"
TABLES = (FILTER, NAT)

# Fixed chains per table (suffixes after "<prefix>-").
FIXED_CHAINS: dict[str, tuple[str, ...]] = {
    FILTER: ("SERVICES", "EXTERNAL-SERVICES", "FORWARD", "FIREWALL", "PROXY-FIREWALL"),
    NAT: ("SERVICES", "NODEPORTS", "POSTROUTING", "MARK-MASQ"),
}

# Jumps from built-in chains: (table, built-in chain, match, our chain suffix), in order.
JUMPS: tuple[tuple[str, str, str, str], ...] = (
    (FILTER, "INPUT", "-m conntrack --ctstate NEW", "PROXY-FIREWALL"),
    (FILTER, "INPUT", "-m conntrack --ctstate NEW", "EXTERNAL-SERVICES"),
    (FILTER, "INPUT", "", "FIREWALL"),
    (FILTER, "FORWARD", "-m conntrack --ctstate NEW", "PROXY-FIREWALL"),
    (FILTER, "FORWARD", "", "FORWARD"),
    (FILTER, "FORWARD", "-m conntrack --ctstate NEW", "SERVICES"),
    (FILTER, "FORWARD", "-m conntrack --ctstate NEW", "EXTERNAL-SERVICES"),
    (FILTER, "OUTPUT", "-m conntrack --ctstate NEW", "PROXY-FIREWALL"),
    (FILTER, "OUTPUT", "-m conntrack --ctstate NEW", "SERVICES"),
    (FILTER, "OUTPUT", "", "FIREWALL"),
    (NAT, "PREROUTING", "", "SERVICES"),
    (NAT, "OUTPUT", "", "SERVICES"),
    (NAT, "POSTROUTING", "", "POSTROUTING"),
)

_HASHED = re.compile(r"-(SVC|SVL|EXT|FW|SEP)-[A-Z2-7]{16}$")
_APPEND = re.compile(r"^-A (\S+) .*-j (\S+)(?: |$)")


@dataclass(frozen=True)
class Current:
    """What ``iptables-save`` shows of one prefix: its chains per table and existing jumps."""

    chains: Mapping[str, frozenset[str]] = field(default_factory=dict)
    jumps: frozenset[tuple[str, str, str]] = frozenset()  # (table, built-in chain, our chain)
    jump_rules: tuple[tuple[str, str], ...] = ()  # (table, saved "-A ..." line) of those jumps


def is_ours(chain: str, prefix: str) -> bool:
    if not chain.startswith(prefix + "-"):
        return False
    rest = chain[len(prefix) :]
    return any(rest == "-" + c for t in TABLES for c in FIXED_CHAINS[t]) or bool(
        _HASHED.fullmatch(rest)
    )


def parse_save(text: str, prefix: str) -> Current:
    """Read the chains of ``prefix`` and the jumps into them from ``iptables-save`` output."""
    chains: dict[str, set[str]] = {t: set() for t in TABLES}
    jumps: set[tuple[str, str, str]] = set()
    jump_rules: list[tuple[str, str]] = []
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table not in chains:
            continue
        elif line.startswith(":"):
            name = line[1:].split(" ", 1)[0]
            if is_ours(name, prefix):
                chains[table].add(name)
        elif (
            (m := _APPEND.match(line))
            and is_ours(m.group(2), prefix)
            and not is_ours(m.group(1), prefix)
        ):
            jumps.add((table, m.group(1), m.group(2)))
            jump_rules.append((table, line))
    return Current(
        {t: frozenset(c) for t, c in chains.items()}, frozenset(jumps), tuple(jump_rules)
    )


def render_cleanup(current: Current) -> str:
    """The ``iptables-restore --noflush`` input that removes every chain in ``current``."""
    out: list[str] = []
    for table in TABLES:
        chains = sorted(current.chains.get(table, ()))
        rules = [line for t, line in current.jump_rules if t == table]
        if not chains and not rules:
            continue
        out.append(f"*{table}")
        out.extend(f":{c} - [0:0]" for c in chains)
        out.extend("-D" + line[2:] for line in rules)
        out.extend(f"-X {c}" for c in chains)
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


@functools.lru_cache(maxsize=1 << 16)
def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def chain_name(prefix: str, kind: str, svc: ServicePort, ep: Endpoint | None = None) -> str:
    """``<prefix>-<kind>-<hash>``; the hash input is kube-proxy's, so KUBE names match it."""
    text = f"{svc}{svc.protocol.lower()}" + (str(ep) if ep is not None else "")
    return f"{prefix}-{kind}-{_hash(text)}"


def _q(text: str) -> str:
    return f'"{text}"'


def _c(text: str) -> str:
    return f"-m comment --comment {_q(text)}"


@dataclass
class RuleSet:
    """Every chain we want, per table, with its rules (``-A ...`` lines) in order.

    ``udp`` maps each UDP destination a Service captures, ``(ip, port)`` (``("", port)`` for a
    NodePort), to the endpoint IPs it is sent to: conntrack entries that outlive a change of
    that set keep sending datagrams to the old endpoints, so the proxier deletes them.
    """

    chains: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {t: {} for t in TABLES})
    udp: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)


class _Writer(RuleSet):
    def chain(self, table: str, name: str) -> None:
        self.chains[table].setdefault(name, [])

    def add(self, table: str, chain: str, *parts: str) -> None:
        line = " ".join(["-A", chain, *(p for p in parts if p)])
        self.chains[table].setdefault(chain, []).append(line)


def render_rules(
    services: Iterable[Mapping[str, Any]],
    endpoint_slices: Iterable[Mapping[str, Any]],
    config: ProxyConfig,
    current: Current | None = None,
) -> str:
    """The ``iptables-restore --noflush`` input that makes the kernel match these objects.

    A Service the API server should have refused is skipped with a warning, never the whole
    rule set.
    """
    return restore_input(render(services, endpoint_slices, config), config, current)


def restore_input(
    rules: RuleSet,
    config: ProxyConfig,
    current: Current | None = None,
    previous: RuleSet | None = None,
) -> str:
    """``iptables-restore --noflush`` input for ``rules``, given what the kernel holds.

    With ``previous`` (what the last successful restore wrote; ``current`` then says which
    chains exist), only chains whose rules changed are written, as kube-proxy's partial syncs
    do; unchanged chains stay as they are in the kernel.
    """
    current = current or Current()
    p = config.chain_prefix
    out: list[str] = []
    for table in TABLES:
        wanted = rules.chains[table]
        existing = current.chains.get(table, frozenset())
        before = previous.chains[table] if previous is not None else None
        changed = [
            c for c in wanted if before is None or c not in existing or before.get(c) != wanted[c]
        ]
        stale = sorted(c for c in existing if c not in wanted)
        out.append(f"*{table}")
        out.extend(f":{c} - [0:0]" for c in [*changed, *stale])
        for t, builtin, match, suffix in reversed(JUMPS):
            target = f"{p}-{suffix}"
            if t == table and (t, builtin, target) not in current.jumps:
                comment = f"-m comment --comment {_q(f'{p} {suffix.lower()}')}"
                out.append(" ".join(x for x in ("-I", builtin, match, comment, "-j", target) if x))
        for c in changed:
            out.extend(wanted[c])
        out.extend(f"-X {c}" for c in stale)
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def written(rules: RuleSet, config: ProxyConfig) -> Current:
    """What the kernel holds after ``rules`` were restored: their chains and every jump."""
    p = config.chain_prefix
    return Current(
        {t: frozenset(rules.chains[t]) for t in TABLES},
        frozenset((t, builtin, f"{p}-{suffix}") for t, builtin, _, suffix in JUMPS),
    )


def stale_udp_flows(before: RuleSet, after: RuleSet) -> list[tuple[tuple[str, int], str | None]]:
    """Conntrack entries to delete after going from ``before`` to ``after``.

    ``(destination, endpoint)``: flows to that Service destination DNATed to that endpoint,
    which is gone; ``(destination, None)``: every flow to it, because it had no endpoint
    (those flows were rejected and would stay rejected). Mirrors ``pkg/proxy/conntrack``.
    """
    stale: list[tuple[tuple[str, int], str | None]] = []
    for dest, old in sorted(before.udp.items()):
        new = after.udp.get(dest, frozenset())
        stale.extend((dest, ip) for ip in sorted(old - new))
    for dest, new in sorted(after.udp.items()):
        if new and not before.udp.get(dest):
            stale.append((dest, None))
    return stale


def render(
    services: Iterable[Mapping[str, Any]],
    endpoint_slices: Iterable[Mapping[str, Any]],
    config: ProxyConfig,
) -> RuleSet:
    """The rule set these objects call for (pure); see ``restore_input`` for the text."""
    p = config.chain_prefix
    w = _Writer()
    for table in TABLES:
        for suffix in FIXED_CHAINS[table]:
            w.chain(table, f"{p}-{suffix}")
    masq = f"{p}-MARK-MASQ"
    cidr = config.cluster_cidr
    _write_fixed_rules(w, config)

    ports: list[ServicePort] = []
    for svc in services:
        try:
            ports.extend(serviceport.service_ports(svc))
        except ValueError as e:
            log.warning("skipping %s", e)
    ports.sort(key=lambda s: (s.namespace, s.name, s.port_name, s.protocol))
    by_port = endpoint.endpoints_by_port(endpoint_slices, config.node_name)

    for port in ports:
        cat = endpoint.categorize(by_port.get(port.key, []), port)
        _write_service(w, config, port, cat, masq, cidr)
        if port.protocol == "UDP":
            ips = frozenset(e.ip for e in cat.all_reachable)
            for ip in (port.cluster_ip, *port.external_ips, *port.load_balancer_ips):
                w.udp[(ip, port.port)] = ips
            if port.node_port:
                w.udp[("", port.node_port)] = ips

    # The NodePort dispatch must be the last rule of the services chain.
    nodeport_comment = _c(
        "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
    )
    if config.node_ips:
        addresses = list(config.node_ips)
        if config.localhost_node_ports:
            addresses.append("127.0.0.0/8")
        for ip in addresses:
            w.add(NAT, f"{p}-SERVICES", nodeport_comment, "-d", ip, "-j", f"{p}-NODEPORTS")
    else:
        w.add(
            NAT,
            f"{p}-SERVICES",
            nodeport_comment,
            "-m addrtype --dst-type LOCAL",
            "-j",
            f"{p}-NODEPORTS",
        )

    return w


def _write_fixed_rules(w: _Writer, config: ProxyConfig) -> None:
    p, mark = config.chain_prefix, config.masquerade_mark
    if config.cluster_cidr:
        w.add(
            NAT,
            f"{p}-POSTROUTING",
            _c("pod traffic leaving the cluster network"),
            "-s",
            config.cluster_cidr,
            "!",
            "-d",
            config.cluster_cidr,
            "-j MASQUERADE",
        )
    w.add(NAT, f"{p}-POSTROUTING", f"-m mark ! --mark {mark}/{mark}", "-j RETURN")
    # The mark would survive into a second pass (re-entering the stack); clear it.
    w.add(NAT, f"{p}-POSTROUTING", f"-j MARK --xor-mark {mark}")
    w.add(NAT, f"{p}-POSTROUTING", _c("kubernetes service traffic requiring SNAT"), "-j MASQUERADE")
    w.add(NAT, f"{p}-MARK-MASQ", f"-j MARK --or-mark {mark}")
    w.add(FILTER, f"{p}-FORWARD", "-m conntrack --ctstate INVALID", "-j DROP")
    w.add(
        FILTER,
        f"{p}-FORWARD",
        _c("kubernetes forwarding rules"),
        f"-m mark --mark {mark}/{mark}",
        "-j ACCEPT",
    )
    w.add(
        FILTER,
        f"{p}-FORWARD",
        _c("kubernetes forwarding conntrack rule"),
        "-m conntrack --ctstate RELATED,ESTABLISHED",
        "-j ACCEPT",
    )
    if config.localhost_node_ports:
        # route_localnet lets NodePorts answer on 127.0.0.1; never let outsiders reach it.
        w.add(
            FILTER,
            f"{p}-FIREWALL",
            _c("block incoming localnet connections"),
            "-d 127.0.0.0/8 ! -s 127.0.0.0/8",
            "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT",
            "-j DROP",
        )


def _write_service(
    w: _Writer,
    config: ProxyConfig,
    svc: ServicePort,
    cat: endpoint.Categorized,
    masq: str,
    cidr: str,
) -> None:
    p = config.chain_prefix
    name = str(svc)
    proto = svc.protocol.lower()
    match = f"-p {proto} -m {proto}"
    cluster_chain = chain_name(p, "SVC", svc)
    local_chain = chain_name(p, "SVL", svc)
    ext_chain = chain_name(p, "EXT", svc)

    uses_cluster_chain = bool(cat.cluster) and svc.uses_cluster_endpoints
    uses_local_chain = bool(cat.local) and svc.uses_local_endpoints
    has_endpoints = cat.has_any

    internal_chain, has_internal = cluster_chain, has_endpoints
    if svc.internal_policy_local:
        internal_chain, has_internal = local_chain, bool(cat.local)
    external_policy_chain, has_external = cluster_chain, has_endpoints
    if svc.external_policy_local:
        external_policy_chain, has_external = local_chain, bool(cat.local)
    # The EXT chain exists whenever anything does: it short-circuits pod and host traffic.
    uses_ext_chain = has_endpoints and svc.externally_accessible

    if not has_endpoints:
        internal_target = external_target = "REJECT"
        internal_comment = external_comment = _c(f"{name} has no endpoints")
    else:
        internal_target = external_target = "DROP"
        internal_comment = external_comment = _c(f"{name} has no local endpoints")

    dst = f"-d {svc.cluster_ip} --dport {svc.port}"
    if has_internal:
        w.add(NAT, f"{p}-SERVICES", _c(f"{name} cluster IP"), match, dst, "-j", internal_chain)
    else:
        w.add(FILTER, f"{p}-SERVICES", internal_comment, match, dst, "-j", internal_target)

    for ip in svc.external_ips:
        if has_endpoints:
            w.add(
                NAT,
                f"{p}-SERVICES",
                _c(f"{name} external IP"),
                match,
                f"-d {ip} --dport {svc.port}",
                "-j",
                ext_chain,
            )
        if not has_external:
            w.add(
                FILTER,
                f"{p}-EXTERNAL-SERVICES",
                external_comment,
                match,
                f"-d {ip} --dport {svc.port}",
                "-j",
                external_target,
            )
    # loadBalancerSourceRanges: LB traffic goes through a firewall chain that lets the allowed
    # sources on to the EXT chain; what it does not let on stays un-DNATed and is dropped in
    # the filter table.
    fw_chain = chain_name(p, "FW", svc)
    uses_fw = has_endpoints and bool(svc.load_balancer_ips and svc.source_ranges)
    for ip in svc.load_balancer_ips:
        if has_endpoints:
            w.add(
                NAT,
                f"{p}-SERVICES",
                _c(f"{name} loadbalancer IP"),
                match,
                f"-d {ip} --dport {svc.port}",
                "-j",
                fw_chain if uses_fw else ext_chain,
            )
        if uses_fw:
            w.add(
                FILTER,
                f"{p}-PROXY-FIREWALL",
                _c(f"{name} traffic not accepted by {fw_chain}"),
                match,
                f"-d {ip} --dport {svc.port}",
                "-j DROP",
            )
        if not has_external:
            w.add(
                FILTER,
                f"{p}-EXTERNAL-SERVICES",
                external_comment,
                match,
                f"-d {ip} --dport {svc.port}",
                "-j",
                external_target,
            )
    if svc.node_port:
        if has_endpoints:
            w.add(
                NAT, f"{p}-NODEPORTS", _c(name), match, f"--dport {svc.node_port}", "-j", ext_chain
            )
        if not has_external:
            w.add(
                FILTER,
                f"{p}-EXTERNAL-SERVICES",
                external_comment,
                "-m addrtype --dst-type LOCAL",
                match,
                f"--dport {svc.node_port}",
                "-j",
                external_target,
            )

    # Off-cluster sources reaching a ClusterIP may be answered from another node: SNAT them.
    if has_internal:
        if config.masquerade_all:
            w.add(NAT, internal_chain, _c(f"{name} cluster IP"), match, dst, "-j", masq)
        elif cidr:
            w.add(
                NAT,
                internal_chain,
                _c(f"{name} cluster IP"),
                match,
                dst,
                f"! -s {cidr}",
                "-j",
                masq,
            )

    if uses_ext_chain:
        w.chain(NAT, ext_chain)
        if not svc.external_policy_local:
            w.add(
                NAT,
                ext_chain,
                _c(f"masquerade traffic for {name} external destinations"),
                "-j",
                masq,
            )
        else:
            if cidr:
                # Pods reaching an external address are treated as if they went out and came
                # back in through a load balancer: any endpoint, no policy.
                w.add(
                    NAT,
                    ext_chain,
                    _c(f"pod traffic for {name} external destinations"),
                    f"-s {cidr}",
                    "-j",
                    cluster_chain,
                )
            w.add(
                NAT,
                ext_chain,
                _c(f"masquerade LOCAL traffic for {name} external destinations"),
                "-m addrtype --src-type LOCAL",
                "-j",
                masq,
            )
            w.add(
                NAT,
                ext_chain,
                _c(f"route LOCAL traffic for {name} external destinations"),
                "-m addrtype --src-type LOCAL",
                "-j",
                cluster_chain,
            )
        if has_external:
            w.add(NAT, ext_chain, "-j", external_policy_chain)

    if uses_fw:
        w.chain(NAT, fw_chain)
        comment = _c(f"{name} loadbalancer IP")
        for source in svc.source_ranges:
            w.add(NAT, fw_chain, comment, f"-s {source}", "-j", ext_chain)
        # The node itself may send from the LB address when a source range holds it.
        allowed = [ipaddress.ip_network(r, strict=False) for r in svc.source_ranges]
        for ip in svc.load_balancer_ips:
            if any(ipaddress.ip_address(ip) in net for net in allowed):
                w.add(NAT, fw_chain, comment, f"-s {ip}", "-j", ext_chain)

    if uses_cluster_chain:
        w.chain(NAT, cluster_chain)
        _write_balancing(w, p, svc, cluster_chain, cat.cluster)
    if uses_local_chain:
        w.chain(NAT, local_chain)
        _write_balancing(w, p, svc, local_chain, cat.local)

    for ep in cat.all_reachable:
        sep = chain_name(p, "SEP", svc, ep)
        w.chain(NAT, sep)
        # Hairpin: a pod reaching itself through the Service must see the reply come back
        # through the node, so masquerade it.
        w.add(NAT, sep, _c(name), f"-s {ep.ip}", "-j", masq)
        sticky = f"-m recent --name {sep} --set" if svc.affinity_timeout is not None else ""
        w.add(NAT, sep, _c(name), sticky, match, f"-j DNAT --to-destination {ep}")


def _write_balancing(
    w: _Writer, prefix: str, svc: ServicePort, chain: str, endpoints: tuple[Endpoint, ...]
) -> None:
    name = str(svc)
    if svc.affinity_timeout is not None:
        for ep in endpoints:
            sep = chain_name(prefix, "SEP", svc, ep)
            w.add(
                NAT,
                chain,
                _c(f"{name} -> {ep}"),
                f"-m recent --name {sep} --rcheck --seconds {svc.affinity_timeout} --reap",
                "-j",
                sep,
            )
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        # Rule i matches 1/(n-i) of what the rules before it left: an even split overall.
        chance = f"-m statistic --mode random --probability {1 / (n - i):.10f}" if i < n - 1 else ""
        w.add(NAT, chain, _c(f"{name} -> {ep}"), chance, "-j", chain_name(prefix, "SEP", svc, ep))

"""Decisions of render_rules that the golden files do not spell out."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from pyk8s.proxy.config import ProxyConfig
from pyk8s.proxy.endpoint import Endpoint
from pyk8s.proxy.iptables import rules
from pyk8s.proxy.serviceport import ServicePort


def service(name: str, ip: str, **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterIP": ip, "ports": [{"port": 80}], **spec},
    }


def slice_(name: str, ips: list[str]) -> dict[str, object]:
    return {
        "metadata": {
            "name": name + "-x",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": [{"port": 8080}],
        "endpoints": [{"addresses": [ip]} for ip in ips],
    }


def test_chain_names_match_kube_proxy() -> None:
    # The names kube-proxy's own tests expect for ns1/svc1:p80 and endpoint 10.180.0.1:80.
    svc = ServicePort("ns1", "svc1", "p80", "TCP", 80, "172.30.0.41")
    assert rules.chain_name("KUBE", "SVC", svc) == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert rules.chain_name("KUBE", "SEP", svc, Endpoint("10.180.0.1", 80)) == (
        "KUBE-SEP-SXIVWICOYRO3J4NJ"
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_random_split_is_even(n: int) -> None:
    ips = [f"10.42.0.{i + 1}" for i in range(n)]
    text = rules.render_rules([service("s", "10.43.0.1")], [slice_("s", ips)], ProxyConfig())
    lines = [line for line in text.splitlines() if "-> 10.42.0." in line]
    assert len(lines) == n
    left = Fraction(1)
    for line in lines:
        m = re.search(r"--probability (\S+)", line)
        p = Fraction(m.group(1)).limit_denominator(1000) if m else Fraction(1)
        assert left * p == Fraction(1, n)
        left *= 1 - p
    assert left == 0


def test_every_chain_fits_the_iptables_limit() -> None:
    config = ProxyConfig(chain_prefix="ABCDEFG")
    text = rules.render_rules(
        [
            service(
                "s",
                "10.43.0.1",
                type="NodePort",
                externalTrafficPolicy="Local",
                ports=[{"port": 80, "nodePort": 30000}],
            )
        ],
        [slice_("s", ["10.42.0.1"])],
        config,
    )
    chains = [line[1:].split()[0] for line in text.splitlines() if line.startswith(":")]
    assert chains and max(len(c) for c in chains) <= 28
    assert all(rules.is_ours(c, "ABCDEFG") for c in chains)


def test_bad_service_does_not_lose_the_others() -> None:
    text = rules.render_rules(
        [service("bad", "nope"), service("good", "10.43.0.2")],
        [slice_("good", ["10.42.0.1"])],
        ProxyConfig(),
    )
    assert "default/good cluster IP" in text
    assert "default/bad" not in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"chain_prefix": "kube"}, "chain prefix", id="lowercase-prefix"),
        pytest.param({"chain_prefix": "TOOLONGX"}, "chain prefix", id="long-prefix"),
        pytest.param({"cluster_cidr": "10.42.0.0/33"}, "cluster CIDR", id="cidr"),
        pytest.param({"cluster_cidr": "fd00::/64"}, "only IPv4", id="ipv6-cidr"),
        pytest.param({"node_ips": ("x",)}, "node IP", id="node-ip"),
        pytest.param({"masquerade_bit": 32}, "masquerade bit", id="mark"),
    ],
)
def test_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProxyConfig(**kwargs)  # type: ignore[arg-type]


SAVED = """\
*filter
:INPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBEX-SERVICES - [0:0]
-A INPUT -m comment --comment "KUBE firewall" -j KUBE-FIREWALL
-A INPUT -j KUBEX-SERVICES
-A KUBE-SERVICES -d 10.43.0.1/32 -j REJECT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A PREROUTING -m comment --comment "KUBE services" -j KUBE-SERVICES
-A KUBE-SERVICES -j KUBE-SVC-XPGD46QRK7WJZT7O
COMMIT
"""


def test_parse_save_sees_only_our_chains() -> None:
    cur = rules.parse_save(SAVED, "KUBE")
    assert cur.chains["filter"] == {"KUBE-SERVICES", "KUBE-FIREWALL"}
    assert cur.chains["nat"] == {"KUBE-SERVICES", "KUBE-SVC-XPGD46QRK7WJZT7O"}
    assert cur.jumps == {
        ("filter", "INPUT", "KUBE-FIREWALL"),
        ("nat", "PREROUTING", "KUBE-SERVICES"),
    }


def test_cleanup_removes_jumps_then_chains() -> None:
    text = rules.render_cleanup(rules.parse_save(SAVED, "KUBE"))
    assert text.splitlines() == [
        "*filter",
        ":KUBE-FIREWALL - [0:0]",
        ":KUBE-SERVICES - [0:0]",
        '-D INPUT -m comment --comment "KUBE firewall" -j KUBE-FIREWALL',
        "-X KUBE-FIREWALL",
        "-X KUBE-SERVICES",
        "COMMIT",
        "*nat",
        ":KUBE-SERVICES - [0:0]",
        ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]",
        '-D PREROUTING -m comment --comment "KUBE services" -j KUBE-SERVICES',
        "-X KUBE-SERVICES",
        "-X KUBE-SVC-XPGD46QRK7WJZT7O",
        "COMMIT",
    ]
    assert rules.render_cleanup(rules.parse_save(SAVED, "NONE")) == ""


def test_resync_inserts_no_jump_twice() -> None:
    first = rules.render_rules([], [], ProxyConfig())
    inserted = [line for line in first.splitlines() if line.startswith("-I ")]
    assert len(inserted) == len(rules.JUMPS)
    # What iptables-save prints after applying ``first``: the jumps as -A lines.
    saved = first.replace("-I ", "-A ")
    again = rules.render_rules([], [], ProxyConfig(), rules.parse_save(saved, "PYK8S"))
    assert not [line for line in again.splitlines() if line.startswith("-I ")]


def test_partial_restore_writes_only_changed_chains() -> None:
    config = ProxyConfig()
    svcs = [service("a", "10.43.0.1"), service("b", "10.43.0.2")]
    before = rules.render(svcs, [slice_("a", ["10.42.0.1"]), slice_("b", ["10.42.0.2"])], config)
    after = rules.render(svcs, [slice_("a", ["10.42.0.1"]), slice_("b", ["10.42.0.3"])], config)
    text = rules.restore_input(after, config, rules.written(before, config), before)
    declared = {line[1:].split()[0] for line in text.splitlines() if line.startswith(":")}
    old_sep = {c for c in before.chains["nat"] if "-SEP-" in c} - set(after.chains["nat"])
    new_sep = {c for c in after.chains["nat"] if "-SEP-" in c} - set(before.chains["nat"])
    svc_b = next(
        c
        for c in after.chains["nat"]
        if "-SVC-" in c and any("default/b" in r for r in after.chains["nat"][c])
    )
    # Only b's service chain, its new endpoint chain, and the old one (to delete) are written.
    assert declared == {svc_b} | old_sep | new_sep
    assert [line for line in text.splitlines() if line.startswith("-X")] == [
        f"-X {c}" for c in sorted(old_sep)
    ]
    assert not [line for line in text.splitlines() if line.startswith("-I")]
    # Nothing changed: nothing is written but the table frames.
    same = rules.restore_input(after, config, rules.written(after, config), after)
    assert same == "*filter\nCOMMIT\n*nat\nCOMMIT\n"


def test_stale_udp_flows() -> None:
    config = ProxyConfig()
    udp = {"type": "NodePort", "ports": [{"port": 53, "protocol": "UDP", "nodePort": 30053}]}

    def es(ips: list[str]) -> dict[str, object]:
        s = slice_("dns", ips)
        s["ports"] = [{"port": 53, "protocol": "UDP"}]
        return s

    def rs(ips: list[str]) -> rules.RuleSet:
        return rules.render([service("dns", "10.43.0.10", **udp)], [es(ips)] if ips else [], config)

    two, one, none = rs(["10.42.0.1", "10.42.0.2"]), rs(["10.42.0.2"]), rs([])
    assert two.udp == {
        ("10.43.0.10", 53): frozenset({"10.42.0.1", "10.42.0.2"}),
        ("", 30053): frozenset({"10.42.0.1", "10.42.0.2"}),
    }
    assert rules.stale_udp_flows(two, one) == [
        (("", 30053), "10.42.0.1"),
        (("10.43.0.10", 53), "10.42.0.1"),
    ]
    assert rules.stale_udp_flows(one, one) == []
    assert rules.stale_udp_flows(none, one) == [(("", 30053), None), (("10.43.0.10", 53), None)]
    tcp = rules.render([service("web", "10.43.0.11")], [slice_("web", ["10.42.0.3"])], config)
    assert tcp.udp == {}


@pytest.mark.parametrize(
    ("cluster", "prefix"),
    [
        pytest.param("pyk8s-1a2b3c4d", "P1A2B3C", id="runtime-prefix"),
        pytest.param("my cluster", None, id="any-name"),
    ],
)
def test_chain_prefix_for_a_cluster(cluster: str, prefix: str | None) -> None:
    from pyk8s.proxy.config import chain_prefix_for

    got = chain_prefix_for(cluster)
    assert ProxyConfig(chain_prefix=got).chain_prefix == got  # valid
    assert got == chain_prefix_for(cluster)  # stable
    if prefix is not None:
        assert got == prefix

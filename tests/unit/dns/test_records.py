"""Records and lookups of the cluster DNS (pyk8s/dns/records.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pyk8s.dns import records
from tests.golden import compare

GOLDEN = Path(__file__).parents[2] / "golden" / "dns"
CASES = sorted(GOLDEN.glob("*.input.yaml"))


def load(path: Path, **overrides: Any) -> records.Zone:
    case = yaml.safe_load(path.read_text())
    config = records.DNSConfig(**{**case["config"], **overrides})
    return records.build(
        case["services"],
        case["endpointSlices"],
        case.get("pods", []),
        config,
        case.get("namespaces", []),
    )


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name.split(".")[0]) for p in CASES])
def test_golden(path: Path) -> None:
    zone = load(path)
    compare.check(zone.dump(), path.with_name(path.name.replace(".input.yaml", ".output.txt")))


@pytest.fixture(scope="module")
def zone() -> records.Zone:
    return load(GOLDEN / "cluster.input.yaml")


def answers(a: records.Answer | None) -> list[str]:
    assert a is not None
    return [
        str(r.data) if not isinstance(r.data, tuple) else " ".join(map(str, r.data))
        for r in a.answers
    ]


@pytest.mark.parametrize(
    ("qname", "qtype", "rcode", "data"),
    [
        pytest.param("web.default.svc.cluster.local.", "A", "NOERROR", ["10.43.0.20"], id="a"),
        pytest.param(
            "WEB.Default.SVC.cluster.local", "A", "NOERROR", ["10.43.0.20"], id="case-insensitive"
        ),
        pytest.param("web.default.svc.cluster.local", "AAAA", "NOERROR", [], id="nodata-aaaa"),
        pytest.param(
            "dual.default.svc.cluster.local", "AAAA", "NOERROR", ["fd00:43::21"], id="aaaa"
        ),
        pytest.param(
            "_http._tcp.web.default.svc.cluster.local",
            "SRV",
            "NOERROR",
            ["0 100 80 web.default.svc.cluster.local"],
            id="srv-named-port",
        ),
        pytest.param(
            "_dns._udp.kube-dns.kube-system.svc.cluster.local",
            "SRV",
            "NOERROR",
            ["0 100 53 kube-dns.kube-system.svc.cluster.local"],
            id="srv-udp",
        ),
        pytest.param(
            "_http._udp.web.default.svc.cluster.local", "SRV", "NXDOMAIN", [], id="srv-wrong-proto"
        ),
        pytest.param(
            "_tcp.web.default.svc.cluster.local", "SRV", "NOERROR", [], id="empty-non-terminal-tcp"
        ),
        pytest.param("default.svc.cluster.local", "A", "NOERROR", [], id="namespace-ent"),
        pytest.param("svc.cluster.local", "A", "NOERROR", [], id="svc-ent"),
        pytest.param("nope.default.svc.cluster.local", "A", "NXDOMAIN", [], id="no-service"),
        pytest.param("web.nons.svc.cluster.local", "A", "NXDOMAIN", [], id="no-namespace"),
        pytest.param("empty.svc.cluster.local", "A", "NOERROR", [], id="namespace-no-services"),
        pytest.param("x.empty.svc.cluster.local", "A", "NXDOMAIN", [], id="in-empty-namespace"),
        pytest.param(
            "db.prod.svc.cluster.local",
            "A",
            "NOERROR",
            ["10.42.0.31", "10.42.1.32", "10.42.1.33"],
            id="headless-ready-only",
        ),
        pytest.param(
            "db-0.db.prod.svc.cluster.local", "A", "NOERROR", ["10.42.0.31"], id="endpoint-hostname"
        ),
        pytest.param(
            "db-1.db.prod.svc.cluster.local",
            "A",
            "NOERROR",
            ["10.42.1.32"],
            id="pod-hostname-subdomain",
        ),
        pytest.param(
            "10-42-1-33.db.prod.svc.cluster.local",
            "A",
            "NOERROR",
            ["10.42.1.33"],
            id="endpoint-without-hostname",
        ),
        pytest.param("db-3.db.prod.svc.cluster.local", "A", "NXDOMAIN", [], id="not-ready"),
        pytest.param(
            "_pg._tcp.db.prod.svc.cluster.local",
            "SRV",
            "NOERROR",
            [
                "0 33 5432 10-42-1-33.db.prod.svc.cluster.local",
                "0 33 5432 db-0.db.prod.svc.cluster.local",
                "0 33 5432 db-1.db.prod.svc.cluster.local",
            ],
            id="headless-srv",
        ),
        pytest.param(
            "quiet.prod.svc.cluster.local", "A", "NXDOMAIN", [], id="headless-no-ready-endpoints"
        ),
        pytest.param(
            "eager.prod.svc.cluster.local", "A", "NOERROR", ["10.42.0.50"], id="publish-not-ready"
        ),
        pytest.param(
            "search.default.svc.cluster.local",
            "CNAME",
            "NOERROR",
            ["www.example.com"],
            id="externalname-cname",
        ),
        pytest.param(
            "20.0.43.10.in-addr.arpa",
            "PTR",
            "NOERROR",
            ["web.default.svc.cluster.local"],
            id="ptr-cluster-ip",
        ),
        pytest.param(
            "31.0.42.10.in-addr.arpa.",
            "PTR",
            "NOERROR",
            ["db-0.db.prod.svc.cluster.local"],
            id="ptr-endpoint",
        ),
        pytest.param(
            "10-42-0-99.default.pod.cluster.local", "A", "NOERROR", ["10.42.0.99"], id="pod-a"
        ),
        pytest.param(
            "10-42-0-99.default.pod.cluster.local", "AAAA", "NOERROR", [], id="pod-nodata"
        ),
        pytest.param(
            "fd00-42--5.default.pod.cluster.local", "AAAA", "NOERROR", ["fd00:42::5"], id="pod-aaaa"
        ),
        pytest.param("10-42-0-999.default.pod.cluster.local", "A", "NXDOMAIN", [], id="pod-bad-ip"),
        pytest.param("default.pod.cluster.local", "A", "NOERROR", [], id="pod-namespace-ent"),
        pytest.param("dns-version.cluster.local", "TXT", "NOERROR", ["1.1.0"], id="version"),
        pytest.param("ns.dns.cluster.local", "A", "NOERROR", ["10.43.0.10"], id="ns-address"),
        pytest.param("cluster.local", "NS", "NOERROR", ["ns.dns.cluster.local"], id="apex-ns"),
        pytest.param("x.y.cluster.local", "A", "NXDOMAIN", [], id="unknown-in-zone"),
    ],
)
def test_lookup(zone: records.Zone, qname: str, qtype: str, rcode: str, data: list[str]) -> None:
    answer = zone.lookup(qname, qtype)
    assert answer is not None
    assert answer.rcode == rcode
    assert sorted(answers(answer)) == sorted(data)
    if not data:
        # Negative answers carry the SOA so resolvers can cache them (RFC 2308).
        assert [r.type for r in answer.authority] == ["SOA"]


@pytest.mark.parametrize(
    ("qname", "qtype"),
    [
        pytest.param("www.example.com", "A", id="outside"),
        pytest.param("cluster.localx", "A", id="suffix-trick"),
        pytest.param("1.1.168.192.in-addr.arpa", "PTR", id="unknown-reverse"),
    ],
)
def test_not_ours_is_forwarded(zone: records.Zone, qname: str, qtype: str) -> None:
    assert zone.lookup(qname, qtype) is None


def test_externalname_a_query_answers_cname_and_asks_for_a_chase(zone: records.Zone) -> None:
    answer = zone.lookup("search.default.svc.cluster.local", "A")
    assert answer is not None
    assert answers(answer) == ["www.example.com"]
    assert answer.chase == "www.example.com"


def test_srv_answer_carries_target_addresses(zone: records.Zone) -> None:
    answer = zone.lookup("_pg._tcp.db.prod.svc.cluster.local", "SRV")
    assert answer is not None
    assert sorted(str(r.data) for r in answer.additional) == [
        "10.42.0.31",
        "10.42.1.32",
        "10.42.1.33",
    ]


def test_verified_pods_need_a_pod() -> None:
    zone = load(GOLDEN / "cluster.input.yaml", pods="verified")
    ok = zone.lookup("10-42-1-32.prod.pod.cluster.local", "A")
    wrong_ns = zone.lookup("10-42-1-32.default.pod.cluster.local", "A")
    missing = zone.lookup("10-42-0-99.prod.pod.cluster.local", "A")
    assert ok is not None and answers(ok) == ["10.42.1.32"]
    assert wrong_ns is not None and wrong_ns.rcode == "NXDOMAIN"
    assert missing is not None and missing.rcode == "NXDOMAIN"


def test_disabled_pods() -> None:
    zone = load(GOLDEN / "cluster.input.yaml", pods="disabled")
    answer = zone.lookup("10-42-1-32.prod.pod.cluster.local", "A")
    assert answer is not None and answer.rcode == "NXDOMAIN"


def test_soa_serial_follows_content() -> None:
    a = records.build([], [], [], records.DNSConfig())
    b = records.build(
        [{"metadata": {"name": "s", "namespace": "x"}, "spec": {"clusterIP": "10.43.0.5"}}],
        [],
        [],
        records.DNSConfig(),
    )
    assert a.soa.data != b.soa.data
    assert a.soa.data == records.build([], [], [], records.DNSConfig()).soa.data


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"domain": "Cluster.Local"}, "lower case", id="case"),
        pytest.param({"domain": "cluster.local."}, "dots", id="dot"),
        pytest.param({"ttl": -1}, "negative", id="ttl"),
        pytest.param({"pods": "sometimes"}, "pods mode", id="pods"),
    ],
)
def test_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        records.DNSConfig(**kwargs)


def test_broken_objects_are_skipped() -> None:
    zone = records.build(
        [
            {"metadata": {"namespace": "x"}, "spec": {"clusterIP": "10.43.0.5"}},
            {"metadata": {"name": "bad", "namespace": "x"}, "spec": {"clusterIP": "zzz"}},
            {"metadata": {"name": "ok", "namespace": "x"}, "spec": {"clusterIP": "10.43.0.6"}},
        ],
        [],
        [],
        records.DNSConfig(),
    )
    assert answers(zone.lookup("ok.x.svc.cluster.local", "A")) == ["10.43.0.6"]
    bad = zone.lookup("bad.x.svc.cluster.local", "A")
    assert bad is not None and bad.rcode == "NXDOMAIN"

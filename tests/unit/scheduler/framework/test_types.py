"""Pod requests (init containers, sidecars, overhead), NodeInfo and host ports."""

from __future__ import annotations

import pytest

from pyk8s.scheduler.framework.types import (
    HostPortInfo,
    NodeInfo,
    PodInfo,
    Resource,
    pod_requests,
)
from tests.unit.scheduler.builders import container, node, pod


@pytest.mark.parametrize(
    ("p", "non_missing", "expected"),
    [
        pytest.param(
            pod(containers=[container(cpu="1", memory="1Gi"), container(cpu="2")]),
            False,
            {"cpu": 3000, "memory": 2**30},
            id="containers-are-summed",
        ),
        pytest.param(
            pod(
                init_containers=[container(cpu="2", memory="1G"), container(cpu="2", memory="3G")],
                containers=[container(cpu="2", memory="1G"), container(cpu="1", memory="1G")],
            ),
            False,
            {"cpu": 3000, "memory": 3 * 10**9},
            id="init-containers-take-the-max",
        ),
        pytest.param(
            pod(
                init_containers=[
                    container("sidecar", cpu="1", restart="Always"),
                    container("init", cpu="2"),
                ],
                containers=[container(cpu="1")],
            ),
            False,
            {"cpu": 3000},
            id="init-container-runs-beside-earlier-sidecars",
        ),
        pytest.param(
            pod(
                init_containers=[
                    container("init", cpu="1"),
                    container("sidecar", cpu="2", restart="Always"),
                ],
                containers=[container(cpu="1")],
            ),
            False,
            {"cpu": 3000},
            id="sidecar-counts-with-containers",
        ),
        pytest.param(
            pod(cpu="1", overhead={"cpu": "250m", "memory": "120Mi"}),
            False,
            {"cpu": 1250, "memory": 120 * 2**20},
            id="overhead-is-added",
        ),
        pytest.param(pod(), False, {}, id="best-effort"),
        pytest.param(
            pod(), True, {"cpu": 100, "memory": 200 * 2**20}, id="best-effort-non-zero-defaults"
        ),
        pytest.param(
            pod(cpu="500m"), True, {"cpu": 500, "memory": 200 * 2**20}, id="only-missing-defaulted"
        ),
    ],
)
def test_pod_requests(p: dict, non_missing: bool, expected: dict[str, int]) -> None:
    assert pod_requests(p, non_missing=non_missing) == expected


def test_node_info_accounts_pods_and_ports() -> None:
    info = NodeInfo(node("n1", cpu="4", memory="8Gi", pods="10"))
    assert info.allocatable == Resource(4000, 8 * 2**30, 0, 10)
    a = pod("a", cpu="1", memory="1Gi", host_ports=[80])
    b = pod("b")
    info.add_pod(a)
    info.add_pod(b)
    assert info.requested == Resource(1000, 2**30)
    assert info.non_zero_requested == Resource(1100, 2**30 + 200 * 2**20)
    assert info.used_ports.check_conflict("0.0.0.0", "TCP", 80)
    generation = info.generation
    info.remove_pod(a)
    assert info.generation > generation
    assert info.requested == Resource()
    assert not info.used_ports.check_conflict("0.0.0.0", "TCP", 80)
    assert [p.pod["metadata"]["name"] for p in info.pods] == ["b"]
    with pytest.raises(LookupError):
        info.remove_pod(a)


def test_node_info_tracks_affinity_pods() -> None:
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {}, "topologyKey": "zone"}
            ]
        }
    }
    info = NodeInfo(node("n1"), [pod("plain"), pod("anti", affinity=anti)])
    assert [p.pod["metadata"]["name"] for p in info.pods_with_affinity] == ["anti"]
    assert [p.pod["metadata"]["name"] for p in info.pods_with_required_anti_affinity] == ["anti"]
    clone = info.clone()
    info.remove_pod(info.pods[1].pod)
    assert len(clone.pods_with_affinity) == 1
    assert info.pods_with_affinity == []


@pytest.mark.parametrize(
    ("used", "wanted", "conflict"),
    [
        pytest.param([("0.0.0.0", "TCP", 80)], ("0.0.0.0", "TCP", 80), True, id="same-port"),
        pytest.param([("0.0.0.0", "TCP", 80)], ("0.0.0.0", "UDP", 80), False, id="other-protocol"),
        pytest.param(
            [("0.0.0.0", "TCP", 80)], ("127.0.0.1", "TCP", 80), True, id="all-vs-specific"
        ),
        pytest.param(
            [("127.0.0.1", "TCP", 80)], ("0.0.0.0", "TCP", 80), True, id="specific-vs-all"
        ),
        pytest.param(
            [("127.0.0.1", "TCP", 80)], ("127.0.0.2", "TCP", 80), False, id="two-addresses"
        ),
        pytest.param([("127.0.0.1", "TCP", 80)], ("127.0.0.1", "TCP", 81), False, id="other-port"),
    ],
)
def test_host_port_conflicts(used: list, wanted: tuple, conflict: bool) -> None:
    ports = HostPortInfo()
    for u in used:
        ports.add(*u)
    assert ports.check_conflict(*wanted) is conflict


def test_affinity_term_namespaces() -> None:
    p = pod(
        "x",
        namespace="ns1",
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"},
                    {
                        "labelSelector": {"matchLabels": {"app": "db"}},
                        "topologyKey": "zone",
                        "namespaces": ["ns2"],
                    },
                    {
                        "labelSelector": {"matchLabels": {"app": "db"}},
                        "topologyKey": "zone",
                        "namespaceSelector": {},
                    },
                ]
            }
        },
    )
    own, listed, selected = PodInfo(p).required_affinity_terms
    db1 = pod("db", namespace="ns1", labels={"app": "db"})
    db2 = pod("db", namespace="ns2", labels={"app": "db"})
    assert own.matches(db1, None) and not own.matches(db2, None)
    assert listed.matches(db2, None) and not listed.matches(db1, None)
    assert selected.matches(db2, {"any": "label"})
    assert not selected.matches(db2, None)


def test_node_info_reads_taints_and_unschedulable_once() -> None:
    t = {"key": "k", "value": "v", "effect": "NoSchedule"}
    info = NodeInfo(node("a", taints=[t], unschedulable=True))
    assert (info.has_node, info.taints, info.unschedulable) == (True, [t], True)
    c = info.clone()
    assert (c.has_node, c.taints, c.unschedulable) == (True, [t], True)
    info.set_node(node("a"))
    assert (info.taints, info.unschedulable) == ([], False)
    info.remove_node()
    assert (info.has_node, info.taints, info.unschedulable) == (False, [], False)
    assert (c.taints, c.unschedulable) == ([t], True)  # the clone keeps what it had


def test_quantities_parse_alike_cached_or_not() -> None:
    p = pod("p", containers=[container(cpu="250m", memory="1Gi")])
    again = pod("q", containers=[container(cpu="250m", memory="1Gi")])
    assert pod_requests(p) == pod_requests(again) == {"cpu": 250, "memory": 1 << 30}
    with pytest.raises(ValueError):
        pod_requests(pod("bad", containers=[container(cpu="lots")]))

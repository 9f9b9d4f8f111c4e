"""PodTopologySpread: DoNotSchedule filtering, minDomains, scoring, cluster defaults."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.fake import FakeSeams, StaticLister
from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, NodeScore, Status
from pyk8s.scheduler.plugins.pod_topology_spread import PodTopologySpread
from tests.unit.scheduler.builders import node, node_info, pod
from tests.unit.scheduler.conftest import handle_over

WEB = {"app": "web"}
NOT_MATCH = Status(Code.UNSCHEDULABLE, "node(s) didn't match pod topology spread constraints")
MISSING = Status(
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
    "node(s) didn't match pod topology spread constraints (missing required label)",
)


def constraint(
    key: str, skew: int = 1, when: str = "DoNotSchedule", **extra: Any
) -> dict[str, Any]:
    return {
        "maxSkew": skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": WEB},
        **extra,
    }


def cluster(zone_pods: dict[str, int]) -> list:
    """n1, n2 in zone a; n3 in zone b; n4 without a zone label. zone_pods: node → web pods."""
    zones = {"n1": "a", "n2": "a", "n3": "b", "n4": None}
    infos = []
    for name, zone in zones.items():
        labels = {"zone": zone} if zone else {}
        pods = [pod(f"{name}-w{i}", labels=WEB, node=name) for i in range(zone_pods.get(name, 0))]
        infos.append(node_info(node(name, labels=labels), *pods))
    return infos


def test_protocols() -> None:
    plugin = PodTopologySpread(None, handle_over([]))
    _p: fw.PreFilterPlugin = plugin
    _f: fw.FilterPlugin = plugin
    _s: fw.ScorePlugin = plugin


def _filter_all(p: dict, infos: list) -> dict[str, Status | None]:
    plugin = PodTopologySpread(None, handle_over(infos))
    state = CycleState()
    _, s = plugin.pre_filter(state, p, infos)
    assert s is None
    return {i.name: plugin.filter(state, p, i) for i in infos}


def test_zone_skew() -> None:
    infos = cluster({"n1": 2})
    got = _filter_all(pod(labels=WEB, spread=[constraint("zone")]), infos)
    assert got == {"n1": NOT_MATCH, "n2": NOT_MATCH, "n3": None, "n4": MISSING}


def test_max_skew_allows_some_imbalance() -> None:
    infos = cluster({"n1": 2})
    got = _filter_all(pod(labels=WEB, spread=[constraint("zone", skew=3)]), infos)
    assert got["n1"] is None and got["n3"] is None


def test_pod_not_matching_its_own_selector() -> None:
    infos = cluster({"n1": 1})
    got = _filter_all(pod(labels={"app": "other"}, spread=[constraint("zone")]), infos)
    # 1 + 0 - 0 <= 1 everywhere
    assert got["n1"] is None


def test_min_domains_treats_global_minimum_as_zero() -> None:
    infos = cluster({"n1": 1, "n3": 1})
    without = _filter_all(pod(labels=WEB, spread=[constraint("zone")]), infos)
    assert without["n1"] is None
    got = _filter_all(pod(labels=WEB, spread=[constraint("zone", minDomains=3)]), infos)
    assert got["n1"] == NOT_MATCH and got["n3"] == NOT_MATCH


def test_node_affinity_policy_honor_excludes_nodes() -> None:
    # web pods only in zone b; the pod may only go to zone a nodes: zone b is not counted
    infos = cluster({"n3": 3})
    p = pod(labels=WEB, spread=[constraint("zone")], node_selector={"zone": "a"})
    assert _filter_all(p, infos)["n1"] is None
    p_ignore = pod(
        labels=WEB,
        spread=[constraint("zone", nodeAffinityPolicy="Ignore")],
        node_selector={"zone": "a"},
    )
    assert _filter_all(p_ignore, infos)["n1"] is None  # a: 0+1 - min(0) = 1
    assert _filter_all(p_ignore, infos)["n3"] == NOT_MATCH


def test_other_namespace_and_terminating_pods_do_not_count() -> None:
    infos = cluster({})
    infos[0].add_pod(pod("x1", namespace="other", labels=WEB, node="n1"))
    gone = pod("x2", labels=WEB, node="n1")
    gone["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    infos[0].add_pod(gone)
    assert _filter_all(pod(labels=WEB, spread=[constraint("zone")]), infos)["n1"] is None


def test_no_constraints_skips() -> None:
    plugin = PodTopologySpread(None, handle_over([]))
    _, s = plugin.pre_filter(CycleState(), pod(), [])
    assert s is not None and s.is_skip()


def test_score_prefers_nodes_with_fewer_matching_pods() -> None:
    infos = [
        node_info(node("n1"), pod("a", labels=WEB), pod("b", labels=WEB)),
        node_info(node("n2"), pod("c", labels=WEB)),
        node_info(node("n3")),
    ]
    plugin = PodTopologySpread(None, handle_over(infos))
    p = pod(labels=WEB, spread=[constraint("kubernetes.io/hostname", when="ScheduleAnyway")])
    state = CycleState()
    assert plugin.pre_score(state, p, infos) is None
    scores = [NodeScore(i.name, plugin.score(state, p, i)[0]) for i in infos]
    assert [s.score for s in scores] == [3, 2, 0]  # count * ln(3 + 2), rounded
    plugin.normalize_score(state, p, scores)
    assert [s.score for s in scores] == [0, 33, 100]


def test_system_default_constraints_use_the_service_selector() -> None:
    infos = [
        node_info(
            node("n1", labels={"topology.kubernetes.io/zone": "a"}),
            pod("a", labels=WEB),
            pod("b", labels=WEB),
        ),
        node_info(node("n2", labels={"topology.kubernetes.io/zone": "a"})),
    ]
    fakes = FakeSeams(
        listers={
            "services": StaticLister(
                [
                    {
                        "metadata": {"name": "web", "namespace": "default"},
                        "spec": {"selector": WEB},
                    },
                ]
            )
        }
    )
    plugin = PodTopologySpread(None, handle_over(infos, fakes))
    p = pod(labels=WEB)
    state = CycleState()
    assert plugin.pre_score(state, p, infos) is None
    scores = [NodeScore(i.name, plugin.score(state, p, i)[0]) for i in infos]
    plugin.normalize_score(state, p, scores)
    assert scores[1].score > scores[0].score
    # a pod no service or controller selects is not spread by default
    s = PodTopologySpread(None, handle_over(infos)).pre_score(CycleState(), pod(labels=WEB), infos)
    assert s is not None and s.is_skip()


def test_default_selector_from_replica_set_owner() -> None:
    rs = {
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"selector": {"matchLabels": WEB}},
    }
    fakes = FakeSeams(listers={"replicasets": StaticLister([rs])})
    infos = [node_info(node("n1"), pod("a", labels=WEB)), node_info(node("n2"))]
    plugin = PodTopologySpread(None, handle_over(infos, fakes))
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web-1",
        "controller": True,
        "uid": "x",
    }
    state = CycleState()
    assert plugin.pre_score(state, pod(labels=WEB, owner=owner), infos) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            {"defaultingType": "System", "defaultConstraints": [constraint("zone")]},
            "must be empty",
            id="system-with-list",
        ),
        pytest.param(
            {"defaultingType": "List", "defaultConstraints": [constraint("zone")]},
            "must not define a selector",
            id="selector-in-default",
        ),
        pytest.param({"defaultingType": "Sometimes"}, "Unsupported value", id="unknown-type"),
    ],
)
def test_bad_args(args: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PodTopologySpread(args, handle_over([]))


def test_add_and_remove_pod_update_counts() -> None:
    infos = cluster({"n1": 1})
    plugin = PodTopologySpread(None, handle_over(infos))
    p = pod(labels=WEB, spread=[constraint("zone")])
    state = CycleState()
    plugin.pre_filter(state, p, infos)
    assert plugin.filter(state, p, infos[0]) == NOT_MATCH  # a: 1+1-0 = 2 > 1
    victim = infos[0].pods[0].pod
    plugin.remove_pod(state, p, victim, infos[0])
    assert plugin.filter(state, p, infos[0]) is None
    plugin.add_pod(state, p, victim, infos[0])
    assert plugin.filter(state, p, infos[0]) == NOT_MATCH

"""InterPodAffinity: required affinity / anti-affinity (both directions) and preferred scoring."""

from __future__ import annotations

from typing import Any

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, NodeScore, Status
from pyk8s.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from tests.unit.scheduler.builders import node, node_info, pod
from tests.unit.scheduler.conftest import handle_over

DB = {"app": "db"}
WEB = {"app": "web"}
AFFINITY = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) didn't match pod affinity rules")
ANTI = Status(Code.UNSCHEDULABLE, "node(s) didn't match pod anti-affinity rules")
EXISTING_ANTI = Status(
    Code.UNSCHEDULABLE, "node(s) didn't satisfy existing pods anti-affinity rules"
)


def term(labels: dict[str, str], key: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key}


def affinity(kind: str, *terms: dict[str, Any], preferred: bool = False) -> dict[str, Any]:
    if preferred:
        return {
            kind: {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 5, "podAffinityTerm": t} for t in terms
                ]
            }
        }
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def zones(n1: list, n2: list, n3: list) -> list:
    return [
        node_info(node("n1", labels={"zone": "a"}), *n1),
        node_info(node("n2", labels={"zone": "a"}), *n2),
        node_info(node("n3", labels={"zone": "b"}), *n3),
    ]


def run_filter(p: dict, infos: list) -> dict[str, Status | None]:
    plugin = InterPodAffinity(None, handle_over(infos))
    state = CycleState()
    _, s = plugin.pre_filter(state, p, infos)
    if s is not None and s.is_skip():
        return {i.name: None for i in infos}
    return {i.name: plugin.filter(state, p, i) for i in infos}


def test_protocols() -> None:
    plugin = InterPodAffinity(None, handle_over([]))
    _p: fw.PreFilterPlugin = plugin
    _f: fw.FilterPlugin = plugin
    _s: fw.ScorePlugin = plugin


def test_required_affinity_by_zone() -> None:
    infos = zones([pod("db", labels=DB)], [], [])
    got = run_filter(pod(affinity=affinity("podAffinity", term(DB, "zone"))), infos)
    assert got == {"n1": None, "n2": None, "n3": AFFINITY}


def test_required_affinity_needs_the_topology_label() -> None:
    infos = [*zones([pod("db", labels=DB)], [], []), node_info(node("n4"))]
    got = run_filter(pod(affinity=affinity("podAffinity", term(DB, "zone"))), infos)
    assert got["n4"] == AFFINITY


def test_first_pod_of_a_self_affine_group_may_go_anywhere() -> None:
    infos = zones([], [], [])
    got = run_filter(pod(labels=DB, affinity=affinity("podAffinity", term(DB, "zone"))), infos)
    assert got == {"n1": None, "n2": None, "n3": None}
    # but not when the pod does not match its own terms
    got = run_filter(pod(labels=WEB, affinity=affinity("podAffinity", term(DB, "zone"))), infos)
    assert list(got.values()) == [AFFINITY] * 3


def test_required_anti_affinity() -> None:
    infos = zones([pod("w", labels=WEB)], [], [])
    got = run_filter(
        pod(labels=WEB, affinity=affinity("podAntiAffinity", term(WEB, "kubernetes.io/hostname"))),
        infos,
    )
    assert got == {"n1": ANTI, "n2": None, "n3": None}
    got = run_filter(
        pod(labels=WEB, affinity=affinity("podAntiAffinity", term(WEB, "zone"))), infos
    )
    assert got == {"n1": ANTI, "n2": ANTI, "n3": None}


def test_existing_pods_anti_affinity() -> None:
    guard = pod("guard", labels=DB, affinity=affinity("podAntiAffinity", term(WEB, "zone")))
    infos = zones([], [guard], [])
    got = run_filter(pod(labels=WEB), infos)
    assert got == {"n1": EXISTING_ANTI, "n2": EXISTING_ANTI, "n3": None}
    # another namespace is not covered by the guard's term
    got = run_filter(pod(labels=WEB, namespace="other"), infos)
    assert list(got.values()) == [None] * 3


def test_pods_without_affinity_skip() -> None:
    plugin = InterPodAffinity(None, handle_over([]))
    _, s = plugin.pre_filter(CycleState(), pod(), zones([], [], []))
    assert s is not None and s.is_skip()


def test_remove_pod_lifts_anti_affinity() -> None:
    infos = zones([pod("w", labels=WEB)], [], [])
    plugin = InterPodAffinity(None, handle_over(infos))
    p = pod(labels=WEB, affinity=affinity("podAntiAffinity", term(WEB, "zone")))
    state = CycleState()
    plugin.pre_filter(state, p, infos)
    assert plugin.filter(state, p, infos[1]) == ANTI
    plugin.remove_pod(state, p, infos[0].pods[0].pod, infos[0])
    assert plugin.filter(state, p, infos[1]) is None


def _scores(p: dict, infos: list, args: dict | None = None) -> list[int]:
    plugin = InterPodAffinity(args, handle_over(infos))
    state = CycleState()
    s = plugin.pre_score(state, p, infos)
    if s is not None and s.is_skip():
        return []
    scores = [NodeScore(i.name, plugin.score(state, p, i)[0]) for i in infos]
    plugin.normalize_score(state, p, scores)
    return [x.score for x in scores]


def test_preferred_affinity_and_anti_affinity() -> None:
    infos = zones([pod("db", labels=DB)], [], [])
    assert _scores(
        pod(affinity=affinity("podAffinity", term(DB, "zone"), preferred=True)), infos
    ) == [100, 100, 0]
    assert _scores(
        pod(affinity=affinity("podAntiAffinity", term(DB, "zone"), preferred=True)), infos
    ) == [0, 0, 100]


def test_existing_pods_required_affinity_attracts_with_hard_weight() -> None:
    friend = pod(
        "friend", labels=DB, affinity=affinity("podAffinity", term(WEB, "kubernetes.io/hostname"))
    )
    infos = zones([], [friend], [])
    assert _scores(pod(labels=WEB), infos) == [0, 100, 0]
    assert _scores(pod(labels=WEB), infos, {"hardPodAffinityWeight": 0}) == []

"""DefaultPreemption: victim selection, PDBs, candidate choice, eligibility."""

from __future__ import annotations

import pytest

from pyk8s.scheduler import config
from pyk8s.scheduler.cache import Snapshot
from pyk8s.scheduler.fake import FakeSeams
from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo
from pyk8s.scheduler.plugins.default_preemption import (
    Candidate,
    filter_pods_with_pdb_violation,
    more_important_pod,
)
from pyk8s.scheduler.plugins.registry import IN_TREE
from tests.unit.scheduler.builders import node, pod


def framework(infos: list[NodeInfo]):
    [f] = config.build_frameworks(
        config.KubeSchedulerConfiguration(), IN_TREE, FakeSeams().seams()
    ).values()
    f.set_snapshot(Snapshot(infos))
    return f


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_protocol() -> None:
    _: fw.PostFilterPlugin = framework([]).plugins["DefaultPreemption"]


@pytest.mark.parametrize(
    ("node_cpu", "expected"),
    [
        pytest.param("3", ["low2", "low1"], id="both-lower-priority-pods-go"),
        pytest.param("4", ["low1"], id="the-more-important-victim-is-reprieved"),
    ],
)
def test_select_victims_on_node(node_cpu: str, expected: list[str]) -> None:
    info = NodeInfo(
        node("n1", cpu=node_cpu),
        [
            pod("low1", cpu="1", priority=1),
            pod("low2", cpu="1", priority=2),
            pod("high", cpu="1", priority=10),
        ],
    )
    f = framework([info])
    incoming = pod("in", cpu="2", priority=5)
    state = CycleState()
    f.run_pre_filter_plugins(state, incoming, [info])
    plugin = f.plugins["DefaultPreemption"]
    victims, violations, s = plugin.select_victims_on_node(state, incoming, info.clone(), [])
    assert s is None and violations == 0
    assert names(victims) == expected


def test_no_lower_priority_pods() -> None:
    info = NodeInfo(node("n1", cpu="1"), [pod("same", cpu="1", priority=5)])
    f = framework([info])
    incoming = pod("in", cpu="1", priority=5)
    state = CycleState()
    f.run_pre_filter_plugins(state, incoming, [info])
    _, _, s = f.plugins["DefaultPreemption"].select_victims_on_node(
        state, incoming, info.clone(), []
    )
    assert s == Status(
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "No preemption victims found for incoming pod"
    )


def test_pdb_violations_are_counted() -> None:
    pdb = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
        "status": {"disruptionsAllowed": 1},
    }
    pods = [PodInfo(pod(f"w{i}", labels={"app": "web"})) for i in range(3)] + [PodInfo(pod("x"))]
    violating, ok = filter_pods_with_pdb_violation(pods, [pdb])
    assert [p.pod["metadata"]["name"] for p in violating] == ["w1", "w2"]
    assert [p.pod["metadata"]["name"] for p in ok] == ["w0", "x"]


def _cand(name: str, *prios: int, pdb: int = 0, start: str = "2024-01-01T00:00:00Z") -> Candidate:
    return Candidate(
        name, [pod(f"{name}-{i}", priority=p, start_time=start) for i, p in enumerate(prios)], pdb
    )


@pytest.mark.parametrize(
    ("candidates", "best"),
    [
        pytest.param([_cand("a", 1, pdb=1), _cand("b", 5)], "b", id="fewest-pdb-violations"),
        pytest.param([_cand("a", 5), _cand("b", 3, 3)], "b", id="lowest-highest-priority"),
        pytest.param([_cand("a", 3, 3), _cand("b", 3, 1)], "b", id="lowest-priority-sum"),
        pytest.param([_cand("a", 3, 1, 1), _cand("b", 3, 2)], "b", id="fewest-victims"),
        pytest.param(
            [
                _cand("a", 3, start="2024-01-01T00:00:00Z"),
                _cand("b", 3, start="2024-06-01T00:00:00Z"),
            ],
            "b",
            id="latest-started-victims",
        ),
        pytest.param([_cand("a", 3), _cand("b", 3)], "a", id="first-on-a-tie"),
    ],
)
def test_select_candidate(candidates: list[Candidate], best: str) -> None:
    plugin = framework([]).plugins["DefaultPreemption"]
    chosen = plugin.select_candidate(candidates)
    assert chosen is not None and chosen.name == best


def test_more_important_pod() -> None:
    assert more_important_pod(pod("a", priority=2), pod("b", priority=1))
    early = pod("e", priority=1, start_time="2024-01-01T00:00:00Z")
    late = pod("l", priority=1, start_time="2024-02-01T00:00:00Z")
    assert more_important_pod(early, late) and not more_important_pod(late, early)


def test_not_eligible_with_a_terminating_victim_on_the_nominated_node() -> None:
    victim = pod("v", priority=0, node="n1")
    victim["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    victim["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}
    ]
    info = NodeInfo(node("n1"), [victim])
    plugin = framework([info]).plugins["DefaultPreemption"]
    ok, msg = plugin.pod_eligible_to_preempt_others(
        pod("p", priority=5, nominated="n1"), Status(Code.UNSCHEDULABLE)
    )
    assert (ok, msg) == (False, "not eligible due to a terminating pod on the nominated node.")
    ok, _ = plugin.pod_eligible_to_preempt_others(
        pod("p", priority=5, nominated="n1"), Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
    )
    assert ok


def test_offset_and_num_candidates() -> None:
    plugin = framework([]).plugins["DefaultPreemption"]
    assert plugin.offset_and_num_candidates(50)[1] == 50
    assert plugin.offset_and_num_candidates(5000)[1] == 500
    assert plugin.offset_and_num_candidates(500)[1] == 100

"""NodeResourcesFit (filter and the three scoring strategies) and BalancedAllocation."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.plugins.node_resources_balanced_allocation import BalancedAllocation
from pyk8s.scheduler.plugins.node_resources_fit import Fit
from tests.unit.scheduler.builders import container, node, node_info, pod


def test_protocols() -> None:
    _p: fw.PreFilterPlugin = Fit()
    _f: fw.FilterPlugin = Fit()
    _s: fw.ScorePlugin = Fit()
    _b: fw.ScorePlugin = BalancedAllocation()


def _filter(p: dict, info: Any, args: dict | None = None) -> Status | None:
    plugin = Fit(args)
    state = CycleState()
    plugin.pre_filter(state, p, [info])
    return plugin.filter(state, p, info)


U = Code.UNSCHEDULABLE
UU = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize(
    ("p", "existing", "expected"),
    [
        pytest.param(pod(), [], None, id="no-requests"),
        pytest.param(
            pod(cpu="1", memory="1Gi"), [pod("e", cpu="2", memory="2Gi")], None, id="fits"
        ),
        pytest.param(
            pod(cpu="3"), [pod("e", cpu="2")], Status(U, "Insufficient cpu"), id="insufficient-cpu"
        ),
        pytest.param(
            pod(cpu="3", memory="7Gi"),
            [pod("e", cpu="2", memory="2Gi")],
            Status(U, "Insufficient cpu", "Insufficient memory"),
            id="both-reasons-in-order",
        ),
        pytest.param(pod(cpu="5"), [], Status(UU, "Insufficient cpu"), id="more-than-the-node-has"),
        pytest.param(
            pod(containers=[container(cpu="1")], init_containers=[container("i", cpu="3")]),
            [pod("e", cpu="2")],
            Status(U, "Insufficient cpu"),
            id="init-container-peak",
        ),
        pytest.param(
            pod(cpu="1", overhead={"cpu": "2"}),
            [pod("e", cpu="2")],
            Status(U, "Insufficient cpu"),
            id="overhead-counts",
        ),
    ],
)
def test_filter(p: dict, existing: list[dict], expected: Status | None) -> None:
    info = node_info(node("n", cpu="4", memory="8Gi"), *existing)
    assert _filter(p, info) == expected


def test_too_many_pods() -> None:
    info = node_info(node("n", pods="1"), pod("e"))
    assert _filter(pod(), info) == Status(U, "Too many pods")


def test_extended_resources_and_ignored() -> None:
    p = pod(containers=[{"name": "c", "resources": {"requests": {"example.com/gpu": "2"}}}])
    info = node_info(node("n", extra={"example.com/gpu": "1"}))
    assert _filter(p, info) == Status(UU, "Insufficient example.com/gpu")
    assert _filter(p, info, {"ignoredResources": ["example.com/gpu"]}) is None
    assert _filter(p, info, {"ignoredResourceGroups": ["example.com"]}) is None


def _score(args: dict | None, p: dict, info: Any) -> int:
    plugin = Fit(args)
    state = CycleState()
    plugin.pre_score(state, p, [info])
    return plugin.score(state, p, info)[0]


NODE = node("n", cpu="4", memory="10000")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(None, 77, id="least-allocated-default"),
        pytest.param({"scoringStrategy": {"type": "MostAllocated"}}, 22, id="most-allocated"),
        pytest.param(
            {
                "scoringStrategy": {
                    "type": "RequestedToCapacityRatio",
                    "requestedToCapacityRatio": {
                        "shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]
                    },
                }
            },
            78,
            id="requested-to-capacity-ratio-rounds-half-up",
        ),
        pytest.param(
            {
                "scoringStrategy": {
                    "type": "LeastAllocated",
                    "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}],
                }
            },
            76,
            id="weighted-resources",
        ),
    ],
)
def test_scoring_strategies(args: dict | None, expected: int) -> None:
    # cpu 1000m of 4000m (25%), memory 2000 of 10000 (20%)
    assert _score(args, pod(cpu="1", memory="2000"), node_info(NODE)) == expected


def test_least_allocated_counts_best_effort_pods_as_minimum_requests() -> None:
    info = node_info(node("n", cpu="1", memory="1Gi"), pod("e"))
    # existing 100m + new 100m of 1000m → 80; memory 400Mi of 1Gi → 60
    assert _score(None, pod(), info) == 70


def test_bad_strategy() -> None:
    with pytest.raises(ValueError, match="not supported"):
        Fit({"scoringStrategy": {"type": "Nope"}})


def test_balanced_allocation() -> None:
    plugin = BalancedAllocation()
    info = node_info(node("n", cpu="4", memory="10000"), pod("e", cpu="1", memory="1000"))
    p = pod(cpu="1", memory="3000")
    state = CycleState()
    assert plugin.pre_score(state, p, [info]) is None
    # cpu 2000/4000 = 0.5, memory 4000/10000 = 0.4: std 0.05 → 95
    assert plugin.score(state, p, info) == (95, None)


def test_balanced_allocation_skips_best_effort_pods() -> None:
    s = BalancedAllocation().pre_score(CycleState(), pod(), [])
    assert s is not None and s.is_skip()

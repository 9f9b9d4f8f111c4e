"""TaintToleration: filter on NoSchedule/NoExecute, score PreferNoSchedule."""

from __future__ import annotations

import pytest

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, NodeScore, Status
from pyk8s.scheduler.plugins.taint_toleration import TaintToleration
from tests.unit.scheduler.builders import node, node_info, pod, taint


def test_protocols() -> None:
    _f: fw.FilterPlugin = TaintToleration()
    _s: fw.ScorePlugin = TaintToleration()


def _untolerated(key: str, value: str = "") -> Status:
    return Status(
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"node(s) had untolerated taint {{{key}: {value}}}"
    )


@pytest.mark.parametrize(
    ("tolerations", "taints", "expected"),
    [
        pytest.param(None, None, None, id="no-taints"),
        pytest.param(
            None,
            [taint("dedicated", "user1")],
            _untolerated("dedicated", "user1"),
            id="untolerated",
        ),
        pytest.param(
            None,
            [taint("node-role.kubernetes.io/control-plane")],
            _untolerated("node-role.kubernetes.io/control-plane"),
            id="control-plane-empty-value",
        ),
        pytest.param(
            [{"key": "dedicated", "operator": "Equal", "value": "user1", "effect": "NoSchedule"}],
            [taint("dedicated", "user1")],
            None,
            id="equal-matches",
        ),
        pytest.param(
            [{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}],
            [taint("dedicated", "user1")],
            _untolerated("dedicated", "user1"),
            id="equal-other-value",
        ),
        pytest.param(
            [{"key": "dedicated", "operator": "Exists"}],
            [taint("dedicated", "user1", "NoExecute")],
            None,
            id="exists-any-effect",
        ),
        pytest.param(
            [{"key": "foo", "operator": "Exists", "effect": "NoSchedule"}],
            [taint("foo", "bar", "NoExecute")],
            _untolerated("foo", "bar"),
            id="effect-must-match",
        ),
        pytest.param(
            None, [taint("soft", "x", "PreferNoSchedule")], None, id="prefer-is-not-filtered"
        ),
        pytest.param(
            [{"key": "a", "operator": "Exists"}],
            [taint("a"), taint("b", "2")],
            _untolerated("b", "2"),
            id="first-untolerated-reported",
        ),
    ],
)
def test_filter(tolerations: list | None, taints: list | None, expected: Status | None) -> None:
    n = node_info(node("n", taints=taints))
    assert TaintToleration().filter(CycleState(), pod(tolerations=tolerations), n) == expected


def test_score_prefers_fewer_intolerable_prefer_no_schedule_taints() -> None:
    plugin = TaintToleration()
    p = pod(tolerations=[{"key": "ok", "operator": "Exists", "effect": "PreferNoSchedule"}])
    infos = [
        node_info(node("n0", taints=[taint("ok", "", "PreferNoSchedule")])),
        node_info(node("n1", taints=[taint("a", "", "PreferNoSchedule")])),
        node_info(
            node(
                "n2",
                taints=[taint("a", "", "PreferNoSchedule"), taint("b", "", "PreferNoSchedule")],
            )
        ),
    ]
    state = CycleState()
    assert plugin.pre_score(state, p, infos) is None
    scores = [NodeScore(i.name, plugin.score(state, p, i)[0]) for i in infos]
    assert [s.score for s in scores] == [0, 1, 2]
    plugin.normalize_score(state, p, scores)
    assert [s.score for s in scores] == [100, 50, 0]


@pytest.mark.parametrize("reverse", [True, False])
@pytest.mark.parametrize(
    "raw", [[0, 0, 0], [1, 0, 3], [7, 7], [2, -3, 5], [-1, -4], [], [100, 1, 50]]
)
def test_normalize_over_ints_matches_node_scores(raw: list[int], reverse: bool) -> None:
    from pyk8s.scheduler.plugins import helper

    scores = [NodeScore(f"n{i}", v) for i, v in enumerate(raw)]
    helper.default_normalize_score(100, reverse, scores)
    assert helper.default_normalize_scores(100, reverse, list(raw)) == [s.score for s in scores]

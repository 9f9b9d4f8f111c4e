"""NodeAffinity: nodeSelector, required terms (all operators, matchFields), preferred terms."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, NodeScore, Status
from pyk8s.scheduler.plugins.node_affinity import NodeAffinity
from tests.unit.scheduler.builders import node, node_info, pod

REJECT = Status(
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) didn't match Pod's node affinity/selector"
)


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return e


def test_protocols() -> None:
    _p: fw.PreFilterPlugin = NodeAffinity()
    _f: fw.FilterPlugin = NodeAffinity()
    _s: fw.ScorePlugin = NodeAffinity()


LABELS = {"foo": "bar", "gpu": "4", "zone": "a"}


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        pytest.param(pod(), None, id="no-constraints"),
        pytest.param(pod(node_selector={"foo": "bar"}), None, id="selector-matches"),
        pytest.param(pod(node_selector={"foo": "baz"}), REJECT, id="selector-other-value"),
        pytest.param(pod(node_selector={"missing": "x"}), REJECT, id="selector-missing-label"),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("foo", "In", "bar", "baz")]})),
            None,
            id="in",
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("foo", "NotIn", "bar")]})),
            REJECT,
            id="notin",
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("nope", "NotIn", "bar")]})),
            None,
            id="notin-missing-label",
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("foo", "Exists")]})), None, id="exists"
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("foo", "DoesNotExist")]})),
            REJECT,
            id="does-not-exist",
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("gpu", "Gt", "3")]})), None, id="gt"
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("gpu", "Lt", "4")]})), REJECT, id="lt"
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("foo", "Gt", "3")]})),
            REJECT,
            id="gt-not-a-number",
        ),
        pytest.param(pod(affinity=required({})), REJECT, id="empty-term-matches-nothing"),
        pytest.param(
            pod(
                affinity=required(
                    {"matchExpressions": [expr("foo", "In", "x")]},
                    {"matchExpressions": [expr("zone", "In", "a")]},
                )
            ),
            None,
            id="terms-are-ored",
        ),
        pytest.param(
            pod(
                affinity=required(
                    {"matchExpressions": [expr("foo", "In", "bar"), expr("zone", "In", "b")]}
                )
            ),
            REJECT,
            id="expressions-are-anded",
        ),
        pytest.param(
            pod(
                node_selector={"foo": "bar"},
                affinity=required({"matchExpressions": [expr("zone", "In", "b")]}),
            ),
            REJECT,
            id="selector-and-affinity-both-apply",
        ),
        pytest.param(
            pod(affinity=required({"matchFields": [expr("metadata.name", "In", "n1")]})),
            None,
            id="match-fields",
        ),
        pytest.param(
            pod(affinity=required({"matchFields": [expr("metadata.name", "NotIn", "n1")]})),
            REJECT,
            id="match-fields-notin",
        ),
        pytest.param(
            pod(affinity=required({"matchExpressions": [expr("foo", "Bogus", "bar")]})),
            REJECT,
            id="unknown-operator",
        ),
    ],
)
def test_filter(p: dict, expected: Status | None) -> None:
    plugin = NodeAffinity()
    state = CycleState()
    info = node_info(node("n1", labels=LABELS))
    plugin.pre_filter(state, p, [info])
    assert plugin.filter(state, p, info) == expected


@pytest.mark.parametrize(
    ("p", "result", "code"),
    [
        pytest.param(pod(), None, Code.SKIP, id="nothing-to-do"),
        pytest.param(pod(node_selector={"a": "b"}), None, None, id="selector-only"),
        pytest.param(
            pod(affinity=required({"matchFields": [expr("metadata.name", "In", "n1", "n2")]})),
            {"n1", "n2"},
            None,
            id="names-from-match-fields",
        ),
        pytest.param(
            pod(
                affinity=required(
                    {"matchFields": [expr("metadata.name", "In", "n1")]},
                    {"matchFields": [expr("metadata.name", "In", "n2")]},
                )
            ),
            {"n1", "n2"},
            None,
            id="union-over-terms",
        ),
        pytest.param(
            pod(
                affinity=required(
                    {"matchFields": [expr("metadata.name", "In", "n1")]},
                    {"matchExpressions": [expr("zone", "In", "a")]},
                )
            ),
            None,
            None,
            id="a-term-without-names-allows-all",
        ),
        pytest.param(
            pod(
                affinity=required(
                    {
                        "matchFields": [
                            expr("metadata.name", "In", "n1"),
                            expr("metadata.name", "In", "n2"),
                        ]
                    }
                )
            ),
            None,
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            id="conflicting-names",
        ),
    ],
)
def test_pre_filter(p: dict, result: set[str] | None, code: Code | None) -> None:
    r, s = NodeAffinity().pre_filter(CycleState(), p, [])
    assert (s.code if s else None) == code
    if code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
        assert s is not None and s.reasons == ["pod affinity terms conflict"]
    assert (r.node_names if r else None) == result


def test_added_affinity_is_enforced() -> None:
    plugin = NodeAffinity(
        {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expr("zone", "In", "b")]}]
            }
        }
    )
    state = CycleState()
    info = node_info(node("n1", labels=LABELS))
    plugin.pre_filter(state, pod(), [info])
    assert plugin.filter(state, pod(), info) == Status(
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) didn't match scheduler-enforced node affinity"
    )


def test_score_sums_matching_weights_and_normalizes() -> None:
    p = pod(
        affinity={
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 2, "preference": {"matchExpressions": [expr("foo", "In", "bar")]}},
                    {"weight": 5, "preference": {"matchExpressions": [expr("zone", "In", "a")]}},
                    {"weight": 9, "preference": {}},
                ]
            }
        }
    )
    infos = [
        node_info(node("n1", labels={"foo": "bar"})),
        node_info(node("n2", labels={"foo": "bar", "zone": "a"})),
        node_info(node("n3")),
    ]
    plugin = NodeAffinity()
    state = CycleState()
    assert plugin.pre_score(state, p, infos) is None
    scores = [NodeScore(i.name, plugin.score(state, p, i)[0]) for i in infos]
    assert [s.score for s in scores] == [2, 7, 0]
    plugin.normalize_score(state, p, scores)
    assert [s.score for s in scores] == [28, 100, 0]


def test_score_skips_pods_without_preferences() -> None:
    s = NodeAffinity().pre_score(CycleState(), pod(), [])
    assert s is not None and s.is_skip()

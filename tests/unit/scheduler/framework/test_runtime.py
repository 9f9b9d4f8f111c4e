"""The framework runtime: multiPoint expansion, weights, ordering and run_* rules."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pyk8s.scheduler.fake import FakeSeams
from pyk8s.scheduler.framework.interface import Code, CycleState, PreFilterResult, Status
from pyk8s.scheduler.framework.runtime import Framework, FrameworkError, PluginSet
from pyk8s.scheduler.framework.types import NodeInfo
from pyk8s.scheduler.plugins.registry import IN_TREE, RegistryError, register
from tests.unit.scheduler.builders import node, node_info, pod


def names(f: Framework, point: str) -> list[str]:
    return [p.name for p in f.points[point]]


def fwk(plugins: dict, args: dict | None = None, registry=None) -> Framework:
    return Framework("p", plugins, args or {}, registry or IN_TREE, FakeSeams().seams())


def test_multipoint_expands_to_each_implemented_point() -> None:
    f = fwk(
        {
            "multiPoint": PluginSet(
                [("NodeAffinity", 2), ("NodePorts", 0), ("ImageLocality", 0), ("DefaultBinder", 0)]
            )
        }
    )
    assert names(f, "preFilter") == ["NodeAffinity", "NodePorts"]
    assert names(f, "filter") == ["NodeAffinity", "NodePorts"]
    assert names(f, "score") == ["NodeAffinity", "ImageLocality"]
    assert f.weights == {"NodeAffinity": 2, "ImageLocality": 1}


def test_specific_point_overrides_come_first_and_disabled_drops() -> None:
    f = fwk(
        {
            "multiPoint": PluginSet(
                [
                    ("NodeAffinity", 2),
                    ("TaintToleration", 3),
                    ("ImageLocality", 1),
                    ("DefaultBinder", 0),
                ]
            ),
            "score": PluginSet([("ImageLocality", 7)], disabled=["NodeAffinity"]),
            "filter": PluginSet(disabled=["*"]),
        }
    )
    assert names(f, "score") == ["ImageLocality", "TaintToleration"]
    assert f.weights["ImageLocality"] == 7
    assert names(f, "filter") == []
    assert names(f, "preFilter") == ["NodeAffinity"]


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        pytest.param({"filter": [("Nope", 0)]}, 'plugin "Nope" does not exist', id="unknown"),
        pytest.param(
            {"filter": [("ImageLocality", 0)]}, "does not extend filter plugin", id="wrong-point"
        ),
        pytest.param(
            {"filter": [("NodeName", 0), ("NodeName", 0)]}, "already registered", id="twice"
        ),
        pytest.param({"score": [("ImageLocality", -1)]}, "negative weight", id="negative-weight"),
        pytest.param({"bogus": []}, "unknown extension point", id="bad-point"),
        pytest.param(
            {"multiPoint": PluginSet([("NodeName", 0)])}, "at least one bind plugin", id="no-binder"
        ),
    ],
)
def test_bad_profiles(plugins: dict, message: str) -> None:
    with pytest.raises(FrameworkError, match=message):
        fwk(plugins)


def test_bad_plugin_args_name_the_plugin() -> None:
    with pytest.raises(FrameworkError, match='initializing plugin "NodeResourcesFit"'):
        fwk(
            {"filter": [("NodeResourcesFit", 0)]},
            {"NodeResourcesFit": {"scoringStrategy": {"type": "X"}}},
        )


def test_registry_refuses_duplicates_and_missing_factories() -> None:
    r: dict = {}
    register(r, "A", lambda args, handle: object())
    with pytest.raises(RegistryError, match="already exists"):
        register(r, "A", lambda args, handle: object())
    with pytest.raises(RegistryError, match="no factory"):
        register(r, "B", None)
    assert "NodeResourcesFit" in IN_TREE and len(IN_TREE) == 15


class _Names:
    name = "Names"

    def __init__(self, names: set[str] | None, status: Status | None = None) -> None:
        self.names = names
        self.status = status

    def pre_filter(self, state: CycleState, pod: dict, nodes: Sequence[NodeInfo]):
        return (PreFilterResult(self.names) if self.names is not None else None), self.status

    def pre_filter_extensions(self) -> None:
        return None


def test_pre_filter_results_are_intersected() -> None:
    reg = {
        "A": lambda a, h: type("A", (_Names,), {"name": "A"})({"n1", "n2"}),
        "B": lambda a, h: type("B", (_Names,), {"name": "B"})({"n2", "n3"}),
        "C": lambda a, h: type("C", (_Names,), {"name": "C"})({"n1"}),
    }
    f = fwk({"preFilter": [("A", 0), ("B", 0)]}, registry=reg)
    r, s, with_nodes = f.run_pre_filter_plugins(CycleState(), pod(), [])
    assert s is None and r is not None and r.node_names == {"n2"} and with_nodes == ["A", "B"]
    f = fwk({"preFilter": [("A", 0), ("B", 0), ("C", 0)]}, registry=reg)
    _, s, _ = f.run_pre_filter_plugins(CycleState(), pod(), [])
    assert s == Status(
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        "node(s) didn't satisfy plugin(s) [A B C] simultaneously",
    )


def test_filter_stops_at_first_rejection_and_skips_prefilter_skipped() -> None:
    f = fwk({"multiPoint": PluginSet([("NodePorts", 0), ("NodeName", 0), ("DefaultBinder", 0)])})
    state = CycleState()
    p = pod(node="other")
    info = node_info(node("n1"))
    _, s, _ = f.run_pre_filter_plugins(state, p, [info])
    assert s is None and state.skip_filter_plugins == {"NodePorts"}
    s = f.run_filter_plugins(state, p, info)
    assert s is not None and s.plugin == "NodeName"


def test_scores_are_weighted_and_checked() -> None:
    f = fwk({"multiPoint": PluginSet([("TaintToleration", 3), ("DefaultBinder", 0)])})
    infos = [node_info(node("a")), node_info(node("b"))]
    state = CycleState()
    f.run_pre_score_plugins(state, pod(), infos)
    scores, s = f.run_score_plugins(state, pod(), infos)
    assert s is None
    assert [(x.name, x.total_score) for x in scores] == [("a", 300), ("b", 300)]


async def test_permit_wait_allow_and_timeout() -> None:
    class Waits:
        name = "Waits"

        def permit(self, state, pod, node_name):
            return Status(Code.WAIT), 0.05

    f = fwk({"permit": [("Waits", 0)]}, registry={"Waits": lambda a, h: Waits()})
    p = pod("p", uid="u1")
    s = f.run_permit_plugins(CycleState(), p, "n1")
    assert s is not None and s.is_wait()
    waiting = f.get_waiting_pod("u1")
    assert waiting is not None
    waiting.allow("Waits")
    assert await f.wait_on_permit(p) is None
    f.run_permit_plugins(CycleState(), p, "n1")
    s = await f.wait_on_permit(p)
    assert s is not None and s.code == Code.UNSCHEDULABLE and "timeout" in s.message()

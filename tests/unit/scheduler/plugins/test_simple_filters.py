"""NodeName, NodeUnschedulable, NodePorts, SchedulingGates and PrioritySort."""

from __future__ import annotations

import pytest

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, CycleState, Status
from pyk8s.scheduler.framework.types import PodInfo, QueuedPodInfo
from pyk8s.scheduler.plugins import (
    node_name,
    node_ports,
    node_unschedulable,
    queue_sort,
    scheduling_gates,
)
from tests.unit.scheduler.builders import node, node_info, pod

UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_protocols() -> None:
    _: fw.FilterPlugin = node_name.NodeName()
    _u: fw.FilterPlugin = node_unschedulable.NodeUnschedulable()
    _p: fw.PreFilterPlugin = node_ports.NodePorts()
    _f: fw.FilterPlugin = node_ports.NodePorts()
    _g: fw.PreEnqueuePlugin = scheduling_gates.SchedulingGates()
    _q: fw.QueueSortPlugin = queue_sort.PrioritySort()


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        pytest.param(pod(), None, id="no-node-name"),
        pytest.param(pod(node="foo"), None, id="same-name"),
        pytest.param(
            pod(node="bar"),
            Status(UNRESOLVABLE, "node(s) didn't match the requested node name"),
            id="other-name",
        ),
    ],
)
def test_node_name(p: dict, expected: Status | None) -> None:
    assert node_name.NodeName().filter(CycleState(), p, node_info(node("foo"))) == expected


REASON_UNSCHEDULABLE = Status(UNRESOLVABLE, "node(s) were unschedulable")


@pytest.mark.parametrize(
    ("p", "unschedulable", "expected"),
    [
        pytest.param(pod(), False, None, id="schedulable-node"),
        pytest.param(pod(), True, REASON_UNSCHEDULABLE, id="cordoned-node"),
        pytest.param(
            pod(
                tolerations=[
                    {
                        "key": "node.kubernetes.io/unschedulable",
                        "operator": "Exists",
                        "effect": "NoSchedule",
                    }
                ]
            ),
            True,
            None,
            id="tolerates-the-unschedulable-taint",
        ),
        pytest.param(
            pod(tolerations=[{"operator": "Exists"}]), True, None, id="tolerates-everything"
        ),
        pytest.param(
            pod(
                tolerations=[
                    {
                        "key": "node.kubernetes.io/unschedulable",
                        "operator": "Exists",
                        "effect": "NoExecute",
                    }
                ]
            ),
            True,
            REASON_UNSCHEDULABLE,
            id="wrong-effect",
        ),
    ],
)
def test_node_unschedulable(p: dict, unschedulable: bool, expected: Status | None) -> None:
    n = node_info(node("n", unschedulable=unschedulable))
    assert node_unschedulable.NodeUnschedulable().filter(CycleState(), p, n) == expected


PORTS_REASON = Status(
    Code.UNSCHEDULABLE, "node(s) didn't have free ports for the requested pod ports"
)


def _ported(ip: str, port: int, proto: str = "TCP") -> dict:
    p = pod()
    p["spec"]["containers"][0]["ports"] = [
        {"containerPort": port, "hostPort": port, "hostIP": ip, "protocol": proto}
    ]
    return p


@pytest.mark.parametrize(
    ("p", "existing", "expected"),
    [
        pytest.param(_ported("", 8080), [], None, id="nothing-used"),
        pytest.param(_ported("", 8080), [_ported("", 8080)], PORTS_REASON, id="same-port"),
        pytest.param(_ported("", 8080, "UDP"), [_ported("", 8080)], None, id="other-protocol"),
        pytest.param(_ported("127.0.0.1", 8080), [_ported("127.0.0.2", 8080)], None, id="other-ip"),
        pytest.param(
            _ported("127.0.0.1", 8080), [_ported("0.0.0.0", 8080)], PORTS_REASON, id="all-ips-used"
        ),
        pytest.param(
            _ported("0.0.0.0", 8080), [_ported("127.0.0.1", 8080)], PORTS_REASON, id="wants-all-ips"
        ),
    ],
)
def test_node_ports(p: dict, existing: list[dict], expected: Status | None) -> None:
    plugin = node_ports.NodePorts()
    state = CycleState()
    others = [
        dict(e, metadata={**e["metadata"], "name": f"e{i}", "uid": f"e{i}"})
        for i, e in enumerate(existing)
    ]
    info = node_info(node("n"), *others)
    _, s = plugin.pre_filter(state, p, [info])
    assert s is None
    assert plugin.filter(state, p, info) == expected


def test_node_ports_skips_pods_without_host_ports() -> None:
    _, s = node_ports.NodePorts().pre_filter(CycleState(), pod(), [])
    assert s is not None and s.is_skip()


@pytest.mark.parametrize(
    ("gates", "expected"),
    [
        pytest.param(None, None, id="no-gates"),
        pytest.param(["a"], Status(UNRESOLVABLE, "waiting for scheduling gates: [a]"), id="one"),
        pytest.param(
            ["a", "b"], Status(UNRESOLVABLE, "waiting for scheduling gates: [a b]"), id="two"
        ),
    ],
)
def test_scheduling_gates(gates: list[str] | None, expected: Status | None) -> None:
    assert scheduling_gates.SchedulingGates().pre_enqueue(pod(gates=gates)) == expected


def test_scheduling_gates_hint_queues_only_when_gates_are_gone() -> None:
    [hinted] = scheduling_gates.SchedulingGates().events_to_register()
    gated = pod("p", gates=["a"], uid="u1")
    open_ = pod("p", uid="u1")
    assert hinted.hint is not None
    assert hinted.hint(gated, gated, open_) == fw.QueueingHint.QUEUE
    assert hinted.hint(gated, gated, gated) == fw.QueueingHint.SKIP
    assert hinted.hint(gated, pod("other"), pod("other")) == fw.QueueingHint.SKIP


@pytest.mark.parametrize(
    ("a", "b", "less"),
    [
        pytest.param((10, 5.0), (1, 1.0), True, id="higher-priority-first"),
        pytest.param((1, 1.0), (10, 5.0), False, id="lower-priority-later"),
        pytest.param((5, 1.0), (5, 2.0), True, id="same-priority-earlier-first"),
        pytest.param((5, 2.0), (5, 1.0), False, id="same-priority-later-second"),
    ],
)
def test_priority_sort(a: tuple[int, float], b: tuple[int, float], less: bool) -> None:
    qa = QueuedPodInfo(PodInfo(pod("a", priority=a[0])), timestamp=a[1])
    qb = QueuedPodInfo(PodInfo(pod("b", priority=b[0])), timestamp=b[1])
    assert queue_sort.PrioritySort().less(qa, qb) is less

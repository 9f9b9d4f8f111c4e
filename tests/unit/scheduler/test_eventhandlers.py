"""Informer events mapped to the cache, the queue and the specific cluster events."""

from __future__ import annotations

import pytest

from pyk8s.scheduler import eventhandlers
from pyk8s.scheduler.framework.interface import ActionType
from pyk8s.scheduler.framework.types import pod_key
from tests.unit.scheduler.builders import node, pod, taint
from tests.unit.scheduler.harness import Harness

A = ActionType


def _with(n: dict, **changes: object) -> dict:
    out = {
        **n,
        "metadata": dict(n["metadata"]),
        "spec": dict(n["spec"]),
        "status": dict(n["status"]),
    }
    for path, value in changes.items():
        section, key = path.split("__")
        out[section][key] = value
    return out


BASE = node("n1")


@pytest.mark.parametrize(
    ("new", "action"),
    [
        pytest.param(
            _with(BASE, status__allocatable={"cpu": "8"}),
            A.UPDATE_NODE_ALLOCATABLE,
            id="allocatable",
        ),
        pytest.param(_with(BASE, metadata__labels={"a": "b"}), A.UPDATE_NODE_LABEL, id="labels"),
        pytest.param(_with(BASE, spec__taints=[taint("x")]), A.UPDATE_NODE_TAINT, id="taints"),
        pytest.param(_with(BASE, spec__unschedulable=True), A.UPDATE_NODE_TAINT, id="cordon"),
        pytest.param(
            _with(BASE, status__conditions=[{"type": "Ready", "status": "True"}]),
            A.UPDATE_NODE_CONDITION,
            id="conditions",
        ),
        pytest.param(
            _with(BASE, metadata__annotations={"x": "y"}),
            A.UPDATE_NODE_ANNOTATION,
            id="annotations",
        ),
        pytest.param(_with(BASE, metadata__resourceVersion="7"), A(0), id="nothing-that-matters"),
    ],
)
def test_node_update_action(new: dict, action: A) -> None:
    assert eventhandlers.node_update_action(BASE, new) == action


async def test_uncordoning_a_node_requeues_pods_it_rejected() -> None:
    cordoned = node("n1", unschedulable=True)
    h = Harness([cordoned], [pod("p")])
    await h.schedule()
    p = h.objects[("default", "p")]
    assert h.scheduler.queue.where(p) == "unschedulable"
    eventhandlers.on_node_update(
        h.scheduler, cordoned, node("n1", labels={"x": "y"}, unschedulable=True)
    )
    assert h.scheduler.queue.where(p) == "unschedulable"
    eventhandlers.on_node_update(h.scheduler, cordoned, node("n1"))
    assert h.scheduler.queue.where(p) in ("active", "backoff")


async def test_deleting_an_assigned_pod_frees_room_and_requeues() -> None:
    blocker = pod("blocker", cpu="4", node="n1")
    h = Harness([node("n1", cpu="4")], [blocker, pod("p", cpu="1")])
    await h.schedule()
    p = h.objects[("default", "p")]
    assert h.scheduler.queue.where(p) == "unschedulable"
    eventhandlers.on_pod_delete(h.scheduler, blocker)
    assert h.scheduler.cache.pod_count() == 0
    assert h.scheduler.queue.where(p) in ("active", "backoff")


async def test_bound_pod_update_moves_it_from_queue_to_cache() -> None:
    h = Harness([node("n1")], [pod("p")])
    p = h.objects[("default", "p")]
    bound = {**p, "spec": {**p["spec"], "nodeName": "n1"}}
    eventhandlers.on_pod_update(h.scheduler, p, bound)
    assert h.scheduler.queue.where(p) is None
    assert h.scheduler.cache.pod_count() == 1


async def test_deleting_a_pending_pod_removes_it_from_the_queue() -> None:
    h = Harness([node("n1")], [pod("p")])
    p = h.objects[("default", "p")]
    eventhandlers.on_pod_delete(h.scheduler, p)
    assert h.scheduler.queue.where(p) is None and len(h.scheduler.queue) == 0


async def test_deleting_a_node_requeues_pods_a_spread_constraint_rejected() -> None:
    """A zone that goes away no longer holds the global minimum down."""
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    za, zb = node("a", labels={"zone": "a"}), node("b", labels={"zone": "b"}, cpu="1")
    placed = pod("placed", node="a", labels={"app": "web"}, cpu="1")
    h = Harness([za, zb], [placed, pod("p", labels={"app": "web"}, cpu="2", spread=spread)])
    await h.schedule()
    p = h.objects[("default", "p")]
    assert h.scheduler.queue.where(p) == "unschedulable"
    eventhandlers.on_node_delete(h.scheduler, zb)
    assert h.scheduler.queue.where(p) in ("active", "backoff")


async def test_a_nomination_going_away_requeues_pods_of_lower_or_equal_priority() -> None:
    """Upstream treats a nominated pod's deletion, or its nomination changing, as an
    assigned pod's deletion for the pods it kept out."""
    blocker = pod("blocker", cpu="1", node="n1", priority=100)
    low, high = pod("low", cpu="1", priority=5), pod("high", cpu="1", priority=50)
    h = Harness([node("n1", cpu="1")], [blocker, low, high])
    await h.schedule(2)
    assert {h.scheduler.queue.where(q) for q in (low, high)} == {"unschedulable"}
    mid = pod("mid", cpu="1", priority=20, nominated="n1")
    eventhandlers.on_pod_delete(h.scheduler, mid)
    assert h.scheduler.queue.where(low) in ("active", "backoff")
    assert h.scheduler.queue.where(high) == "unschedulable"


async def test_a_cleared_nomination_requeues_lower_priority_pods() -> None:
    h = Harness([node("n1", cpu="1")], [pod("blocker", cpu="1", node="n1", priority=100)])
    low = pod("low", cpu="1", priority=5)
    h.add_pod(low)
    await h.schedule()
    assert h.scheduler.queue.where(low) == "unschedulable"
    mid = pod("mid", cpu="1", priority=20, nominated="n1")
    cleared = {**mid, "status": {}}
    eventhandlers.on_pod_update(h.scheduler, mid, cleared)
    assert h.scheduler.queue.where(low) in ("active", "backoff")


async def test_an_update_of_a_pod_being_bound_does_not_queue_it_again() -> None:
    h = Harness([node("n1")], [pod("p")])
    p = h.objects[("default", "p")]
    binding = await h.scheduler.schedule_one()
    assert binding is not None
    assert h.scheduler.cache.is_assumed_pod(p)
    h.scheduler.queue.done(pod_key(p))
    labelled = {**p, "metadata": {**p["metadata"], "labels": {"x": "y"}}}
    eventhandlers.on_pod_update(h.scheduler, p, labelled)
    assert h.scheduler.queue.where(p) is None
    await binding

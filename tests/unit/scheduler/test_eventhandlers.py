"""Informer events mapped to the cache, the queue and the specific cluster events."""

from __future__ import annotations

import pytest

from pyk8s.scheduler import eventhandlers
from pyk8s.scheduler.framework.interface import ActionType
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

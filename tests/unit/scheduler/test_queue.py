"""The scheduling queue with a fake clock: order, backoff, unschedulable pods and hints."""

from __future__ import annotations

import pytest

from pyk8s.scheduler.framework import interface as fw
from pyk8s.scheduler.framework.interface import Code, Status
from pyk8s.scheduler.plugins.queue_sort import PrioritySort
from pyk8s.scheduler.queue import SchedulingQueue
from tests.unit.scheduler.builders import pod
from tests.unit.scheduler.conftest import FakeClock

NODE_ADD = fw.ClusterEvent(fw.EventResource.NODE, fw.ActionType.ADD)
NODE_LABEL = fw.ClusterEvent(fw.EventResource.NODE, fw.ActionType.UPDATE_NODE_LABEL)
POD_DELETE = fw.ClusterEvent(fw.EventResource.ASSIGNED_POD, fw.ActionType.DELETE)


def make_queue(clock: FakeClock, **kw) -> SchedulingQueue:
    return SchedulingQueue(PrioritySort().less, clock=clock, **kw)


def names(q: SchedulingQueue) -> list[str]:
    out = []
    while (qpi := q.pop_nowait()) is not None:
        out.append(qpi.pod["metadata"]["name"])
    return out


def test_pop_order_priority_then_age(clock: FakeClock) -> None:
    q = make_queue(clock)
    for name, prio in [("a", 0), ("b", 10), ("c", 0), ("d", 10)]:
        q.add(pod(name, priority=prio))
        clock.step(1)
    assert names(q) == ["b", "d", "a", "c"]


async def test_pop_waits_for_a_pod(clock: FakeClock) -> None:
    import asyncio

    q = make_queue(clock)
    waiter = asyncio.ensure_future(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(pod("late"))
    qpi = await asyncio.wait_for(waiter, 1)
    assert qpi is not None and qpi.pod["metadata"]["name"] == "late"
    assert qpi.attempts == 1 and q.scheduling_cycle == 1
    q.close()
    assert await q.pop() is None


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [
        pytest.param(1, 1.0, id="first"),
        pytest.param(2, 2.0, id="second"),
        pytest.param(3, 4.0, id="third"),
        pytest.param(4, 8.0, id="fourth"),
        pytest.param(5, 10.0, id="capped"),
        pytest.param(9, 10.0, id="still-capped"),
    ],
)
def test_backoff_doubles_to_the_cap(clock: FakeClock, attempts: int, seconds: float) -> None:
    q = make_queue(clock)
    q.add(pod("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    qpi.attempts = attempts
    assert q.backoff_duration(qpi) == seconds


def _fail(q: SchedulingQueue, plugins: set[str]) -> None:
    qpi = q.pop_nowait()
    assert qpi is not None
    qpi.unschedulable_plugins = set(plugins)
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)


def test_error_goes_to_backoff_then_active(clock: FakeClock) -> None:
    q = make_queue(clock)
    p = pod("p")
    q.add(p)
    _fail(q, set())
    assert q.where(p) == "backoff"
    clock.step(0.5)
    assert q.flush_backoff_completed() == 0
    clock.step(0.6)
    assert q.flush_backoff_completed() == 1
    assert q.where(p) == "active"


def _events(plugin: str, event: fw.ClusterEvent, hint=None):
    return lambda _pod: {plugin: [fw.ClusterEventWithHint(event, hint)]}


def test_unschedulable_pod_moves_only_on_registered_events(clock: FakeClock) -> None:
    q = make_queue(clock, events_for=_events("NodeAffinity", NODE_ADD))
    p = pod("p")
    q.add(p)
    _fail(q, {"NodeAffinity"})
    assert q.where(p) == "unschedulable"
    assert q.move_all_to_active_or_backoff(POD_DELETE) == 0
    assert q.where(p) == "unschedulable"
    clock.step(5)  # backoff (1s) is over
    assert q.move_all_to_active_or_backoff(NODE_ADD) == 1
    assert q.where(p) == "active"


def test_moved_pod_still_backing_off_goes_to_backoff(clock: FakeClock) -> None:
    q = make_queue(clock, events_for=_events("NodeAffinity", NODE_ADD))
    p = pod("p")
    q.add(p)
    _fail(q, {"NodeAffinity"})
    q.move_all_to_active_or_backoff(NODE_ADD)
    assert q.where(p) == "backoff"


def test_queueing_hint_can_skip(clock: FakeClock) -> None:
    def hint(_p, _old, new):
        return fw.QueueingHint.QUEUE if new and new.get("ok") else fw.QueueingHint.SKIP

    q = make_queue(clock, events_for=_events("NodeResourcesFit", NODE_ADD, hint))
    p = pod("p")
    q.add(p)
    _fail(q, {"NodeResourcesFit"})
    clock.step(5)
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, {"ok": False}) == 0
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, {"ok": True}) == 1


def test_specific_update_matches_a_general_registration(clock: FakeClock) -> None:
    general = fw.ClusterEvent(fw.EventResource.NODE, fw.ActionType.ADD | fw.ActionType.UPDATE)
    q = make_queue(clock, events_for=_events("X", general))
    p = pod("p")
    q.add(p)
    _fail(q, {"X"})
    assert q.move_all_to_active_or_backoff(NODE_LABEL) == 1


def test_event_during_scheduling_sends_the_pod_to_backoff(clock: FakeClock) -> None:
    q = make_queue(clock)
    p = pod("p")
    q.add(p)
    qpi = q.pop_nowait()
    assert qpi is not None
    q.move_all_to_active_or_backoff(NODE_ADD)  # while p is in flight
    qpi.unschedulable_plugins = {"NodeAffinity"}
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
    assert q.where(p) == "backoff"


def test_left_over_unschedulable_pods_are_retried_after_five_minutes(clock: FakeClock) -> None:
    q = make_queue(clock)
    p = pod("p")
    q.add(p)
    _fail(q, {"NodeAffinity"})
    clock.step(299)
    assert q.flush_unschedulable_left_over() == 0
    clock.step(2)
    assert q.flush_unschedulable_left_over() == 1
    assert q.where(p) == "active"


def test_gated_pods_wait_until_an_update_lets_them_in(clock: FakeClock) -> None:
    def pre_enqueue(p):
        if p["spec"].get("schedulingGates"):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "gated").with_plugin(
                "SchedulingGates"
            )
        return None

    q = make_queue(clock, pre_enqueue=pre_enqueue)
    gated = pod("g", gates=["x"], uid="u")
    q.add(gated)
    assert q.where(gated) == "gated"
    assert (
        q.move_all_to_active_or_backoff(
            fw.ClusterEvent(fw.EventResource.WILDCARD, fw.ActionType.ALL)
        )
        == 0
    )
    still = {**gated, "metadata": {**gated["metadata"], "labels": {"a": "b"}}}
    q.update(gated, still)
    assert q.where(still) == "gated"
    free = {**still, "spec": {"containers": still["spec"]["containers"]}}
    q.update(still, free)
    assert q.where(free) == "active"


def test_update_of_unschedulable_pod_spec_requeues(clock: FakeClock) -> None:
    q = make_queue(clock)
    p = pod("p", uid="u")
    q.add(p)
    _fail(q, {"NodeAffinity"})
    same = {**p, "metadata": {**p["metadata"], "resourceVersion": "9"}}
    q.update(p, same)
    assert q.where(p) == "unschedulable"
    clock.step(5)
    changed = {**p, "spec": {**p["spec"], "nodeSelector": {}}}
    q.update(same, changed)
    assert q.where(p) == "active"


def test_delete_and_nominated_pods(clock: FakeClock) -> None:
    q = make_queue(clock)
    p = pod("p", nominated="n1")
    q.add(p)
    assert q.nominated_pods_for_node("n1") == [p]
    q.delete(p)
    assert q.where(p) is None and q.nominated_pods_for_node("n1") == []
    q.add_nominated_pod(p, "n2")
    assert q.nominated_pods_for_node("n2") == [p]
    q.add_nominated_pod(p, None)
    assert q.nominated_pods_for_node("n2") == [p]
    q.add_nominated_pod(p, "")
    assert q.nominated_pods_for_node("n2") == []


def test_an_idle_queue_takes_a_rejected_pod_from_backoff(clock: FakeClock) -> None:
    """SchedulerPopFromBackoffQ: with nothing active, the pod a plugin rejected whose
    backoff ends first is popped at once; an active pod still goes first."""
    q = make_queue(clock, events_for=_events("NodeAffinity", NODE_ADD))
    first, second = pod("first"), pod("second")
    for p in (first, second):
        q.add(p)
        clock.step(1)
    _fail(q, {"NodeAffinity"})
    clock.step(0.5)
    _fail(q, {"NodeAffinity"})
    q.move_all_to_active_or_backoff(NODE_ADD)
    assert q.where(first) == q.where(second) == "backoff"
    q.add(pod("fresh"))
    assert names(q) == ["fresh", "first", "second"]
    assert q.where(first) == "in-flight" and len(q) == 0
    # popped early: the flush later finds nothing to move
    clock.step(30)
    assert q.flush_backoff_completed() == 0


def test_a_pod_that_met_an_error_waits_out_its_backoff(clock: FakeClock) -> None:
    q = make_queue(clock)
    p = pod("p")
    q.add(p)
    _fail(q, set())
    assert q.where(p) == "backoff"
    assert q.pop_nowait() is None
    clock.step(1.1)
    q.flush_backoff_completed()
    assert names(q) == ["p"]


async def test_a_waiting_pop_wakes_for_a_pod_moved_to_backoff(clock: FakeClock) -> None:
    import asyncio

    q = make_queue(clock, events_for=_events("NodeAffinity", NODE_ADD))
    p = pod("p")
    q.add(p)
    _fail(q, {"NodeAffinity"})
    waiter = asyncio.ensure_future(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.move_all_to_active_or_backoff(NODE_ADD)
    qpi = await asyncio.wait_for(waiter, 1)
    assert qpi is not None and qpi.pod["metadata"]["name"] == "p" and qpi.attempts == 2


def test_pop_from_backoff_can_be_turned_off(clock: FakeClock) -> None:
    q = make_queue(clock, events_for=_events("NodeAffinity", NODE_ADD))
    q.pop_from_backoff = False
    q.add(pod("p"))
    _fail(q, {"NodeAffinity"})
    q.move_all_to_active_or_backoff(NODE_ADD)
    assert q.pop_nowait() is None

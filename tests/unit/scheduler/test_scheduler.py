"""schedule_one with the default profile: placements, events, conditions and the exact
FailedScheduling messages upstream writes."""

from __future__ import annotations

import re

import pytest

from pyk8s.scheduler import config
from pyk8s.scheduler.framework.interface import NodePluginScores
from pyk8s.scheduler.scheduler import (
    num_feasible_nodes_to_find,
    select_host,
    select_host_index,
    truncate_message,
)
from tests.unit.scheduler.builders import node, pod, taint
from tests.unit.scheduler.harness import Harness

CONTROL_PLANE = taint("node-role.kubernetes.io/control-plane")


def three_nodes(worker_cpu: str = "1") -> list[dict]:
    return [
        node("cp", cpu="4", taints=[CONTROL_PLANE]),
        node("w1", cpu=worker_cpu),
        node("w2", cpu=worker_cpu),
    ]


async def test_schedules_and_records_scheduled_event() -> None:
    h = Harness([node("n1")], [pod("web", cpu="100m")])
    await h.schedule()
    assert h.fakes.binder.bound() == {"default/web": "n1"}
    [event] = h.fakes.recorder.events
    assert (event.type, event.reason, event.action, event.message) == (
        "Normal",
        "Scheduled",
        "Binding",
        "Successfully assigned default/web to n1",
    )
    assert h.scheduler.cache.pod_count() == 1
    assert not h.scheduler.cache.is_assumed_pod(h.objects[("default", "web")])


@pytest.mark.parametrize(
    ("nodes", "existing", "p", "message"),
    [
        pytest.param(
            three_nodes("1"),
            [],
            pod("big", cpu="2"),
            "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
            "are available: 3 Preemption is not helpful for scheduling.",
            id="taint-and-too-big",
        ),
        pytest.param(
            three_nodes("4"),
            [pod("f1", cpu="3", node="w1"), pod("f2", cpu="3", node="w2")],
            pod("big", cpu="2"),
            "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
            "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
            "found for incoming pod.",
            id="full-nodes-no-victims",
        ),
        pytest.param(
            three_nodes("4"),
            [pod("f1", cpu="3", node="w1"), pod("f2", cpu="3", node="w2")],
            pod("big", cpu="2", priority=100, preemption_policy="Never"),
            "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: not "
            "eligible due to preemptionPolicy=Never.",
            id="preemption-policy-never",
        ),
        pytest.param(
            three_nodes("4"),
            [],
            pod("picky", node_selector={"disk": "ssd"}),
            "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node "
            "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
            "for scheduling.",
            id="node-selector",
        ),
        pytest.param(
            [node("n1"), node("n2")],
            [],
            pod(
                "ghost",
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchFields": [
                                        {
                                            "key": "metadata.name",
                                            "operator": "In",
                                            "values": ["gone"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                },
            ),
            "0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
            "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
            id="prefilter-names-a-missing-node",
        ),
        pytest.param(
            [node("n1"), node("n2")],
            [],
            pod(
                "conflict",
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchFields": [
                                        {
                                            "key": "metadata.name",
                                            "operator": "In",
                                            "values": ["n1"],
                                        },
                                        {
                                            "key": "metadata.name",
                                            "operator": "In",
                                            "values": ["n2"],
                                        },
                                    ]
                                }
                            ]
                        }
                    }
                },
            ),
            "0/2 nodes are available: pod affinity terms conflict. preemption: 0/2 nodes are "
            "available: 2 Preemption is not helpful for scheduling.",
            id="prefilter-rejects",
        ),
        pytest.param(
            [node("n1", pods="1"), node("n2", unschedulable=True)],
            [pod("x", node="n1")],
            pod("p"),
            "0/2 nodes are available: 1 Too many pods, 1 node(s) were unschedulable. preemption: "
            "0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption "
            "is not helpful for scheduling.",
            id="too-many-pods-and-cordoned",
        ),
        pytest.param(
            [node("n1", labels={"zone": "a"}), node("n2", labels={"zone": "b"})],
            [pod("w1", labels={"app": "web"}, node="n1")],
            pod(
                "w2",
                labels={"app": "web"},
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "labelSelector": {"matchLabels": {"app": "web"}},
                                "topologyKey": "zone",
                            }
                        ]
                    }
                },
                node_selector={"zone": "a"},
            ),
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 "
            "node(s) didn't match pod anti-affinity rules. preemption: 0/2 nodes are available: "
            "1 No preemption victims found for incoming pod, 1 Preemption is not helpful for "
            "scheduling.",
            id="anti-affinity",
        ),
        pytest.param(
            [],
            [],
            pod("lonely"),
            "no nodes available to schedule pods",
            id="no-nodes",
        ),
    ],
)
async def test_failed_scheduling_message(
    nodes: list[dict], existing: list[dict], p: dict, message: str
) -> None:
    h = Harness(nodes, [*existing, p])
    await h.schedule()
    assert h.failed_messages() == [message]
    assert h.fakes.binder.bindings == []
    [update] = h.fakes.updater.updates
    assert update.condition is not None
    want_reason = "Unschedulable"
    assert (update.condition["type"], update.condition["status"], update.condition["reason"]) == (
        "PodScheduled",
        "False",
        want_reason,
    )
    assert update.condition["message"] == message
    assert h.scheduler.queue.where(p) in ("unschedulable", "backoff")


async def test_no_post_filter_means_no_preemption_message() -> None:
    cfg = config.parse(
        {
            "apiVersion": config.API_VERSION,
            "kind": config.KIND,
            "profiles": [
                {"plugins": {"multiPoint": {"disabled": [{"name": "DefaultPreemption"}]}}}
            ],
        }
    )
    h = Harness(three_nodes("1"), [pod("big", cpu="2")], cfg=cfg)
    await h.schedule()
    assert h.failed_messages() == [
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
    ]


async def test_preemption_evicts_lower_priority_and_nominates() -> None:
    low = pod("low", cpu="3", node="w1", priority=0, start_time="2024-01-01T00:00:00Z")
    keep = pod("keep", cpu="3", node="w2", priority=1000)
    high = pod("high", cpu="2", priority=100)
    h = Harness(three_nodes("4"), [low, keep, high])
    await h.schedule()
    assert h.fakes.deleter.deleted == [("default", "low", low["metadata"]["uid"])]
    assert h.failed_messages() == [
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
    ]
    victim_update, pod_update = h.fakes.updater.updates
    assert victim_update.pod == "default/low"
    assert victim_update.condition is not None
    assert victim_update.condition["type"] == "DisruptionTarget"
    assert victim_update.condition["reason"] == "PreemptionByScheduler"
    # the preemptor's scheduler name, as upstream's message; and when it became true
    assert victim_update.condition["message"] == (
        "default-scheduler: preempting to accommodate a higher priority pod"
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", victim_update.condition["lastTransitionTime"]
    )
    assert pod_update.pod == "default/high" and pod_update.nominated_node_name == "w1"
    preempted = [e for e in h.fakes.recorder.events if e.reason == "Preempted"]
    assert [(e.object, e.message) for e in preempted] == [
        ("default/low", f"Preempted by pod {high['metadata']['uid']} on node w1")
    ]
    assert h.scheduler.queue.nominated_pods_for_node("w1") == [high]


async def test_scheduling_gates_keep_pods_out_of_the_active_queue() -> None:
    gated = pod("g", gates=["example.com/wait"])
    h = Harness([node("n1")], [gated])
    assert h.scheduler.queue.where(gated) == "gated"
    assert h.scheduler.queue.pop_nowait() is None
    from pyk8s.scheduler import eventhandlers

    open_ = {**gated, "spec": {k: v for k, v in gated["spec"].items() if k != "schedulingGates"}}
    h.objects[("default", "g")] = open_
    eventhandlers.on_pod_update(h.scheduler, gated, open_)
    assert h.scheduler.queue.where(open_) == "active"
    await h.schedule()
    assert h.fakes.binder.bound() == {"default/g": "n1"}


async def test_other_scheduler_name_is_not_ours() -> None:
    h = Harness([node("n1")], [pod("mine"), pod("theirs", scheduler_name="other")])
    assert len(h.scheduler.queue) == 1
    await h.schedule()
    assert h.fakes.binder.bound() == {"default/mine": "n1"}


async def test_second_profile_schedules_its_own_pods() -> None:
    cfg = config.parse(
        {
            "apiVersion": config.API_VERSION,
            "kind": config.KIND,
            "profiles": [
                {"schedulerName": "default-scheduler"},
                {
                    "schedulerName": "no-scoring",
                    "plugins": {"score": {"disabled": [{"name": "*"}]}},
                },
            ],
        }
    )
    h = Harness([node("n1")], [pod("a"), pod("b", scheduler_name="no-scoring")], cfg=cfg)
    await h.schedule(2)
    assert h.fakes.binder.bound() == {"default/a": "n1", "default/b": "n1"}
    assert h.scheduler.profiles["no-scoring"].points["score"] == []


async def test_spreads_pods_and_least_allocated_wins() -> None:
    h = Harness([node("n1", cpu="4"), node("n2", cpu="8")], [pod("p1", cpu="1")])
    await h.schedule()
    assert h.fakes.binder.bound() == {"default/p1": "n2"}


async def test_failed_pod_is_retried_when_a_fitting_node_arrives() -> None:
    from pyk8s.scheduler import eventhandlers

    h = Harness([node("small", cpu="1")], [pod("big", cpu="2")])
    await h.schedule()
    assert h.scheduler.queue.where(h.objects[("default", "big")]) == "unschedulable"
    eventhandlers.on_node_add(h.scheduler, node("tiny", cpu="1"))
    assert h.scheduler.queue.where(h.objects[("default", "big")]) == "unschedulable"
    eventhandlers.on_node_add(h.scheduler, node("large", cpu="8"))
    assert h.scheduler.queue.where(h.objects[("default", "big")]) in ("active", "backoff")


async def test_binding_failure_forgets_the_pod_and_reports() -> None:
    from pyk8s.scheduler.fake import FakeBinder

    h = Harness([node("n1")], [pod("web")])
    h.fakes.binder.error = RuntimeError("connection refused")
    await h.schedule()
    assert h.scheduler.cache.pod_count() == 0
    assert h.failed_messages() == ['running Bind plugin "DefaultBinder": connection refused']
    [update] = h.fakes.updater.updates
    assert update.condition is not None and update.condition["reason"] == "SchedulerError"
    assert h.scheduler.queue.where(h.objects[("default", "web")]) == "backoff"
    assert isinstance(h.fakes.binder, FakeBinder)


def test_num_feasible_nodes_to_find() -> None:
    assert num_feasible_nodes_to_find(0, 50) == 50
    assert num_feasible_nodes_to_find(0, 1000) == 420  # 50 - 8 = 42%
    assert num_feasible_nodes_to_find(0, 5000) == 500  # 10%
    assert num_feasible_nodes_to_find(0, 100_000) == 5000  # floor of 5%
    assert num_feasible_nodes_to_find(1, 1000) == 100  # at least 100
    assert num_feasible_nodes_to_find(100, 1000) == 1000


def test_select_host_breaks_ties_uniformly() -> None:
    import random

    scores = [
        NodePluginScores("a", total_score=5),
        NodePluginScores("b", total_score=9),
        NodePluginScores("c", total_score=9),
    ]
    rand = random.Random(7)
    picks = {select_host(scores, rand) for _ in range(50)}
    assert picks == {"b", "c"}


def test_truncate_message() -> None:
    assert truncate_message("x" * 10, 8) == "xxxx ..."
    assert truncate_message("short", 8) == "short"


async def test_run_schedules_until_stopped() -> None:
    import asyncio

    h = Harness([node("n1"), node("n2")])
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        await asyncio.Event().wait()  # helpers sleep forever; they are cancelled on stop

    runner = asyncio.ensure_future(h.scheduler.run(nap))
    for i in range(5):
        h.add_pod(pod(f"p{i}", cpu="100m"))
    await asyncio.wait_for(h.fakes.binder.wait_for(5), 5)
    h.scheduler.stop()
    await asyncio.wait_for(runner, 5)
    assert sorted(h.fakes.binder.bound()) == [f"default/p{i}" for i in range(5)]
    assert naps == [1.0, 1.0]


@pytest.mark.parametrize(
    ("totals", "expected"),
    [([3], {0}), ([1, 7, 2], {1}), ([4, 9, 9, 1, 9], {1, 2, 4}), ([0, 0], {0, 1})],
)
def test_select_host_index_picks_among_the_best(totals: list[int], expected: set[int]) -> None:
    import random

    rand = random.Random(3)
    picks = {select_host_index(totals, rand) for _ in range(60)}
    assert picks == expected


def test_select_host_index_rejects_empty() -> None:
    import random

    with pytest.raises(ValueError, match="empty"):
        select_host_index([], random.Random(1))


@pytest.mark.parametrize(
    ("percentage", "nodes", "expected"),
    [
        (0, 99, 99),  # below 100 nodes every node is looked at
        (0, 100, 100),
        (0, 500, 230),  # 50 - 4 = 46%
        (0, 3000, 780),  # 50 - 24 = 26%
        (0, 6000, 300),  # 50 - 48 = 2% -> floor of 5%
        (10, 500, 100),  # 50 nodes is below the minimum of 100
        (30, 5000, 1500),  # a configured percentage replaces the adaptive one
    ],
)
def test_num_feasible_nodes_to_find_sizes(percentage: int, nodes: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == expected


async def test_each_cycle_starts_where_the_last_one_stopped() -> None:
    # 200 nodes: at 50% each cycle needs 100 feasible nodes, so the search window moves
    cfg = config.KubeSchedulerConfiguration()
    cfg.profiles[0].percentage_of_nodes_to_score = 50
    nodes = [node(f"n{i:03d}") for i in range(200)]
    nodes[150]["spec"] = {"unschedulable": True}
    h = Harness(nodes, [pod(f"p{i}", cpu="100m") for i in range(3)], cfg=cfg)
    starts = []
    for _ in range(3):
        starts.append(h.scheduler.next_start_node_index)
        await h.schedule()
    # first 0..99 (100 feasible); then 100..199 and 0 with n150 rejected (101 processed);
    # then 1..100
    assert starts == [0, 100, 1]
    assert h.scheduler.next_start_node_index == 101
    # each pod went to a node inside its own window
    bound = {k: int(v[1:]) for k, v in h.fakes.binder.bound().items()}
    assert bound["default/p0"] < 100
    assert bound["default/p1"] >= 100 or bound["default/p1"] == 0
    assert 1 <= bound["default/p2"] <= 100


async def test_global_percentage_applies_when_the_profile_has_none() -> None:
    nodes = [node(f"n{i:03d}") for i in range(400)]
    h = Harness(nodes, [pod("p", cpu="100m")])
    h.scheduler.percentage_of_nodes_to_score = 30  # what server.py passes from the config
    await h.schedule()
    assert h.scheduler.next_start_node_index == 120  # 30% of 400
    cfg = config.KubeSchedulerConfiguration()
    cfg.profiles[0].percentage_of_nodes_to_score = 40  # the profile's own wins
    h = Harness(nodes, [pod("p", cpu="100m")], cfg=cfg)
    h.scheduler.percentage_of_nodes_to_score = 30
    await h.schedule()
    assert h.scheduler.next_start_node_index == 160

"""Node lifecycle on the fake client with a fake clock (node_lifecycle_controller_test.go)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.api import meta
from pyk8s.client import clock
from pyk8s.controllers import nodelifecycle, taints
from pyk8s.controllers.nodelifecycle import controller as nlc
from pyk8s.controllers.nodelifecycle import rate_limited_queue as rlq
from pyk8s.controllers.resources import LEASES, NODES, PODS
from tests.unit.controllers.conftest import Harness, obj

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
STAMP = "2026-01-01T00:00:00Z"


def node(name: str, ready: str | None = "True", **labels: str) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if ready is not None:
        status["conditions"] = [
            {
                "type": "Ready",
                "status": ready,
                "lastHeartbeatTime": STAMP,
                "lastTransitionTime": STAMP,
            }
        ]
    return obj(
        "Node",
        name,
        None,
        metadata={"creationTimestamp": STAMP, "labels": labels},
        status=status,
    )


def pod_on(name: str, node_name: str) -> dict[str, Any]:
    return obj(
        "Pod",
        name,
        spec={"nodeName": node_name, "containers": []},
        status={"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    )


def stored(harness: Harness, name: str) -> dict[str, Any]:
    return next(n for n in harness.client.objects(NODES) if n["metadata"]["name"] == name)


def taint_set(n: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (n.get("spec") or {}).get("taints") or []}


async def heartbeat(harness: Harness, fake: clock.FakeClock, name: str) -> None:
    n = stored(harness, name)
    for c in n["status"]["conditions"]:
        if c["type"] == "Ready":
            c["lastHeartbeatTime"] = meta.format_time(fake.wall())
    await harness.client.update(NODES, n, subresource="status")
    await harness.settle()


async def start(harness: Harness) -> tuple[nlc.NodeLifecycleController, clock.FakeClock]:
    fake = clock.FakeClock(wall_start=T0)
    harness.clock = fake  # type: ignore[assignment]
    ctl = await harness.start(nodelifecycle.new)
    return ctl, fake


async def test_node_that_never_reported_gets_unknown_conditions_and_no_schedule_taint(
    harness: Harness,
) -> None:
    harness.client.add(NODES, node("127.0.0.1", ready=None))
    ctl, fake = await start(harness)
    await ctl.reconcile(nlc.MONITOR)
    assert harness.client.actions_of("update", "nodes") == []  # within the startup grace
    fake.advance(61)  # the 60 s startup grace counts from the node's creation
    await ctl.reconcile(nlc.MONITOR)
    n = stored(harness, "127.0.0.1")
    conds = {c["type"]: c for c in n["status"]["conditions"]}
    assert set(conds) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    for c in conds.values():
        assert (c["status"], c["reason"], c["message"]) == (
            "Unknown",
            "NodeStatusNeverUpdated",
            "Kubelet never posted node status.",
        )
        assert c["lastHeartbeatTime"] == STAMP
    await harness.settle()
    await ctl.reconcile("127.0.0.1")  # the node's update event: NoSchedule taints
    assert taint_set(stored(harness, "127.0.0.1")) == {(taints.UNREACHABLE, "NoSchedule")}
    # the only node is down: the controller blames itself and taints nothing NoExecute
    fake.advance(5)
    await ctl.reconcile(nlc.MONITOR)
    assert taint_set(stored(harness, "127.0.0.1")) == {(taints.UNREACHABLE, "NoSchedule")}
    assert ctl.zone_states == {"": nlc.FULL_DISRUPTION}


async def test_silent_node_goes_unknown_then_unreachable_no_execute(harness: Harness) -> None:
    harness.client.add(NODES, node("n1"))
    harness.client.add(NODES, node("n2"))
    harness.client.add(PODS, pod_on("on-n1", "n1"))
    harness.client.add(PODS, pod_on("on-n2", "n2"))
    ctl, fake = await start(harness)
    await ctl.reconcile(nlc.MONITOR)
    assert harness.verbs() == []  # both heard from just now
    fake.advance(49)
    await heartbeat(harness, fake, "n2")
    harness.client.clear_actions()
    await ctl.reconcile(nlc.MONITOR)
    assert harness.verbs() == []
    fake.advance(2)  # n1: 51 s of silence, past the 50 s grace
    await heartbeat(harness, fake, "n2")
    harness.client.clear_actions()
    await ctl.reconcile(nlc.MONITOR)
    conds = {c["type"]: c for c in stored(harness, "n1")["status"]["conditions"]}
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert conds["Ready"]["message"] == "Kubelet stopped posting node status."
    assert conds["MemoryPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert stored(harness, "n2")["status"]["conditions"][0]["status"] == "True"
    marked = [a.name for a in harness.client.actions_of("update", "pods")]
    assert marked == ["on-n1"]
    pods = {p["metadata"]["name"]: p for p in harness.client.objects(PODS)}
    assert pods["on-n1"]["status"]["conditions"][0]["status"] == "False"
    assert pods["on-n2"]["status"]["conditions"][0]["status"] == "True"
    assert taints.no_execute(stored(harness, "n1")) == []  # queued on the next pass
    await harness.settle()
    fake.advance(5)
    await heartbeat(harness, fake, "n2")
    await ctl.reconcile(nlc.MONITOR)
    (t,) = taints.no_execute(stored(harness, "n1"))
    assert (t["key"], t["effect"]) == (taints.UNREACHABLE, "NoExecute")
    assert meta.parse_time(t["timeAdded"]) == fake.wall()
    await harness.settle()
    harness.client.clear_actions()
    fake.advance(5)
    await heartbeat(harness, fake, "n2")
    await ctl.reconcile(nlc.MONITOR)
    assert taints.no_execute(stored(harness, "n1")) == [t]  # tainted once, not again
    assert [a.name for a in harness.client.actions_of("patch", "nodes")] == []
    # the kubelet comes back: Ready again, the NoExecute taint goes
    await harness.settle()
    n1 = stored(harness, "n1")
    n1["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "lastHeartbeatTime": meta.format_time(fake.wall()),
            "lastTransitionTime": meta.format_time(fake.wall()),
        }
    ]
    await harness.client.update(NODES, n1, subresource="status")
    await harness.settle()
    fake.advance(5)
    await ctl.reconcile(nlc.MONITOR)
    await ctl.reconcile(nlc.MONITOR)
    assert taints.no_execute(stored(harness, "n1")) == []


async def test_lease_renewals_keep_a_node_healthy(harness: Harness) -> None:
    harness.client.add(NODES, node("n1"))
    harness.client.add(NODES, node("n2"))
    lease = obj(
        "Lease",
        "n1",
        nlc.LEASE_NAMESPACE,
        spec={"holderIdentity": "n1", "renewTime": "2026-01-01T00:00:00.000000Z"},
    )
    harness.client.add(LEASES, lease)
    ctl, fake = await start(harness)
    await ctl.reconcile(nlc.MONITOR)
    for _ in range(6):
        fake.advance(10)
        stored_lease = harness.client.objects(LEASES)[0]
        stored_lease["spec"]["renewTime"] = clock.micro_time(fake.wall())
        await harness.client.update(LEASES, stored_lease)
        await harness.settle()
        await ctl.reconcile(nlc.MONITOR)
    conds = stored(harness, "n1")["status"]["conditions"]
    assert conds[0]["status"] == "True"  # 60 s without a status heartbeat, lease renewed
    assert stored(harness, "n2")["status"]["conditions"][0]["status"] == "Unknown"


async def test_no_schedule_taints_follow_conditions_and_unschedulable(harness: Harness) -> None:
    n = node("n1", ready="False")
    n["status"]["conditions"].append({"type": "MemoryPressure", "status": "True"})
    n["spec"] = {
        "unschedulable": True,
        "taints": [
            {"key": taints.DISK_PRESSURE, "effect": "NoSchedule"},  # stale: removed
            {"key": "example.com/mine", "effect": "NoSchedule"},  # not ours: kept
        ],
    }
    harness.client.add(NODES, n)
    ctl, _ = await start(harness)
    await ctl.reconcile("n1")
    assert taint_set(stored(harness, "n1")) == {
        (taints.NOT_READY, "NoSchedule"),
        (taints.MEMORY_PRESSURE, "NoSchedule"),
        (taints.UNSCHEDULABLE, "NoSchedule"),
        ("example.com/mine", "NoSchedule"),
    }


async def test_pod_assigned_to_a_not_ready_node_is_marked_not_ready(harness: Harness) -> None:
    harness.client.add(NODES, node("n1", ready="False"))
    harness.client.add(PODS, pod_on("p", "n1"))
    ctl, _ = await start(harness)
    await ctl.reconcile(nlc.MONITOR)
    harness.client.clear_actions()
    await ctl.reconcile("default/p")
    assert [a.name for a in harness.client.actions_of("update", "pods")] == ["p"]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param(["True", "True"], nlc.NORMAL, id="healthy"),
        pytest.param(["True", "Unknown"], nlc.NORMAL, id="one-down-of-two"),
        pytest.param([None, "Unknown"], nlc.FULL_DISRUPTION, id="none-ready"),
        pytest.param(["True", "False", "False", "Unknown"], nlc.PARTIAL_DISRUPTION, id="most-down"),
        pytest.param(["True", "True", "False", "False"], nlc.NORMAL, id="two-down-only"),
    ],
)
async def test_zone_state(harness: Harness, statuses: list[str | None], expected: str) -> None:
    ctl, _ = await start(harness)
    conditions = [None if s is None else {"type": "Ready", "status": s} for s in statuses]
    assert ctl.compute_zone_state(conditions)[1] == expected


def test_zone_key() -> None:
    assert nlc.zone_key(node("a")) == ""
    labelled = node(
        "b", **{"topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "z"}
    )
    assert nlc.zone_key(labelled) == "r:\x00:z"


async def test_rate_limited_queue_takes_one_node_per_ten_seconds() -> None:
    fake = clock.FakeClock()
    q = rlq.RateLimitedTimedQueue(0.1, fake)
    for name in ("a", "b", "c"):
        assert q.add(name, "")
    assert not q.add("a", "")
    done: list[str] = []

    async def take(item: rlq.TimedValue) -> tuple[bool, float]:
        done.append(item.value)
        return True, 0.0

    await q.try_(take)
    assert done == ["a"]  # burst 1
    assert not q.add("a", "")  # done, but known until removed
    assert q.remove("a") and q.add("a", "") and q.remove("a")
    assert q.next_due_in() == pytest.approx(10.0)
    fake.advance(10)
    await q.try_(take)
    assert done == ["a", "b"]
    q.swap_limiter(0)
    fake.advance(100)
    await q.try_(take)
    assert done == ["a", "b"] and q.next_due_in() is None


async def test_beta_os_and_arch_labels_follow_the_stable_ones(harness: Harness) -> None:
    harness.client.add(
        NODES,
        node(
            "n1",
            **{
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/arch": "arm64",
            },
        ),
    )
    ctl, _ = await start(harness)
    await ctl.reconcile("n1")
    labels = stored(harness, "n1")["metadata"]["labels"]
    assert labels["beta.kubernetes.io/os"] == "linux"
    assert labels["beta.kubernetes.io/arch"] == "amd64"

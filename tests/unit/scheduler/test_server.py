"""The scheduler component against the client's in-memory fake: informers in, API calls out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from pyk8s.api import errors
from pyk8s.client import fake
from pyk8s.scheduler import config, server
from tests.unit.scheduler.builders import node, pod, taint


async def until(cond: Callable[[], bool], spins: int = 200_000) -> None:
    """Yield to the event loop until ``cond`` holds (no real sleeping)."""
    for _ in range(spins):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


@contextlib.asynccontextmanager
async def running(client: fake.Client, cfg: config.KubeSchedulerConfiguration | None = None):
    ready = asyncio.Event()
    task = asyncio.ensure_future(
        server.run(cfg or config.KubeSchedulerConfiguration(), client, ready)
    )
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def node_of(client: fake.Client, name: str) -> str | None:
    for p in client.objects(server.PODS):
        if p["metadata"]["name"] == name:
            return p["spec"].get("nodeName")
    return None


def pod_obj(client: fake.Client, name: str) -> dict:
    return next(p for p in client.objects(server.PODS) if p["metadata"]["name"] == name)


async def test_binds_pending_pods_and_records_events() -> None:
    client = fake.Client()
    client.add(server.NODES, node("n1"))
    client.add(server.PODS, pod("web", cpu="100m"))
    client.add(server.PODS, pod("other", scheduler_name="someone-else"))
    async with running(client):
        await until(lambda: node_of(client, "web") == "n1")
        await until(lambda: bool(client.actions_of("create", "events")))
    assert node_of(client, "other") is None
    [binding] = client.actions_of("create", "pods")
    assert binding.subresource == "binding"
    [event] = [a.object for a in client.actions_of("create", "events")]
    assert (event["reason"], event["note"], event["reportingController"]) == (
        "Scheduled",
        "Successfully assigned default/web to n1",
        "default-scheduler",
    )


async def test_unschedulable_pod_gets_condition_and_event_then_schedules() -> None:
    client = fake.Client()
    client.add(server.NODES, node("cp", taints=[taint("node-role.kubernetes.io/control-plane")]))
    client.add(server.PODS, pod("big", cpu="2"))
    async with running(client):
        await until(lambda: bool((pod_obj(client, "big").get("status") or {}).get("conditions")))
        [cond] = pod_obj(client, "big")["status"]["conditions"]
        message = (
            "0/1 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }. preemption: 0/1 nodes are available: "
            "1 Preemption is not helpful for scheduling."
        )
        assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
            "PodScheduled",
            "False",
            "Unschedulable",
            message,
        )
        await until(lambda: bool(client.actions_of("create", "events")))
        notes = [a.object["note"] for a in client.actions_of("create", "events")]
        assert notes == [message]
        await client.create(server.NODES, node("worker", cpu="4"))
        await until(lambda: node_of(client, "big") == "worker")


async def test_preemption_deletes_the_victim_with_a_uid_precondition() -> None:
    client = fake.Client()
    client.add(server.NODES, node("n1", cpu="2"))
    client.add(server.PODS, pod("low", cpu="2", node="n1", priority=0, uid="low-uid"))
    client.add(server.PODS, pod("high", cpu="2", priority=1000))
    async with running(client):
        await until(
            lambda: all(p["metadata"]["name"] != "low" for p in client.objects(server.PODS))
        )
        [delete] = client.actions_of("delete", "pods")
        assert delete.name == "low"
        await until(lambda: node_of(client, "high") == "n1")


@pytest.mark.parametrize("error", [errors.Conflict("stale"), errors.NotFound("gone")])
async def test_status_updater_retries_conflicts_and_ignores_missing(error: Exception) -> None:
    client = fake.Client()
    client.add(server.PODS, pod("p", uid="u1"))
    calls = {"n": 0}

    def once(action):
        calls["n"] += 1
        if calls["n"] == 1:
            raise error
        return False, None  # fall through to the tracker

    client.prepend_reactor("update", "pods", once)
    updater = server.APIStatusUpdater(client)
    p = pod_obj(client, "p")
    cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "m"}
    await updater.update_pod_status(p, cond, "n9")
    status = pod_obj(client, "p").get("status") or {}
    if isinstance(error, errors.Conflict):
        assert status["conditions"][0]["reason"] == "Unschedulable"
        assert status["nominatedNodeName"] == "n9"
    else:
        assert "conditions" not in status


def test_set_condition_keeps_transition_time_when_status_is_unchanged() -> None:
    status = {
        "conditions": [
            {"type": "PodScheduled", "status": "False", "lastTransitionTime": "t0", "message": "a"}
        ]
    }
    server.set_condition(
        status,
        {"type": "PodScheduled", "status": "False", "lastTransitionTime": "t1", "message": "b"},
    )
    assert status["conditions"] == [
        {"type": "PodScheduled", "status": "False", "lastTransitionTime": "t0", "message": "b"}
    ]
    server.set_condition(status, {"type": "Ready", "status": "True"})
    assert [c["type"] for c in status["conditions"]] == ["PodScheduled", "Ready"]


async def test_only_the_lease_holder_schedules() -> None:
    from pyk8s.client import leaderelection

    client = fake.Client()
    client.add(server.NODES, node("n1"))
    client.add(server.PODS, pod("web"))
    async with running(client):
        await until(lambda: node_of(client, "web") == "n1")
        [lease] = client.objects(leaderelection.LEASES)
        assert (lease["metadata"]["namespace"], lease["metadata"]["name"]) == (
            "kube-system",
            "kube-scheduler",
        )
        assert lease["spec"]["holderIdentity"]
    # cancelled: the lease is handed back for a successor
    [lease] = client.objects(leaderelection.LEASES)
    assert lease["spec"]["holderIdentity"] == ""


async def test_without_leader_election_no_lease_is_taken() -> None:
    from pyk8s.client import leaderelection

    client = fake.Client()
    client.add(server.NODES, node("n1"))
    client.add(server.PODS, pod("web"))
    cfg = config.parse(
        {
            "apiVersion": config.API_VERSION,
            "kind": config.KIND,
            "leaderElection": {"leaderElect": False},
        }
    )
    async with running(client, cfg):
        await until(lambda: node_of(client, "web") == "n1")
    assert client.objects(leaderelection.LEASES) == []

"""ReplicaSet controller, in the style of replica_set_test.go: seed, reconcile once, assert."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.api import errors, meta
from pyk8s.client import fake
from pyk8s.controllers import replicaset
from pyk8s.controllers.resources import PODS, REPLICASETS, REPLICATIONCONTROLLERS
from tests.unit.controllers.conftest import Harness, obj

LABELS = {"app": "web"}


def new_rs(replicas: int, name: str = "web", min_ready: int = 0) -> dict[str, Any]:
    return obj(
        "ReplicaSet",
        name,
        spec={
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    )


def new_pod(
    name: str,
    owner: dict[str, Any] | None,
    *,
    labels: dict[str, str] | None = None,
    node: str = "",
    phase: str = "Pending",
    ready_since: datetime.datetime | None = None,
) -> dict[str, Any]:
    md: dict[str, Any] = {"labels": dict(LABELS if labels is None else labels)}
    if owner is not None:
        md["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
            }
        ]
    status: dict[str, Any] = {"phase": phase}
    if ready_since is not None:
        status["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": meta.format_time(ready_since)}
        ]
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return obj("Pod", name, metadata=md, spec=spec, status=status)


async def test_sync_does_nothing_when_satisfied(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(2))
    for i in range(2):
        harness.client.add(PODS, new_pod(f"p{i}", rs))
    ctl = await harness.start(replicaset.new_replicaset)
    await ctl.reconcile("default/web")
    assert [v for v in harness.verbs() if v[1] == "pods"] == []
    status = harness.client.objects(REPLICASETS)[0]["status"]
    assert status["replicas"] == 2
    assert status["fullyLabeledReplicas"] == 2
    assert status["observedGeneration"] == 1


async def test_creates_missing_pods_with_controller_ref(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(3))
    ctl = await harness.start(replicaset.new_replicaset)
    await ctl.reconcile("default/web")
    creates = harness.client.actions_of("create", "pods")
    assert len(creates) == 3
    body = creates[0].object
    assert body is not None
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"] == LABELS
    (ref,) = body["metadata"]["ownerReferences"]
    assert ref == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": rs["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    await harness.settle()
    assert ctl.expectations.satisfied("default/web")  # the informer saw the three creations
    harness.client.clear_actions()
    await ctl.reconcile("default/web")
    assert harness.client.actions_of("create", "pods") == []


async def test_unmet_expectations_hold_the_sync(harness: Harness) -> None:
    harness.client.add(REPLICASETS, new_rs(3))
    ctl = await harness.start(replicaset.new_replicaset)
    ctl.expectations.expect_creations("default/web", 3)  # created, not yet seen
    await ctl.reconcile("default/web")
    assert harness.client.actions_of("create", "pods") == []
    ctl.expectations.lower_creations("default/web", 3)
    await ctl.reconcile("default/web")
    assert len(harness.client.actions_of("create", "pods")) == 3


async def test_slow_start_stops_after_a_failing_batch(harness: Harness) -> None:
    harness.client.add(REPLICASETS, new_rs(10))
    calls = 0

    def fail_after_three(action: fake.Action) -> tuple[bool, Any]:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise errors.Forbidden("exceeded quota")
        return False, None

    harness.client.prepend_reactor("create", "pods", fail_after_three)
    ctl = await harness.start(replicaset.new_replicaset)
    with pytest.raises(errors.Forbidden):
        await ctl.reconcile("default/web")
    # Batches of 1, 2, then 4 of which one fails: 7 attempts, not 10.
    assert calls == 7
    await harness.settle()
    # 6 created and seen, 4 never attempted or failed: nothing left to wait for.
    assert ctl.expectations.satisfied("default/web")
    status = harness.client.objects(REPLICASETS)[0]["status"]
    (cond,) = status["conditions"]
    assert (cond["type"], cond["reason"]) == ("ReplicaFailure", "FailedCreate")


async def test_deletes_least_useful_pods_first(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(2))
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    harness.client.add(
        PODS, new_pod("running-ready", rs, node="n1", phase="Running", ready_since=long_ago)
    )
    harness.client.add(PODS, new_pod("unscheduled", rs))
    harness.client.add(PODS, new_pod("pending-on-node", rs, node="n1"))
    harness.client.add(PODS, new_pod("running-not-ready", rs, node="n2", phase="Running"))
    ctl = await harness.start(replicaset.new_replicaset)
    await ctl.reconcile("default/web")
    deleted = sorted(a.name for a in harness.client.actions_of("delete", "pods"))
    assert deleted == ["pending-on-node", "unscheduled"]


async def test_adopts_orphans_and_releases_strays(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(2))
    harness.client.add(PODS, new_pod("orphan", None))
    harness.client.add(PODS, new_pod("stray", rs, labels={"app": "other"}))
    harness.client.add(PODS, new_pod("owned", rs))
    ctl = await harness.start(replicaset.new_replicaset)
    await ctl.reconcile("default/web")
    patches = {a.name: a.patch for a in harness.client.actions_of("patch", "pods")}
    assert set(patches) == {"orphan", "stray"}
    assert patches["orphan"]["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert patches["stray"]["metadata"]["ownerReferences"] is None
    assert harness.client.actions_of("create", "pods") == []
    by_name = {p["metadata"]["name"]: p for p in harness.client.objects(PODS)}
    assert by_name["orphan"]["metadata"]["ownerReferences"][0]["name"] == "web"
    assert "ownerReferences" not in by_name["stray"]["metadata"]


async def test_pods_of_other_controllers_are_not_taken(harness: Harness) -> None:
    harness.client.add(REPLICASETS, new_rs(1))
    other = {"metadata": {"name": "other", "uid": "someone-else"}}
    harness.client.add(PODS, new_pod("theirs", other))
    ctl = await harness.start(replicaset.new_replicaset)
    await ctl.reconcile("default/web")
    assert harness.client.actions_of("patch", "pods") == []
    assert len(harness.client.actions_of("create", "pods")) == 1


async def test_available_replicas_respect_min_ready_seconds(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(2, min_ready=30))
    now = datetime.datetime.now(datetime.UTC)
    harness.client.add(
        PODS, new_pod("old", rs, phase="Running", ready_since=now - datetime.timedelta(minutes=5))
    )
    harness.client.add(PODS, new_pod("fresh", rs, phase="Running", ready_since=now))
    ctl = await harness.start(replicaset.new_replicaset)
    await ctl.reconcile("default/web")
    status = harness.client.objects(REPLICASETS)[0]["status"]
    assert (status["readyReplicas"], status["availableReplicas"]) == (2, 1)
    assert ctl.queue.waiting() == 1  # looked at again once minReadySeconds passed


async def test_replication_controller_uses_map_selector(harness: Harness) -> None:
    rc = obj(
        "ReplicationController",
        "legacy",
        spec={
            "replicas": 2,
            "selector": {"app": "legacy"},
            "template": {"metadata": {"labels": {"app": "legacy"}}, "spec": {"containers": []}},
        },
    )
    harness.client.add(REPLICATIONCONTROLLERS, rc)
    ctl = await harness.start(replicaset.new_replicationcontroller)
    await ctl.reconcile("default/legacy")
    creates = harness.client.actions_of("create", "pods")
    assert len(creates) == 2
    assert creates[0].object is not None
    ref = creates[0].object["metadata"]["ownerReferences"][0]
    assert (ref["apiVersion"], ref["kind"]) == ("v1", "ReplicationController")


async def test_pod_events_map_to_owner(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(1))
    ctl = await harness.start(replicaset.new_replicaset)
    while len(ctl.queue):
        ctl.queue.done(await ctl.queue.get())
    ctl.expectations.expect_creations("default/web", 1)
    await harness.client.create(PODS, new_pod("p", rs))
    await harness.settle()
    assert ctl.expectations.satisfied("default/web")
    assert await ctl.queue.get() == "default/web"

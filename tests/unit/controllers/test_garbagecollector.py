"""Garbage collector decisions on the fake client: seed the graph, reconcile one uid."""

from __future__ import annotations

import asyncio
from typing import Any

from pyk8s.api import meta
from pyk8s.controllers import garbagecollector
from pyk8s.controllers.resources import CONFIGMAPS, PODS, REPLICASETS
from tests.unit.controllers.conftest import Harness, obj


def owned_by(owner: dict[str, Any] | None, uid: str = "", block: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": owner["metadata"]["name"] if owner else "ghost",
        "uid": owner["metadata"]["uid"] if owner else uid,
        "controller": True,
        "blockOwnerDeletion": block,
    }


async def test_dependent_of_missing_owner_is_deleted_in_background(harness: Harness) -> None:
    pod = harness.client.add(
        PODS, obj("Pod", "p", metadata={"ownerReferences": [owned_by(None, "gone-uid")]})
    )
    ctl = await harness.start(garbagecollector.new)
    await ctl.reconcile(pod["metadata"]["uid"])
    (delete,) = harness.client.actions_of("delete", "pods")
    assert delete.name == "p"
    assert harness.client.objects(PODS) == []
    # The owner was looked up through the API before deciding.
    assert [a.name for a in harness.client.actions_of("get", "replicasets")] == ["ghost"]


async def test_dependent_with_live_owner_stays(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, obj("ReplicaSet", "rs"))
    pod = harness.client.add(PODS, obj("Pod", "p", metadata={"ownerReferences": [owned_by(rs)]}))
    ctl = await harness.start(garbagecollector.new)
    await ctl.reconcile(pod["metadata"]["uid"])
    assert harness.verbs() == []


async def test_dangling_reference_removed_when_another_owner_lives(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, obj("ReplicaSet", "rs"))
    refs = [owned_by(rs), {**owned_by(None, "gone-uid"), "controller": False}]
    cm = harness.client.add(CONFIGMAPS, obj("ConfigMap", "c", metadata={"ownerReferences": refs}))
    ctl = await harness.start(garbagecollector.new)
    await ctl.reconcile(cm["metadata"]["uid"])
    assert harness.verbs() == [("patch", "configmaps")]
    (left,) = harness.client.objects(CONFIGMAPS)[0]["metadata"]["ownerReferences"]
    assert left["uid"] == rs["metadata"]["uid"]


async def test_orphan_finalizer_releases_dependents(harness: Harness) -> None:
    rs = harness.client.add(
        REPLICASETS,
        obj(
            "ReplicaSet",
            "rs",
            metadata={"finalizers": ["orphan"], "deletionTimestamp": meta.now()},
        ),
    )
    harness.client.add(PODS, obj("Pod", "p", metadata={"ownerReferences": [owned_by(rs)]}))
    ctl = await harness.start(garbagecollector.new)
    await ctl.reconcile(rs["metadata"]["uid"])
    assert harness.verbs() == [("patch", "pods"), ("update", "replicasets")]
    assert "ownerReferences" not in harness.client.objects(PODS)[0]["metadata"]
    assert harness.client.objects(REPLICASETS) == []  # finalizers empty: deleted


async def test_foreground_owner_waits_for_blocking_dependents(harness: Harness) -> None:
    rs = harness.client.add(
        REPLICASETS,
        obj(
            "ReplicaSet",
            "rs",
            metadata={"finalizers": ["foregroundDeletion"], "deletionTimestamp": meta.now()},
        ),
    )
    pod = harness.client.add(
        PODS, obj("Pod", "p", metadata={"ownerReferences": [owned_by(rs, block=True)]})
    )
    ctl = await harness.start(garbagecollector.new)
    await ctl.reconcile(rs["metadata"]["uid"])
    assert harness.verbs() == []  # the owner waits, its dependent is queued
    await ctl.reconcile(pod["metadata"]["uid"])
    assert harness.verbs() == [("delete", "pods")]
    await harness.settle()
    await ctl.reconcile(rs["metadata"]["uid"])
    assert harness.verbs()[-1] == ("update", "replicasets")
    assert harness.client.objects(REPLICASETS) == []


async def test_dependent_of_an_unwatched_owner_is_looked_at_again(harness: Harness) -> None:
    """An owner of a kind not (yet) monitored, as a custom resource before the monitors'
    resync: its deletion reaches no informer, so the dependent is checked again later."""
    rs = harness.client.add(REPLICASETS, obj("ReplicaSet", "rs"))
    pod = harness.client.add(PODS, obj("Pod", "p", metadata={"ownerReferences": [owned_by(rs)]}))
    ctl = await harness.start(
        lambda ctx: garbagecollector.GarbageCollector(ctx, monitored=(("v1", "Pod"),))
    )
    uid = pod["metadata"]["uid"]
    await ctl.reconcile(uid)
    assert harness.verbs() == []
    assert ctl.rechecks == {uid: 1}
    await harness.client.delete(REPLICASETS, "rs", rs["metadata"].get("namespace"))
    harness.client.clear_actions()  # the owner is gone, and no informer tells
    while (key := await asyncio.wait_for(ctl.queue.get(), 5)) != uid:  # due after a second
        ctl.queue.done(key)  # what the informers queued at the start
    await ctl.reconcile(key)
    ctl.queue.done(key)
    assert harness.verbs() == [("delete", "pods")]
    assert ctl.rechecks == {}

"""The handlers and pod control the pod-owning controllers share (``podowner``,
``pod_control``), driven through the ReplicaSet and StatefulSet controllers that use them."""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors
from pyk8s.client import events
from pyk8s.controllers import expectations, pod_control, replicaset
from pyk8s.controllers.resources import PODS, REPLICASETS, STATEFULSETS
from pyk8s.controllers.statefulset import controller as statefulset
from tests.unit.controllers.conftest import Harness, obj
from tests.unit.controllers.test_replicaset import new_pod, new_rs


async def queued(ctl: Any) -> list[str]:
    """Drain the controller's queue (as a worker would, without reconciling)."""
    out = []
    while len(ctl.queue):
        key = await ctl.queue.get()
        ctl.queue.done(key)
        out.append(key)
    return sorted(out)


async def test_orphans_wake_every_owner_selecting_them(harness: Harness) -> None:
    harness.client.add(REPLICASETS, new_rs(1, "a"))
    harness.client.add(REPLICASETS, new_rs(1, "b"))
    empty = new_rs(1, "everything")
    empty["spec"]["selector"] = {}
    harness.client.add(REPLICASETS, empty)
    ctl = await harness.start(replicaset.new_replicaset)
    await queued(ctl)
    ctl.pod_added(new_pod("orphan", None))
    assert await queued(ctl) == ["default/a", "default/b"]  # an empty selector matches nothing
    ctl.pod_added(new_pod("other", None, labels={"app": "db"}))
    assert await queued(ctl) == []


async def test_controller_ref_must_name_the_same_object(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(1))
    ctl = await harness.start(replicaset.new_replicaset)
    await queued(ctl)
    namesake = {"metadata": {"name": "web", "uid": "not-the-same"}}
    ctl.pod_added(new_pod("stale", namesake))
    assert await queued(ctl) == []
    ctl.pod_added(new_pod("ours", rs))
    assert await queued(ctl) == ["default/web"]


async def test_terminating_pod_counts_as_deleted_for_replicasets_only(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(1))
    ctl = await harness.start(replicaset.new_replicaset)
    old = new_pod("p", rs)
    old["metadata"]["resourceVersion"] = "1"
    ctl.expectations.expect_deletions("default/web", ["default/p"])
    new = {**old, "metadata": {**old["metadata"], "resourceVersion": "2",
                               "deletionTimestamp": "2024-01-01T00:00:00Z"}}  # fmt: skip
    ctl.pod_updated(old, new)
    assert ctl.expectations.satisfied("default/web")
    assert statefulset.StatefulSetController.terminating_is_deleted is False
    assert ctl.terminating_is_deleted is True


async def test_statefulset_handlers_resolve_their_own_kind(harness: Harness) -> None:
    sts = harness.client.add(
        STATEFULSETS,
        obj(
            "StatefulSet",
            "db",
            spec={"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db", "template": {}},
        ),
    )
    ctl = await harness.start(statefulset.StatefulSetController)
    await queued(ctl)
    pod = new_pod("db-0", None, labels={"app": "db"})
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
         "uid": sts["metadata"]["uid"], "controller": True}
    ]  # fmt: skip
    ctl.pod_deleted(pod)
    assert await queued(ctl) == ["default/db"]
    pod["metadata"]["ownerReferences"][0]["kind"] = "ReplicaSet"
    ctl.pod_deleted(pod)
    assert await queued(ctl) == []


async def test_delete_all_observes_failures_and_reports_them(harness: Harness) -> None:
    rs = harness.client.add(REPLICASETS, new_rs(0))
    gone = new_pod("gone", rs)
    kept = harness.client.add(PODS, new_pod("kept", rs))
    exp = expectations.Expectations(harness.clock)
    exp.expect_deletions("default/web", ["default/gone", "default/kept"])
    control = pod_control.PodControl(harness.client, events.EventRecorder(harness.client, "t"))
    assert await control.delete_all(rs, [gone, kept], exp, "default/web") == []
    assert exp.pending("default/web") == (0, 1)  # "gone" observed; "kept" waits for its watch
    assert harness.client.objects(PODS) == []

    def refuse(action: Any) -> tuple[bool, Any]:
        raise errors.Forbidden("no")

    harness.client.prepend_reactor("delete", "pods", refuse)
    again = harness.client.add(PODS, new_pod("again", rs))
    exp.expect_deletions("default/web", ["default/again"])
    failed = await control.delete_all(rs, [again], exp, "default/web")
    assert [type(e) for e in failed] == [errors.Forbidden]
    assert exp.satisfied("default/web")

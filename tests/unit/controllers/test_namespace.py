from __future__ import annotations

from pyk8s.api import meta
from pyk8s.controllers import namespace
from pyk8s.controllers.resources import CONFIGMAPS, NAMESPACES, PODS
from tests.unit.controllers.conftest import Harness, obj


def _deleting(name: str) -> dict[str, object]:
    return obj(
        "Namespace",
        name,
        None,
        metadata={"deletionTimestamp": meta.now()},
        spec={"finalizers": ["kubernetes"]},
        status={"phase": "Terminating"},
    )


async def test_active_namespace_is_not_touched(harness: Harness) -> None:
    harness.client.add(
        NAMESPACES, obj("Namespace", "live", None, spec={"finalizers": ["kubernetes"]})
    )
    ctl = await harness.start(namespace.new)
    assert len(ctl.queue) == 0
    await ctl.reconcile("live")
    assert harness.verbs() == []


async def test_empties_then_finalizes(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _deleting("gone"))
    harness.client.add(CONFIGMAPS, obj("ConfigMap", "c", "gone"))
    harness.client.add(PODS, obj("Pod", "p", "gone", spec={"containers": []}))
    harness.client.add(CONFIGMAPS, obj("ConfigMap", "other", "keep"))
    ctl = await harness.start(namespace.new)
    assert len(ctl.queue) == 1
    await ctl.reconcile("gone")
    assert harness.client.objects(PODS) == []
    assert [c["metadata"]["name"] for c in harness.client.objects(CONFIGMAPS)] == ["other"]
    writes = harness.verbs()
    assert ("delete-collection", "pods") in writes
    assert writes[-2:] == [("update", "namespaces"), ("update", "namespaces")]
    status_write, finalize = harness.writes()[-2:]
    assert status_write.subresource == "status"
    assert status_write.object is not None
    conditions = {c["type"]: c for c in status_write.object["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["status"] == "False"
    assert conditions["NamespaceDeletionContentFailure"]["reason"] == "ContentDeleted"
    assert finalize.subresource == "finalize"
    assert finalize.object is not None
    assert finalize.object["spec"]["finalizers"] == []


async def test_content_with_finalizers_waits(harness: Harness) -> None:
    harness.client.add(NAMESPACES, _deleting("gone"))
    harness.client.add(
        CONFIGMAPS, obj("ConfigMap", "held", "gone", metadata={"finalizers": ["example.com/x"]})
    )
    ctl = await harness.start(namespace.new)
    ctl.queue.done(await ctl.queue.get())
    await ctl.reconcile("gone")
    updates = [a for a in harness.writes() if a.verb == "update"]
    assert [a.subresource for a in updates] == ["status"]
    assert updates[0].object is not None
    conditions = {c["type"]: c for c in updates[0].object["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["status"] == "True"
    assert (
        "configmaps. has 1 resource instances" in conditions["NamespaceContentRemaining"]["message"]
    )
    assert conditions["NamespaceFinalizersRemaining"]["message"].endswith(
        "example.com/x in 1 resource instances"
    )
    assert ctl.queue.waiting() == 1  # looked at again later, not failed

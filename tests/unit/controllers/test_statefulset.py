"""StatefulSet controller in the style of stateful_set_control_test.go: seed, sync, assert."""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api import meta
from pyk8s.controllers import history, statefulset
from pyk8s.controllers.resources import (
    CONTROLLERREVISIONS,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    STATEFULSETS,
)
from pyk8s.controllers.statefulset import identity
from tests.unit.controllers.conftest import Harness, obj

LABELS = {"app": "web"}
KEY = "default/web"


def new_sts(replicas: int, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "replicas": replicas,
        "serviceName": "web",
        "selector": {"matchLabels": LABELS},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "podManagementPolicy": "OrderedReady",
        "revisionHistoryLimit": 10,
        "template": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
        },
    }
    body.update(spec)
    return obj("StatefulSet", "web", spec=body, metadata={"annotations": {"note": "v1"}})


def pods(h: Harness) -> dict[str, dict[str, Any]]:
    return {
        p["metadata"]["name"]: p
        for p in h.client.objects(PODS)
        if not p["metadata"].get("deletionTimestamp")
    }


async def make_ready(h: Harness) -> None:
    """What kubelet would do: every pod Running and Ready."""
    since = meta.format_time(datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1))
    for pod in h.client.objects(PODS):
        if (pod.get("status") or {}).get("phase") == "Running":
            continue
        pod["status"] = {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": since}],
        }
        await h.client.update(PODS, pod, "default", subresource="status")
    await h.settle()


async def sync(h: Harness, ctl: statefulset.StatefulSetController) -> None:
    await h.settle()
    await ctl.reconcile(KEY)
    await h.settle()


async def mark_created(h: Harness) -> None:
    """The API server gives new pods the Pending phase; the fake client does not."""
    for pod in h.client.objects(PODS):
        if not (pod.get("status") or {}).get("phase"):
            pod["status"] = {"phase": "Pending"}
            await h.client.update(PODS, pod, "default", subresource="status")
    await h.settle()


async def test_ordered_ready_creates_one_pod_at_a_time_with_identity(harness: Harness) -> None:
    sts = harness.client.add(STATEFULSETS, new_sts(3))
    ctl = await harness.start(statefulset.new)
    await sync(harness, ctl)
    assert list(pods(harness)) == ["web-0"]
    pod = pods(harness)["web-0"]
    (cr,) = harness.client.objects(CONTROLLERREVISIONS)
    labels = pod["metadata"]["labels"]
    assert labels[identity.POD_NAME_LABEL] == "web-0"
    assert labels[identity.POD_INDEX_LABEL] == "0"
    assert labels[identity.REVISION_LABEL] == cr["metadata"]["name"]
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-0", "web")
    assert pod["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
    assert cr["metadata"]["name"].startswith("web-")
    assert cr["metadata"]["annotations"] == {"note": "v1"}
    assert cr["revision"] == 1
    assert cr["data"] == history.template_patch(sts)
    status = harness.client.objects(STATEFULSETS)[0]["status"]
    assert status["observedGeneration"] == 1
    assert status["currentRevision"] == status["updateRevision"] == cr["metadata"]["name"]
    # web-0 is not Ready: nothing more happens
    await mark_created(harness)
    await sync(harness, ctl)
    assert list(pods(harness)) == ["web-0"]
    await make_ready(harness)
    await sync(harness, ctl)
    assert sorted(pods(harness)) == ["web-0", "web-1"]
    await mark_created(harness)
    await make_ready(harness)
    await sync(harness, ctl)
    await mark_created(harness)
    await make_ready(harness)
    await sync(harness, ctl)
    assert sorted(pods(harness)) == ["web-0", "web-1", "web-2"]
    status = harness.client.objects(STATEFULSETS)[0]["status"]
    assert (status["replicas"], status["readyReplicas"], status["currentReplicas"]) == (3, 3, 3)
    assert status["availableReplicas"] == 3


async def test_parallel_creates_all_and_claims_before_pods(harness: Harness) -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    harness.client.add(
        STATEFULSETS,
        new_sts(3, podManagementPolicy="Parallel", volumeClaimTemplates=[claim]),
    )
    ctl = await harness.start(statefulset.new)
    await sync(harness, ctl)
    assert sorted(pods(harness)) == ["web-0", "web-1", "web-2"]
    claims = {c["metadata"]["name"]: c for c in harness.client.objects(PERSISTENTVOLUMECLAIMS)}
    assert sorted(claims) == ["data-web-0", "data-web-1", "data-web-2"]
    assert claims["data-web-1"]["metadata"]["labels"] == LABELS
    first_pod = next(
        i for i, a in enumerate(harness.client.actions) if a.verb == "create" and a.resource == PODS
    )
    first_claim = next(
        i
        for i, a in enumerate(harness.client.actions)
        if a.verb == "create" and a.resource == PERSISTENTVOLUMECLAIMS
    )
    assert first_claim < first_pod
    vols = pods(harness)["web-2"]["spec"]["volumes"]
    assert vols == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}}]


async def _three_ready(harness: Harness, **spec: Any) -> statefulset.StatefulSetController:
    harness.client.add(STATEFULSETS, new_sts(3, podManagementPolicy="Parallel", **spec))
    ctl = await harness.start(statefulset.new)
    await sync(harness, ctl)
    await mark_created(harness)
    await make_ready(harness)
    await sync(harness, ctl)
    return ctl


async def _set_image(harness: Harness, image: str) -> None:
    sts = harness.client.objects(STATEFULSETS)[0]
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
    await harness.client.update(STATEFULSETS, sts, "default")


async def test_rolling_update_replaces_highest_ordinal_first(harness: Harness) -> None:
    ctl = await _three_ready(harness)
    await _set_image(harness, "nginx:2")
    harness.client.clear_actions()
    await sync(harness, ctl)
    deletes = [a.name for a in harness.client.actions_of("delete", "pods")]
    assert deletes == ["web-2"]
    revisions = history.sort_revisions(harness.client.objects(CONTROLLERREVISIONS))
    assert [r["revision"] for r in revisions] == [1, 2]
    status = harness.client.objects(STATEFULSETS)[0]["status"]
    assert status["updateRevision"] == revisions[1]["metadata"]["name"]
    assert status["currentRevision"] == revisions[0]["metadata"]["name"]
    assert status["observedGeneration"] == 2


async def test_partition_keeps_lower_ordinals(harness: Harness) -> None:
    ctl = await _three_ready(
        harness, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    )
    await _set_image(harness, "nginx:2")
    await sync(harness, ctl)  # deletes web-2
    await sync(harness, ctl)  # recreates it at the new revision
    await mark_created(harness)
    await make_ready(harness)
    harness.client.clear_actions()
    await sync(harness, ctl)
    assert harness.client.actions_of("delete", "pods") == []
    images = {n: p["spec"]["containers"][0]["image"] for n, p in sorted(pods(harness).items())}
    assert images == {"web-0": "nginx:1", "web-1": "nginx:1", "web-2": "nginx:2"}


async def test_on_delete_leaves_pods_alone(harness: Harness) -> None:
    ctl = await _three_ready(harness, updateStrategy={"type": "OnDelete"})
    await _set_image(harness, "nginx:2")
    harness.client.clear_actions()
    await sync(harness, ctl)
    assert harness.client.actions_of("delete", "pods") == []
    status = harness.client.objects(STATEFULSETS)[0]["status"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (3, 0)


async def test_scale_down_removes_highest_ordinal_and_rollback_renumbers(
    harness: Harness,
) -> None:
    ctl = await _three_ready(harness)
    sts = harness.client.objects(STATEFULSETS)[0]
    sts["spec"]["replicas"] = 1
    await harness.client.update(STATEFULSETS, sts, "default")
    harness.client.clear_actions()
    await sync(harness, ctl)
    # Parallel: both condemned pods go at once, highest ordinal first
    assert [a.name for a in harness.client.actions_of("delete", "pods")] == ["web-2", "web-1"]
    # a new template, then the old one again: the first revision comes back as number 3
    await _set_image(harness, "nginx:2")
    await sync(harness, ctl)
    await _set_image(harness, "nginx:1")
    await sync(harness, ctl)
    revisions = history.sort_revisions(harness.client.objects(CONTROLLERREVISIONS))
    assert len(revisions) == 2
    assert revisions[-1]["revision"] == 3
    images = [r["data"]["spec"]["template"]["spec"]["containers"][0]["image"] for r in revisions]
    assert images == ["nginx:2", "nginx:1"]


async def test_retention_policy_delete_when_scaled_owns_claims_by_pod(harness: Harness) -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    ctl = await _three_ready(
        harness,
        volumeClaimTemplates=[claim],
        persistentVolumeClaimRetentionPolicy={"whenScaled": "Delete", "whenDeleted": "Delete"},
    )
    sts = harness.client.objects(STATEFULSETS)[0]
    await sync(harness, ctl)
    by_name = {c["metadata"]["name"]: c for c in harness.client.objects(PERSISTENTVOLUMECLAIMS)}
    (ref,) = by_name["data-web-2"]["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["uid"]) == ("StatefulSet", sts["metadata"]["uid"])
    sts["spec"]["replicas"] = 2
    await harness.client.update(STATEFULSETS, sts, "default")
    await sync(harness, ctl)
    by_name = {c["metadata"]["name"]: c for c in harness.client.objects(PERSISTENTVOLUMECLAIMS)}
    (ref,) = by_name["data-web-2"]["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"]) == ("Pod", "web-2")
    (ref,) = by_name["data-web-1"]["metadata"]["ownerReferences"]
    assert ref["kind"] == "StatefulSet"

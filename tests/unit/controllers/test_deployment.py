"""Deployment controller on the fake client: seed, reconcile once, assert the actions."""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.controllers import deployment
from pyk8s.controllers.deployment import revisions
from pyk8s.controllers.resources import DEPLOYMENTS, REPLICASETS
from tests.unit.controllers.conftest import Harness, obj

LABELS = {"app": "web"}


def new_deployment(replicas: int = 4, image: str = "nginx:1", **spec: Any) -> dict[str, Any]:
    body = obj(
        "Deployment",
        "web",
        spec={
            "replicas": replicas,
            "selector": {"matchLabels": LABELS},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    )
    return body


def rs_for(
    d: dict[str, Any], image: str, replicas: int, available: int, revision: int
) -> dict[str, Any]:
    template = copy.deepcopy(d["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    pod_hash = revisions.compute_hash(template, None)
    template["metadata"]["labels"]["pod-template-hash"] = pod_hash
    return obj(
        "ReplicaSet",
        f"web-{pod_hash}",
        metadata={
            "labels": template["metadata"]["labels"],
            "annotations": {revisions.REVISION: str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "web",
                    "uid": d["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        spec={
            "replicas": replicas,
            "selector": {"matchLabels": template["metadata"]["labels"]},
            "template": template,
        },
        status={"replicas": replicas, "readyReplicas": available, "availableReplicas": available},
    )


def replica_sets(h: Harness) -> dict[str, dict[str, Any]]:
    return {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs
        for rs in h.client.objects(REPLICASETS)
    }


async def test_new_deployment_creates_first_replicaset(harness: Harness) -> None:
    harness.client.add(DEPLOYMENTS, new_deployment(3))
    ctl = await harness.start(deployment.new)
    await ctl.reconcile("default/web")
    (create,) = harness.client.actions_of("create", "replicasets")
    rs = create.object
    assert rs is not None
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {**LABELS, "pod-template-hash": pod_hash}
    assert rs["spec"]["replicas"] == 3
    annotations = rs["metadata"]["annotations"]
    assert annotations[revisions.REVISION] == "1"
    assert (annotations[revisions.DESIRED_REPLICAS], annotations[revisions.MAX_REPLICAS]) == (
        "3",
        "4",
    )
    d = harness.client.objects(DEPLOYMENTS)[0]
    assert d["metadata"]["annotations"][revisions.REVISION] == "1"
    progressing = {c["type"]: c for c in d["status"]["conditions"]}["Progressing"]
    assert progressing["reason"] == "NewReplicaSetCreated"


async def test_rolling_update_surges_one_without_scaling_down(harness: Harness) -> None:
    d = harness.client.add(DEPLOYMENTS, new_deployment(4, image="nginx:2"))
    harness.client.add(REPLICASETS, rs_for(d, "nginx:1", 4, 4, 1))
    ctl = await harness.start(deployment.new)
    await ctl.reconcile("default/web")
    sets = replica_sets(harness)
    assert sets["nginx:2"]["spec"]["replicas"] == 1
    assert sets["nginx:2"]["metadata"]["annotations"][revisions.REVISION] == "2"
    assert sets["nginx:1"]["spec"]["replicas"] == 4  # maxUnavailable 0: wait for the new pod


async def test_rolling_update_scales_old_down_once_new_is_available(harness: Harness) -> None:
    d = harness.client.add(DEPLOYMENTS, new_deployment(4, image="nginx:2"))
    harness.client.add(REPLICASETS, rs_for(d, "nginx:1", 4, 4, 1))
    harness.client.add(REPLICASETS, rs_for(d, "nginx:2", 1, 1, 2))
    ctl = await harness.start(deployment.new)
    await ctl.reconcile("default/web")
    sets = replica_sets(harness)
    assert (sets["nginx:1"]["spec"]["replicas"], sets["nginx:2"]["spec"]["replicas"]) == (3, 1)


async def test_recreate_scales_old_to_zero_first(harness: Harness) -> None:
    d = harness.client.add(
        DEPLOYMENTS, new_deployment(2, image="nginx:2", strategy={"type": "Recreate"})
    )
    harness.client.add(REPLICASETS, rs_for(d, "nginx:1", 2, 2, 1))
    ctl = await harness.start(deployment.new)
    await ctl.reconcile("default/web")
    assert harness.client.actions_of("create", "replicasets") == []
    assert replica_sets(harness)["nginx:1"]["spec"]["replicas"] == 0


async def test_history_limit_deletes_oldest_unused(harness: Harness) -> None:
    d = harness.client.add(DEPLOYMENTS, new_deployment(1, image="nginx:4", revisionHistoryLimit=1))
    for rev, image in enumerate(["nginx:1", "nginx:2", "nginx:3"], start=1):
        harness.client.add(REPLICASETS, rs_for(d, image, 0, 0, rev))
    harness.client.add(REPLICASETS, rs_for(d, "nginx:4", 1, 1, 4))
    ctl = await harness.start(deployment.new)
    await ctl.reconcile("default/web")
    assert sorted(replica_sets(harness)) == ["nginx:3", "nginx:4"]


async def test_paused_deployment_does_not_roll_out(harness: Harness) -> None:
    d = harness.client.add(DEPLOYMENTS, new_deployment(2, image="nginx:2", paused=True))
    harness.client.add(REPLICASETS, rs_for(d, "nginx:1", 2, 2, 1))
    ctl = await harness.start(deployment.new)
    await ctl.reconcile("default/web")
    assert harness.client.actions_of("create", "replicasets") == []
    status = harness.client.objects(DEPLOYMENTS)[0]["status"]
    progressing = {c["type"]: c for c in status["conditions"]}["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


def test_rolling_parameters_round_like_upstream() -> None:
    d = new_deployment(10)
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert revisions.rolling_params(d) == (3, 2)  # surge rounds up, unavailable down
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 0, "maxUnavailable": 0}
    assert revisions.rolling_params(d) == (0, 1)


def test_hash_ignores_go_empty_values() -> None:
    t = {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "c"}]}}
    same = {
        "metadata": {"labels": LABELS, "creationTimestamp": None},
        "spec": {"containers": [{"name": "c", "resources": {}}]},
    }
    assert revisions.compute_hash(t, None) == revisions.compute_hash(same, None)
    assert revisions.compute_hash(t, None) != revisions.compute_hash(t, 1)


def test_progress_deadline_exceeded() -> None:
    import datetime

    from pyk8s.controllers.deployment import progress

    d = new_deployment(2, progressDeadlineSeconds=60)
    d["metadata"]["generation"] = 1
    d["status"] = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 1,
        "availableReplicas": 1,
        "conditions": [
            {
                "type": "Progressing",
                "status": "True",
                "reason": "ReplicaSetUpdated",
                "lastUpdateTime": "2026-01-01T00:00:00Z",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    }
    new_rs = {"metadata": {"name": "web-abc"}, "status": {"replicas": 1, "availableReplicas": 1}}
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    status = copy.deepcopy(d["status"])
    recheck = progress.rollout_status(d, status, new_rs, start + datetime.timedelta(seconds=30))
    assert recheck is not None and 30 < recheck <= 32  # look again when the deadline passes
    status = copy.deepcopy(d["status"])
    assert (
        progress.rollout_status(d, status, new_rs, start + datetime.timedelta(seconds=61)) is None
    )
    cond = {c["type"]: c for c in status["conditions"]}["Progressing"]
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"] == 'ReplicaSet "web-abc" has timed out progressing.'

"""DaemonSet controller in the style of daemon_controller_test.go: seed, sync, assert."""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api import meta
from pyk8s.controllers import daemonset, history
from pyk8s.controllers.daemonset import nodes
from pyk8s.controllers.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from tests.unit.controllers.conftest import Harness, obj

LABELS = {"app": "agent"}
KEY = "default/agent"


def new_ds(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": LABELS},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "revisionHistoryLimit": 10,
        "template": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {"containers": [{"name": "c", "image": "agent:1"}]},
        },
    }
    body.update(spec)
    return obj(
        "DaemonSet",
        "agent",
        spec=body,
        metadata={"annotations": {"kubernetes.io/change-cause": "one"}},
    )


def node(name: str, labels: dict[str, str] | None = None, taints: list[Any] | None = None) -> Any:
    return obj("Node", name, None, metadata={"labels": labels or {}}, spec={"taints": taints or []})


def live_pods(h: Harness) -> list[dict[str, Any]]:
    return [p for p in h.client.objects(PODS) if not p["metadata"].get("deletionTimestamp")]


async def sync(h: Harness, ctl: daemonset.DaemonSetController) -> None:
    await h.settle()
    await ctl.reconcile(KEY)
    await h.settle()


async def make_ready(h: Harness) -> None:
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


async def test_one_pod_per_eligible_node_pinned_by_affinity(harness: Harness) -> None:
    harness.client.add(NODES, node("a", {"disk": "ssd"}))
    harness.client.add(NODES, node("b"))
    harness.client.add(NODES, node("c", taints=[{"key": "dedicated", "effect": "NoSchedule"}]))
    harness.client.add(
        NODES, node("d", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    )
    harness.client.add(DAEMONSETS, new_ds())
    ctl = await harness.start(daemonset.new)
    await sync(harness, ctl)
    by_node = {nodes.target_node(p): p for p in live_pods(harness)}
    assert sorted(by_node) == ["a", "b", "d"]  # c's taint is not tolerated; d's is, by default
    pod = by_node["a"]
    (cr,) = harness.client.objects(CONTROLLERREVISIONS)
    assert (
        pod["metadata"]["labels"]["controller-revision-hash"]
        == (cr["metadata"]["labels"]["controller-revision-hash"])
    )
    assert cr["metadata"]["annotations"] == {"kubernetes.io/change-cause": "one"}
    assert cr["data"] == history.template_patch(harness.client.objects(DAEMONSETS)[0])
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
    status = harness.client.objects(DAEMONSETS)[0]["status"]
    assert status["desiredNumberScheduled"] == 3
    assert status["currentNumberScheduled"] == 3
    assert status["numberUnavailable"] == 3
    assert status["observedGeneration"] == 1
    # a second sync changes nothing
    harness.client.clear_actions()
    await sync(harness, ctl)
    assert harness.client.actions_of("create", "pods") == []


async def test_node_selector_limits_nodes(harness: Harness) -> None:
    harness.client.add(NODES, node("a", {"disk": "ssd"}))
    harness.client.add(NODES, node("b"))
    ds = new_ds()
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    harness.client.add(DAEMONSETS, ds)
    ctl = await harness.start(daemonset.new)
    await sync(harness, ctl)
    assert [nodes.target_node(p) for p in live_pods(harness)] == ["a"]


async def test_rolling_update_respects_max_unavailable_and_rollback(harness: Harness) -> None:
    for name in "abc":
        harness.client.add(NODES, node(name))
    harness.client.add(DAEMONSETS, new_ds())
    ctl = await harness.start(daemonset.new)
    await sync(harness, ctl)
    await make_ready(harness)
    ds = harness.client.objects(DAEMONSETS)[0]
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    await harness.client.update(DAEMONSETS, ds, "default")
    harness.client.clear_actions()
    await sync(harness, ctl)
    assert len(harness.client.actions_of("delete", "pods")) == 1  # maxUnavailable 1
    revisions = history.sort_revisions(harness.client.objects(CONTROLLERREVISIONS))
    assert [r["revision"] for r in revisions] == [1, 2]
    # back to the first template: its revision is renumbered, no third one is made
    ds = harness.client.objects(DAEMONSETS)[0]
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:1"
    await harness.client.update(DAEMONSETS, ds, "default")
    await sync(harness, ctl)
    revisions = history.sort_revisions(harness.client.objects(CONTROLLERREVISIONS))
    images = [r["data"]["spec"]["template"]["spec"]["containers"][0]["image"] for r in revisions]
    assert images == ["agent:2", "agent:1"]
    assert [r["revision"] for r in revisions] == [2, 3]


async def test_on_delete_does_not_replace(harness: Harness) -> None:
    harness.client.add(NODES, node("a"))
    harness.client.add(DAEMONSETS, new_ds(updateStrategy={"type": "OnDelete"}))
    ctl = await harness.start(daemonset.new)
    await sync(harness, ctl)
    await make_ready(harness)
    ds = harness.client.objects(DAEMONSETS)[0]
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    await harness.client.update(DAEMONSETS, ds, "default")
    harness.client.clear_actions()
    await sync(harness, ctl)
    assert harness.client.actions_of("delete", "pods") == []
    status = harness.client.objects(DAEMONSETS)[0]["status"]
    assert (status["updatedNumberScheduled"], status["numberReady"]) == (0, 1)

"""kubectl 1.33 against a real ``pyk8s server``: StatefulSets and DaemonSets as their
controllers run them -- ordered creation with stable identities and claims, rolling
updates, ``rollout status|history|undo`` over ControllerRevisions, scale down.

No kubelet runs here: the kubelet stand-in marks pods Running and Ready.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.apiserver.conftest import Server
from tests.e2e.controllers.conftest import get_json, kubectl, kubelet_stand_in, wait_for

pytestmark = pytest.mark.e2e

NS = "apps"

STATEFULSET = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: apps
  annotations: {kubernetes.io/change-cause: first}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Retain}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: "nginx:1.26"}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""

DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: apps
  annotations: {kubernetes.io/change-cause: first}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: agent, image: "busybox:1.36"}]
"""


def k(cluster: Server, *args: str, check: bool = True, timeout: float = 60) -> str:
    return kubectl(cluster, "-n", NS, *args, check=check, timeout=timeout)


def live_pods(cluster: Server, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(cluster, "pods", "-n", NS, "-l", selector)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def image_of(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def revisions(cluster: Server, selector: str) -> dict[int, dict[str, Any]]:
    items = get_json(cluster, "controllerrevisions", "-n", NS, "-l", selector)["items"]
    return {int(r["revision"]): r for r in items}


@pytest.fixture(scope="module")
def namespace(cluster: Server) -> str:
    kubectl(cluster, "create", "namespace", NS)
    return NS


def test_statefulset_identity_rollout_history_and_undo(cluster: Server, namespace: str) -> None:
    with kubelet_stand_in(cluster, NS):
        cluster.kubectl("1.33", "apply", "-f", "-", input=STATEFULSET)
        out = k(cluster, "rollout", "status", "sts/web", "--timeout=90s", timeout=120)
        assert "roll out complete" in out or "partitioned roll out complete" in out, out
        pods = {p["metadata"]["name"]: p for p in live_pods(cluster, "app=web")}
        assert sorted(pods) == ["web-0", "web-1", "web-2"]
        # OrderedReady: each pod was created after its predecessor
        created = [pods[f"web-{i}"]["metadata"]["creationTimestamp"] for i in range(3)]
        assert created == sorted(created)
        web1 = pods["web-1"]
        assert web1["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
        assert web1["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
        assert (web1["spec"]["hostname"], web1["spec"]["subdomain"]) == ("web-1", "web")
        volumes = {v["name"]: v for v in web1["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "data-web-1"
        claims = get_json(cluster, "pvc", "-n", NS)["items"]
        assert sorted(c["metadata"]["name"] for c in claims) == [
            "data-web-0",
            "data-web-1",
            "data-web-2",
        ]

        k(cluster, "set", "image", "sts/web", "nginx=nginx:1.27")
        k(cluster, "annotate", "sts/web", "kubernetes.io/change-cause=second", "--overwrite")
        out = k(cluster, "rollout", "status", "sts/web", "--timeout=90s", timeout=120)
        assert "roll out complete" in out, out
        sts = get_json(cluster, "sts", "web", "-n", NS)
        status = sts["status"]
        assert status["currentRevision"] == status["updateRevision"]
        assert status["updatedReplicas"] == status["readyReplicas"] == 3
        pods = {p["metadata"]["name"]: p for p in live_pods(cluster, "app=web")}
        assert {p["spec"]["containers"][0]["image"] for p in pods.values()} == {"nginx:1.27"}
        assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods.values()} == {
            status["updateRevision"]
        }

        history = k(cluster, "rollout", "history", "sts/web")
        assert "1         first" in history and "2         " in history, history
        detail = k(cluster, "rollout", "history", "sts/web", "--revision=1")
        assert "nginx:1.26" in detail
        out = k(cluster, "rollout", "undo", "sts/web", "--to-revision=2")
        assert "skipped rollback" in out, out
        missing = cluster.kubectl(
            "1.33", "-n", NS, "rollout", "undo", "sts/web", "--to-revision=9", check=False
        )
        assert missing.returncode != 0
        assert "unable to find specified revision" in missing.stderr
        k(cluster, "rollout", "undo", "sts/web", "--to-revision=1")
        assert image_of(get_json(cluster, "sts", "web", "-n", NS)) == "nginx:1.26"
        out = k(cluster, "rollout", "status", "sts/web", "--timeout=90s", timeout=120)
        assert "roll out complete" in out, out
        revs = wait_for(lambda: (r := revisions(cluster, "app=web")) and 3 in r and r, what="rev 3")
        assert sorted(revs) == [2, 3]  # revision 1 came back as 3
        assert image_of(revs[3]["data"]) == "nginx:1.26"

        k(cluster, "scale", "sts/web", "--replicas=1")
        wait_for(
            lambda: [p["metadata"]["name"] for p in live_pods(cluster, "app=web")] == ["web-0"],
            what="scaled down to web-0",
        )
    # whenScaled: Delete -- the claims of the removed pods now belong to them
    claims = {c["metadata"]["name"]: c for c in get_json(cluster, "pvc", "-n", NS)["items"]}
    owners = {
        n: [r["kind"] for r in c["metadata"].get("ownerReferences") or []]
        for n, c in claims.items()
    }
    assert owners["data-web-0"] == []
    assert owners.get("data-web-2", ["Pod"]) == ["Pod"]


def test_daemonset_one_pod_per_node_rollout_history_and_undo(
    cluster: Server, namespace: str
) -> None:
    for name in ("worker-a", "worker-b"):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
        cluster.kubectl("1.33", "create", "-f", "-", input=json.dumps(node))
    with kubelet_stand_in(cluster, NS):
        cluster.kubectl("1.33", "apply", "-f", "-", input=DAEMONSET)

        def pods_by_node() -> dict[str, dict[str, Any]]:
            out = {}
            for p in live_pods(cluster, "app=agent"):
                terms = p["spec"]["affinity"]["nodeAffinity"][
                    "requiredDuringSchedulingIgnoredDuringExecution"
                ]["nodeSelectorTerms"]
                out[terms[0]["matchFields"][0]["values"][0]] = p
            return out

        by_node = wait_for(
            lambda: (b := pods_by_node()) and {"worker-a", "worker-b"} <= set(b) and b,
            what="a pod per node",
        )
        assert len([n for n in by_node if n.startswith("worker-")]) == 2
        out = k(cluster, "rollout", "status", "ds/agent", "--timeout=90s", timeout=120)
        assert "successfully rolled out" in out, out

        k(cluster, "set", "image", "ds/agent", "agent=busybox:1.37")
        k(cluster, "annotate", "ds/agent", "kubernetes.io/change-cause=second", "--overwrite")
        out = k(cluster, "rollout", "status", "ds/agent", "--timeout=90s", timeout=120)
        assert "successfully rolled out" in out, out
        images = {p["spec"]["containers"][0]["image"] for p in pods_by_node().values()}
        assert images == {"busybox:1.37"}

        history = k(cluster, "rollout", "history", "ds/agent")
        assert "1         first" in history, history
        out = k(cluster, "rollout", "undo", "ds/agent")
        assert "rolled back" in out, out
        assert image_of(get_json(cluster, "ds", "agent", "-n", NS)) == "busybox:1.36"
        out = k(cluster, "rollout", "status", "ds/agent", "--timeout=90s", timeout=120)
        assert "successfully rolled out" in out, out
        images = {p["spec"]["containers"][0]["image"] for p in pods_by_node().values()}
        assert images == {"busybox:1.36"}
        revs = wait_for(
            lambda: (r := revisions(cluster, "app=agent")) and 3 in r and r, what="revision 3"
        )
        assert sorted(revs) == [2, 3]
        assert revs[3]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first"
        out = k(cluster, "rollout", "undo", "ds/agent", "--to-revision=3")
        assert "skipped rollback" in out, out
    k(cluster, "delete", "ds", "agent")
    wait_for(lambda: not live_pods(cluster, "app=agent"), what="daemon pods gone")
    for name in ("worker-a", "worker-b"):
        kubectl(cluster, "delete", "node", name)

"""kubectl 1.33 against a real ``pyk8s server``: deployments, scaling, rollouts, cascading
deletes and namespace deletion, as the controllers carry them out.

No kubelet runs here: pods stay unscheduled unless the kubelet stand-in marks them Ready.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.apiserver.conftest import Server
from tests.e2e.controllers.conftest import get_json, kubectl, kubelet_stand_in, wait_for

pytestmark = pytest.mark.e2e


def pods_of(cluster: Server, selector: str, ns: str = "default") -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = get_json(cluster, "pods", "-n", ns, "-l", selector)["items"]  # type: ignore[type-arg]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def test_create_deployment_makes_pods_with_owner_chain(cluster: Server) -> None:
    kubectl(cluster, "create", "deployment", "web", "--image=nginx", "--replicas=3")
    pods = wait_for(lambda: (p := pods_of(cluster, "app=web")) and len(p) == 3 and p, what="3 pods")
    deploy = get_json(cluster, "deployment", "web")
    (rs,) = get_json(cluster, "replicasets", "-l", "app=web")["items"]
    assert rs["metadata"]["ownerReferences"][0]["uid"] == deploy["metadata"]["uid"]
    for pod in pods:
        ref = pod["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["uid"]) == (
            "ReplicaSet",
            rs["metadata"]["name"],
            rs["metadata"]["uid"],
        )
        assert pod["metadata"]["name"].startswith(rs["metadata"]["name"] + "-")


def test_scale(cluster: Server) -> None:
    kubectl(cluster, "scale", "deployment", "web", "--replicas=5")
    wait_for(lambda: len(pods_of(cluster, "app=web")) == 5, what="5 pods")
    kubectl(cluster, "scale", "deployment", "web", "--replicas=1")
    wait_for(lambda: len(pods_of(cluster, "app=web")) == 1, what="1 pod")


def test_rollout_status_history_undo(cluster: Server) -> None:
    with kubelet_stand_in(cluster):
        kubectl(cluster, "scale", "deployment", "web", "--replicas=3")
        out = kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        assert 'deployment "web" successfully rolled out' in out
        kubectl(cluster, "set", "image", "deployment/web", "nginx=nginx:1.27")
        out = kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        assert 'deployment "web" successfully rolled out' in out
        history = kubectl(cluster, "rollout", "history", "deployment/web")
        assert "1 " in history and "2 " in history, history
        image2 = get_json(cluster, "deployment", "web")["spec"]["template"]["spec"]["containers"]
        assert image2[0]["image"] == "nginx:1.27"
        kubectl(cluster, "rollout", "undo", "deployment/web")
        out = kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        assert "successfully rolled out" in out
        d = get_json(cluster, "deployment", "web")
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        kubectl(cluster, "rollout", "pause", "deployment/web")
        wait_for(
            lambda: any(
                c.get("reason") == "DeploymentPaused"
                for c in get_json(cluster, "deployment", "web")["status"]["conditions"]
            ),
            what="DeploymentPaused",
        )
        kubectl(cluster, "rollout", "resume", "deployment/web")
        kubectl(cluster, "rollout", "restart", "deployment/web")
        out = kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        assert "successfully rolled out" in out
        assert len(get_json(cluster, "replicasets", "-l", "app=web")["items"]) == 3


def test_cascade_orphan_keeps_replicaset(cluster: Server) -> None:
    kubectl(cluster, "create", "deployment", "keep", "--image=nginx", "--replicas=2")
    wait_for(lambda: len(pods_of(cluster, "app=keep")) == 2, what="2 pods")
    kubectl(cluster, "delete", "deployment", "keep", "--cascade=orphan")
    sets = wait_for(
        lambda: [
            rs
            for rs in get_json(cluster, "replicasets", "-l", "app=keep")["items"]
            if not rs["metadata"].get("ownerReferences")
        ],
        what="orphaned ReplicaSet",
    )
    assert len(sets) == 1
    assert len(pods_of(cluster, "app=keep")) == 2
    kubectl(cluster, "delete", "replicaset", "-l", "app=keep", "--cascade=foreground")
    wait_for(lambda: not pods_of(cluster, "app=keep"), what="pods gone")


def test_replication_controller(cluster: Server) -> None:
    rc = """
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: c, image: busybox}]}
"""
    cluster.kubectl("1.33", "apply", "-f", "-", input=rc)
    wait_for(lambda: len(pods_of(cluster, "app=legacy")) == 2, what="2 pods")
    kubectl(cluster, "delete", "rc", "legacy")
    wait_for(lambda: not pods_of(cluster, "app=legacy"), what="pods gone")


def test_namespace_defaults_and_delete(cluster: Server) -> None:
    kubectl(cluster, "create", "namespace", "x")
    wait_for(
        lambda: kubectl(cluster, "get", "sa", "default", "-n", "x", check=False), what="default SA"
    )
    wait_for(
        lambda: kubectl(cluster, "get", "cm", "kube-root-ca.crt", "-n", "x", check=False),
        what="kube-root-ca.crt",
    )
    kubectl(cluster, "create", "deployment", "inner", "--image=nginx", "--replicas=2", "-n", "x")
    kubectl(cluster, "create", "configmap", "settings", "--from-literal=a=b", "-n", "x")
    wait_for(lambda: len(pods_of(cluster, "app=inner", "x")) == 2, what="pods in x")
    kubectl(cluster, "delete", "namespace", "x", "--timeout=60s", timeout=90)
    res = cluster.kubectl("1.33", "get", "namespace", "x", check=False)
    assert res.returncode != 0 and "NotFound" in res.stderr


def test_service_endpoints_and_slices(cluster: Server) -> None:
    kubectl(cluster, "create", "deployment", "api", "--image=nginx", "--replicas=2", "--port=80")
    kubectl(cluster, "expose", "deployment", "api", "--port=8080", "--target-port=80")
    pods = wait_for(lambda: (p := pods_of(cluster, "app=api")) and len(p) == 2 and p, what="pods")
    # No kubelet: give the pods addresses and readiness as one would.
    for i, pod in enumerate(pods):
        status = {
            "phase": "Running",
            "podIP": f"10.42.0.{10 + i}",
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        patch = json.dumps({"status": status})
        kubectl(
            cluster,
            "patch",
            "pod",
            pod["metadata"]["name"],
            "--subresource=status",
            "--type=merge",
            "-p",
            patch,
        )

    def endpoints() -> list[str] | None:
        ep = get_json(cluster, "endpoints", "api")
        ips = sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])
        return ips if len(ips) == 2 else None

    assert wait_for(endpoints, what="endpoints") == ["10.42.0.10", "10.42.0.11"]
    slices = wait_for(
        lambda: [
            s
            for s in get_json(cluster, "endpointslices", "-l", "kubernetes.io/service-name=api")[
                "items"
            ]
            if len(s.get("endpoints") or []) == 2
        ],
        what="endpointslice",
    )
    assert slices[0]["ports"][0]["port"] == 80
    assert all(e["conditions"]["ready"] for e in slices[0]["endpoints"])
    out = kubectl(cluster, "get", "endpoints", "api")
    assert "10.42.0.10:80" in out


def test_node_gets_pod_cidr(cluster: Server) -> None:
    node = '{"apiVersion":"v1","kind":"Node","metadata":{"name":"hand-made"}}'
    cluster.kubectl("1.33", "create", "-f", "-", input=node)
    cidr = wait_for(
        lambda: get_json(cluster, "node", "hand-made").get("spec", {}).get("podCIDR"),
        what="podCIDR",
    )
    assert cidr.startswith("10.42.") and cidr.endswith(".0/24")
    kubectl(cluster, "delete", "node", "hand-made")

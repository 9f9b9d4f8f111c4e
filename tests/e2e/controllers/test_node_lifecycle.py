"""Node lifecycle and taint eviction against a real ``pyk8s server`` with kubectl 1.33.

No kubelet: two Node objects stand in for nodes, and this test renews one's Lease by
hand while the other falls silent. The server runs with short node-monitor periods
(kube-controller-manager's flags) so the 50 s default grace does not make the test slow.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.apiserver.conftest import Server, _wait_ready, free_port, kubectl_binary
from tests.e2e.controllers.conftest import get_json, kubectl, log_tail, wait_for

GRACE = 8  # seconds; the lease renewals below must beat it on a loaded machine
UNREACHABLE = "node.kubernetes.io/unreachable"


def micro_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if kubectl_binary("1.33") is None:
        pytest.skip("kubectl.1.33 is not installed")
    data = tmp_path_factory.mktemp("pyk8s-nodes")
    port = free_port()
    with (data / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyk8s",
                "server",
                "--disable-agent",
                "--disable-scheduler",
                "--data-dir",
                str(data),
                "--https-port",
                str(port),
                "--bind-address",
                "127.0.0.1",
                "--node-monitor-period=1s",
                f"--node-monitor-grace-period={GRACE}s",
                "--node-startup-grace-period=2s",
                "--node-eviction-rate=1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(port, data / "server" / "tls" / "ca.crt", proc, time.monotonic() + 30)
            yield Server(data, port, data / "kubeconfig.yaml", data / "cache", proc)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def node(name: str) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ]
        },
    }


def lease(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_now()},
    }


def pod(
    name: str, node_name: str, tolerations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeName": node_name,
        "containers": [{"name": "c", "image": "busybox"}],
    }
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def apply(cluster: Server, *objs: dict[str, Any]) -> None:
    doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)})
    cluster.kubectl("1.33", "create", "-f", "-", input=doc)


def renew_leases(cluster: Server, names: list[str], stop: threading.Event) -> None:
    while not stop.is_set():
        for name in names:
            patch = json.dumps({"spec": {"renewTime": micro_now()}})
            cluster.kubectl(
                "1.33", "patch", "lease", name, "-n", "kube-node-lease", "-p", patch, check=False
            )
        stop.wait(0.5)


def seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def taint_set(n: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}


# the whole life of a node, after the module's server start: 93 s on a loaded 2-core
# machine, too near the suite's 120 s per test
@pytest.mark.timeout(240)
def test_silent_node_goes_unknown_is_tainted_and_its_pods_evicted(cluster: Server) -> None:
    ghost = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ghost"}}
    apply(cluster, node("alive"), node("silent"), ghost)
    apply(cluster, lease("alive"), lease("silent"))
    stop = threading.Event()
    beat = threading.Thread(target=renew_leases, args=(cluster, ["alive"], stop), daemon=True)
    beat.start()
    try:
        forever = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
        apply(
            cluster,
            pod("impatient", "silent", [{**forever, "tolerationSeconds": 3}]),
            pod("defaulted", "silent"),
            pod("forever", "silent", [forever]),
            pod("elsewhere", "alive"),
        )
        for name in ("impatient", "defaulted", "forever", "elsewhere"):
            status = {
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
            }
            kubectl(
                cluster,
                "patch",
                "pod",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                json.dumps(status),
            )
        # DefaultTolerationSeconds: what `kubectl get pod -o yaml` shows on a real 1.33
        tolerations = get_json(cluster, "pod", "defaulted")["spec"]["tolerations"]
        assert tolerations == [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": UNREACHABLE,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ]

        # a node that never reported: conditions from the startup grace on
        def ghost_conditions() -> dict[str, Any] | None:
            n = get_json(cluster, "node", "ghost")
            return n if (n.get("status") or {}).get("conditions") else None

        conds = wait_for(ghost_conditions, 30, "node ghost to get conditions")["status"]
        assert {c["reason"] for c in conds["conditions"]} == {"NodeStatusNeverUpdated"}
        described = kubectl(cluster, "describe", "node", "ghost")
        assert "Conditions:" in described and "Kubelet never posted node status." in described

        def silent_unknown() -> dict[str, Any] | None:
            n = get_json(cluster, "node", "silent")
            return n if ready(n)["status"] == "Unknown" else None

        n = wait_for(silent_unknown, 40, "node silent to go Unknown")
        cond = ready(n)
        # not before the grace period (timestamps have whole seconds)
        assert (
            seconds(cond["lastTransitionTime"]) - seconds(n["metadata"]["creationTimestamp"])
            >= GRACE - 1
        )
        assert (cond["reason"], cond["message"]) == (
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )
        types = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert types == {
            "Ready": "Unknown",
            "MemoryPressure": "Unknown",
            "DiskPressure": "Unknown",
            "PIDPressure": "Unknown",
        }
        described = kubectl(cluster, "describe", "node", "silent")
        assert "Conditions:" in described and "NodeStatusUnknown" in described
        assert "NotReady" in kubectl(cluster, "get", "node", "silent")

        wanted = {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
        wait_for(
            lambda: taint_set(get_json(cluster, "node", "silent")) == wanted,
            30,
            "unreachable taints on node silent",
        )
        assert taint_set(get_json(cluster, "node", "alive")) == set()
        assert ready(get_json(cluster, "node", "alive"))["status"] == "True"
        for name in ("defaulted", "forever"):
            assert ready(get_json(cluster, "pod", name))["status"] == "False"
        assert ready(get_json(cluster, "pod", "elsewhere"))["status"] == "True"

        # tolerationSeconds 3: marked for deletion (no kubelet to finish it: Terminating)
        def deleting() -> dict[str, Any] | None:
            p = get_json(cluster, "pod", "impatient")
            return p if p["metadata"].get("deletionTimestamp") else None

        gone = wait_for(deleting, 30, "pod impatient to be evicted")
        target = next(c for c in gone["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (target["status"], target["reason"]) == ("True", "DeletionByTaintManager")
        events = kubectl(
            cluster, "get", "events", "--field-selector", "reason=TaintManagerEviction"
        )
        assert "Marking for deletion Pod default/impatient" in events
        for name in ("defaulted", "forever", "elsewhere"):
            assert not get_json(cluster, "pod", name)["metadata"].get("deletionTimestamp"), name

        # the admin declares the node gone for good: its pods are evicted (no toleration of
        # out-of-service) and, no kubelet finishing them, force-deleted by the pod GC
        oos = "node.kubernetes.io/out-of-service"
        kubectl(cluster, "taint", "node", "silent", f"{oos}=nodeshutdown:NoExecute")

        def pods_left() -> set[str]:
            return {p["metadata"]["name"] for p in get_json(cluster, "pods")["items"]}

        wait_for(lambda: pods_left() == {"elsewhere"}, 60, "the pod GC to remove silent's pods")
        kubectl(cluster, "taint", "node", "silent", f"{oos}-")

        # the node comes back: Ready again, and the controller takes its taints away
        for _ in range(10):  # the controller writes the node too: retry on conflicts
            n = get_json(cluster, "node", "silent")
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            n["status"]["conditions"] = [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ]
            res = cluster.kubectl(
                "1.33",
                "replace",
                "--subresource=status",
                "-f",
                "-",
                input=json.dumps(n),
                check=False,
            )
            if res.returncode == 0:
                break
            assert "Conflict" in res.stderr, res.stderr
        else:
            raise AssertionError("could not post node silent's status")
        stop.set()
        beat.join(10)
        stop.clear()
        beat = threading.Thread(
            target=renew_leases, args=(cluster, ["alive", "silent"], stop), daemon=True
        )
        beat.start()
        wait_for(
            lambda: taint_set(get_json(cluster, "node", "silent")) == set(),
            30,
            "taints to go from node silent",
        )
    except AssertionError:
        print(log_tail(cluster))
        raise
    finally:
        stop.set()
        beat.join(10)

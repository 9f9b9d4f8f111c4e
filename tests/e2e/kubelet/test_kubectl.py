"""The kubelet inside a real ``pyk8s server``, driven with the real kubectl 1.33: bootstrapped
busybox and nginx images (from the image tests' cache) run as runc containers, and what
kubectl shows is what a Kubernetes node would show."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from pyk8s.cluster import hostranges
from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from pyk8s.proxy.iptables import proxier
from tests.e2e.apiserver.conftest import _wait_ready, free_port, kubectl_binary
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.scheduler.conftest import KUBECTL, Cluster, _stop, wait_for
from tests.support import images

pytestmark = pytest.mark.e2e


def _pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": list(containers), "terminationGracePeriodSeconds": 5, **spec},
    }


def _sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


@dataclass
class KubeletCluster(Cluster):
    """The cluster of this module, with the server process, so a test can restart it."""

    argv: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.data_dir / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        ca = self.data_dir / "server" / "tls" / "ca.crt"
        _wait_ready(self.port, ca, self.proc, time.monotonic() + 60)
        wait_for("the node to be Ready", lambda: _node_ready(self), timeout=60)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletCluster]:
    _require_host()
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    data = tmp_path_factory.mktemp("pyk8s-kubelet")
    imports = data / "images" / "import"
    imports.mkdir(parents=True)
    for image in ("busybox", "nginx"):
        (imports / f"{image}.tar").symlink_to(images.bootstrapped(image))
    port = free_port()
    argv = [
        sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
        "--https-port", str(port), "--bind-address", "127.0.0.1",
        "--kubelet-port", str(free_port()), "--cluster-dns-port", str(free_port()),
        # Ranges of its own: other clusters on the machine hold the default ones.
        "--cluster-cidr", "10.212.0.0/16", "--service-cidr", "10.213.0.0/16",
        "--service-node-port-range", "37000-37999",
        # Small logs, rotated often, so a test sees rotation in seconds.
        "--kubelet-arg", "container-log-max-size=64Ki", "--kubelet-arg",
        "container-log-max-files=3", "--kubelet-arg", "container-log-monitor-interval=1s",
    ]  # fmt: skip
    c = KubeletCluster(data, data / "kubeconfig.yaml", argv=argv, port=port)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        prefix = naming.prefix_for(data)
        asyncio.run(killall.killall(prefix, data))
        left = killall.leftovers(prefix, data)
        # The agent's service proxy: its chains, and the host-range claim of a server that
        # had to be killed, as `pyk8s killall` removes them.
        asyncio.run(proxier.cleanup(chain_prefix_for(prefix)))
        hostranges.forget(prefix)
    assert left == [], f"left on the host after killall: {left}"


def _node_ready(c: Cluster) -> bool:
    nodes = c.get("nodes")["items"]
    return any(
        cond["type"] == "Ready" and cond["status"] == "True"
        for n in nodes
        for cond in n["status"].get("conditions") or []
    )


def _status(c: Cluster, name: str) -> dict[str, Any]:
    res = c.kubectl("get", "pod", name, "-o", "json", check=False)
    if res.returncode != 0:
        return {}
    status: dict[str, Any] = json.loads(res.stdout).get("status") or {}
    return status


def _phase(c: Cluster, name: str, *phases: str) -> str | None:
    p = _status(c, name).get("phase")
    return p if p in phases else None


def _condition(c: Cluster, name: str, type_: str) -> str:
    for cond in _status(c, name).get("conditions") or []:
        if cond["type"] == type_:
            return str(cond["status"])
    return ""


def test_node_registration_and_lease(cluster: Cluster) -> None:
    node = cluster.get("nodes")["items"][0]
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/hostname"] == node["metadata"]["name"]
    assert "node-role.kubernetes.io/control-plane" in labels
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"].startswith("v1.33.")
    assert info["containerRuntimeVersion"].startswith("runc://")
    cap = node["status"]["capacity"]
    assert int(cap["cpu"]) >= 1 and cap["pods"] == "110" and cap["memory"].endswith("Ki")
    types = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert types == {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }
    assert {a["type"] for a in node["status"]["addresses"]} >= {"InternalIP", "Hostname"}
    wide = cluster.kubectl("get", "nodes", "-o", "wide").stdout
    assert "runc://" in wide and "Ready" in wide
    name = node["metadata"]["name"]
    lease = cluster.get("lease", "-n", "kube-node-lease", name)
    assert lease["spec"]["holderIdentity"] == name
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    first = lease["spec"]["renewTime"]
    wait_for(
        "the lease to be renewed",
        lambda: cluster.get("lease", "-n", "kube-node-lease", name)["spec"]["renewTime"] != first,
        timeout=40,
    )


def test_busybox_pod_runs_and_kubectl_logs(cluster: Cluster) -> None:
    cluster.apply(
        _pod("hello", _sh("c", "echo hello from busybox; echo second line; echo third"),
             restartPolicy="Never")
    )  # fmt: skip
    wait_for("hello to succeed", lambda: _phase(cluster, "hello", "Succeeded"), timeout=60)
    assert cluster.kubectl("logs", "hello").stdout == "hello from busybox\nsecond line\nthird\n"
    assert cluster.kubectl("logs", "hello", "--tail=1").stdout == "third\n"
    assert cluster.kubectl("logs", "hello", "--limit-bytes=5").stdout == "hello"
    stamped = cluster.kubectl("logs", "hello", "--timestamps").stdout.splitlines()
    assert stamped[0].endswith("Z hello from busybox") and stamped[0][:4].isdigit()
    assert cluster.kubectl("logs", "hello", "--since=1h").stdout.count("\n") == 3
    st = _status(cluster, "hello")
    cs = st["containerStatuses"][0]
    assert cs["state"]["terminated"]["reason"] == "Completed"
    assert cs["containerID"].startswith("runc://") and cs["imageID"].startswith("sha256:")
    assert st["qosClass"] == "BestEffort" and st["startTime"] and st["hostIP"]
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=hello")
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert reason in events.stdout


def test_logs_follow(cluster: Cluster) -> None:
    cluster.apply(
        _pod("ticker", _sh("c", "for i in 1 2 3 4; do echo tick $i; sleep 1; done"),
             restartPolicy="Never")
    )  # fmt: skip
    wait_for("ticker to run", lambda: _phase(cluster, "ticker", "Running", "Succeeded"))
    res = cluster.kubectl("logs", "-f", "ticker")
    assert res.stdout == "tick 1\ntick 2\ntick 3\ntick 4\n"


def test_nginx_deployment_running_and_ready(cluster: Cluster) -> None:
    cluster.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "nginx",
                                "image": "nginx",
                                "ports": [{"name": "http", "containerPort": 80}],
                                "readinessProbe": {
                                    "httpGet": {"path": "/", "port": "http"},
                                    "periodSeconds": 1,
                                },
                            }
                        ]
                    },
                },
            },
        }
    )
    res = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=25s", check=False)
    if res.returncode != 0:  # kubectl's own timeout is 30 s; give it a second round
        cluster.kubectl("rollout", "status", "deployment/web", "--timeout=25s")
    pods = cluster.get("pods", "-l", "app=web")["items"]
    assert len(pods) == 2
    for p in pods:
        assert p["status"]["phase"] == "Running"
        assert p["status"]["containerStatuses"][0]["ready"] is True
        ready = {c["type"]: c["status"] for c in p["status"]["conditions"]}
        assert ready["Ready"] == ready["ContainersReady"] == ready["Initialized"] == "True"


def test_crashloop_backoff_grows(cluster: Cluster) -> None:
    cluster.apply(_pod("crash", _sh("c", "echo crashing; exit 3")))

    def waiting_message() -> str | None:
        for cs in _status(cluster, "crash").get("containerStatuses") or []:
            w = cs["state"].get("waiting") or {}
            if w.get("reason") == "CrashLoopBackOff":
                return str(w["message"])
        return None

    first = wait_for("CrashLoopBackOff", waiting_message, timeout=30)
    assert first.startswith("back-off 10s restarting failed container=c pod=crash_default(")
    wait_for(
        "a longer back-off",
        lambda: (m := waiting_message()) is not None and m.startswith("back-off 20s"),
        timeout=40,
    )
    cs = _status(cluster, "crash")["containerStatuses"][0]
    assert cs["restartCount"] >= 2
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert "CrashLoopBackOff" in cluster.kubectl("get", "pod", "crash").stdout
    assert cluster.kubectl("logs", "crash", "--previous").stdout == "crashing\n"
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=crash")
    assert "BackOff" in events.stdout


def test_memory_limit_ends_in_oomkilled(cluster: Cluster) -> None:
    hog = _sh("c", "x=a; while true; do x=$x$x; done", resources={"limits": {"memory": "20Mi"}})
    cluster.apply(_pod("oom", hog, restartPolicy="Never"))
    wait_for("oom to fail", lambda: _phase(cluster, "oom", "Failed"), timeout=90)
    term = _status(cluster, "oom")["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
    assert "OOMKilled" in cluster.kubectl("get", "pod", "oom").stdout


def test_init_containers_run_in_order(cluster: Cluster) -> None:
    mount = [{"name": "w", "mountPath": "/work"}]
    pod = _pod(
        "init",
        _sh("main", "cat /work/order; sleep 3600", volumeMounts=mount),
        initContainers=[
            _sh("first", "sleep 1; echo one > /work/order", volumeMounts=mount),
            _sh("second", "echo two >> /work/order", volumeMounts=mount),
        ],
        volumes=[{"name": "w", "emptyDir": {}}],
    )
    cluster.apply(pod)
    seen_init = wait_for(
        "Init:0/2 or Init:1/2",
        lambda: "Init:" in (out := cluster.kubectl("get", "pod", "init").stdout) and out,
        timeout=30,
    )
    assert "Init:" in seen_init
    wait_for("init to run", lambda: _phase(cluster, "init", "Running"), timeout=30)
    wait_for("main's output", lambda: cluster.kubectl("logs", "init", "-c", "main").stdout)
    assert cluster.kubectl("logs", "init", "-c", "main").stdout == "one\ntwo\n"
    st = _status(cluster, "init")
    assert [s["state"]["terminated"]["reason"] for s in st["initContainerStatuses"]] == [
        "Completed",
        "Completed",
    ]
    assert _condition(cluster, "init", "Initialized") == "True"


def test_readiness_probe_gates_ready(cluster: Cluster) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
    cluster.apply(_pod("gated", _sh("c", "sleep 3600", readinessProbe=probe)))
    wait_for("gated to run", lambda: _phase(cluster, "gated", "Running"), timeout=60)
    assert _condition(cluster, "gated", "Ready") == "False"
    assert "0/1" in cluster.kubectl("get", "pod", "gated").stdout
    # the test opens the gate (the container touching it after a pause raced the looks above)
    cluster.kubectl("exec", "gated", "--", "touch", "/tmp/ready")
    wait_for("gated to be ready", lambda: _condition(cluster, "gated", "Ready") == "True", 30)
    assert "1/1" in cluster.kubectl("get", "pod", "gated").stdout


def test_configmap_volume_follows_update(cluster: Cluster) -> None:
    cluster.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
         "data": {"greeting": "hello"}},
        _pod("cm", _sh("c", "while true; do cat /cfg/greeting; echo; sleep 1; done",
                       volumeMounts=[{"name": "cfg", "mountPath": "/cfg"}]),
             volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}]),
    )  # fmt: skip
    wait_for("hello", lambda: "hello" in cluster.kubectl("logs", "cm", check=False).stdout, 30)
    cluster.kubectl("patch", "configmap", "cfg", "-p", '{"data":{"greeting":"updated"}}')
    wait_for(
        "the update", lambda: "updated" in cluster.kubectl("logs", "cm", "--tail=1").stdout, 40
    )


def test_graceful_delete_runs_prestop(cluster: Cluster, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    c = _sh(
        "c",
        "trap 'echo term >> /shared/log; exit 0' TERM; while true; do sleep 0.2; done",
        volumeMounts=[{"name": "shared", "mountPath": "/shared"}],
        lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /shared/log"]}}},
    )
    cluster.apply(
        _pod("graceful", c, volumes=[{"name": "shared", "hostPath": {"path": str(shared)}}])
    )
    wait_for("graceful to run", lambda: _phase(cluster, "graceful", "Running"), timeout=30)
    time.sleep(0.5)  # the trap is set once the shell runs its loop
    cluster.kubectl("delete", "pod", "graceful", "--timeout=30s")
    assert (shared / "log").read_text() == "prestop\nterm\n"
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=graceful")
    assert "Killing" in events.stdout
    assert cluster.kubectl("get", "pod", "graceful", check=False).returncode != 0


def test_exec_and_run_attached(cluster: Cluster) -> None:
    cluster.apply(_pod("shell", _sh("c", "sleep 3600")))
    wait_for("shell to run", lambda: _phase(cluster, "shell", "Running"), timeout=30)
    res = cluster.kubectl("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                          check=False)  # fmt: skip
    assert (res.returncode, res.stdout) == (3, "out\n")
    assert "err" in res.stderr
    assert cluster.kubectl("exec", "-i", "shell", "--", "cat", input="piped\n").stdout == "piped\n"
    assert cluster.kubectl("exec", "shell", "--", "hostname").stdout == "shell\n"
    res = cluster.kubectl(
        "run", "-i", "--rm", "--restart=Never", "att", "--image=busybox", "--",
        "sh", "-c", "read line; echo got: $line", input="from stdin\n",
    )  # fmt: skip
    assert "got: from stdin" in res.stdout
    assert cluster.kubectl("get", "pod", "att", check=False).returncode != 0


def test_restarted_server_adopts_running_containers(cluster: KubeletCluster) -> None:
    """Stopping the server leaves pods running (as k3s does); the next one adopts them."""
    cluster.apply(_pod("survivor", _sh("c", "echo started; sleep 3600")))
    wait_for("survivor to run", lambda: _phase(cluster, "survivor", "Running"), timeout=30)
    before = _status(cluster, "survivor")["containerStatuses"][0]
    cluster.stop()
    cluster.start()
    time.sleep(3)  # a few PLEG relists and syncs of the adopted pod
    after = _status(cluster, "survivor")["containerStatuses"][0]
    assert after["containerID"] == before["containerID"]
    assert after["restartCount"] == 0 and after["ready"] is True
    assert cluster.kubectl("logs", "survivor").stdout == "started\n"


def test_static_pod_with_mirror(cluster: KubeletCluster) -> None:
    manifests = cluster.data_dir / "manifests"
    manifests.mkdir(exist_ok=True)
    node = cluster.get("nodes")["items"][0]["metadata"]["name"]
    mirror = f"static-web-{node}"
    (manifests / "web.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: static-web}\nspec:\n  containers:\n"
        "  - {name: c, image: busybox, command: [sh, -c, 'echo static; sleep 3600']}\n"
    )
    wait_for("the mirror pod to run", lambda: _phase(cluster, mirror, "Running"), timeout=40)
    pod = cluster.get("pod", mirror)
    assert pod["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert cluster.kubectl("logs", mirror).stdout == "static\n"
    cid = pod["status"]["containerStatuses"][0]["containerID"]
    cluster.kubectl("delete", "pod", mirror)  # the kubelet recreates it; the pod keeps running
    wait_for("the mirror pod again", lambda: _phase(cluster, mirror, "Running"), timeout=30)
    assert cluster.get("pod", mirror)["status"]["containerStatuses"][0]["containerID"] == cid
    (manifests / "web.yaml").unlink()
    wait_for(
        "the static pod to go",
        lambda: cluster.kubectl("get", "pod", mirror, check=False).returncode != 0,
        timeout=40,
    )


def test_termination_message_in_status_and_describe(cluster: Cluster) -> None:
    cluster.apply(
        _pod("farewell", _sh("c", "echo -n 'gone fishing' > /dev/termination-log; exit 4"),
             restartPolicy="Never")
    )  # fmt: skip
    cluster.apply(
        _pod("fallback", _sh("c", "seq 1 100; exit 5",
                             terminationMessagePolicy="FallbackToLogsOnError"),
             restartPolicy="Never")
    )  # fmt: skip
    wait_for("farewell to fail", lambda: _phase(cluster, "farewell", "Failed"), timeout=60)
    term = _status(cluster, "farewell")["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["message"]) == (4, "gone fishing")
    described = cluster.kubectl("describe", "pod", "farewell").stdout
    assert re.search(
        r"State:\s+Terminated\n\s+Reason:\s+Error\n\s+Message:\s+gone fishing\n", described
    ), described
    wait_for("fallback to fail", lambda: _phase(cluster, "fallback", "Failed"), timeout=60)
    term = _status(cluster, "fallback")["containerStatuses"][0]["state"]["terminated"]
    assert term["message"] == "".join(f"{i}\n" for i in range(21, 101))  # the last 80 lines


def _kubelet_get(c: Cluster, path: str, *, text: bool = False) -> Any:
    """GET on the kubelet API with the admin's client certificate (signed by the cluster CA)."""
    node = c.get("nodes")["items"][0]
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    tls = c.data_dir / "server" / "tls"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the kubelet's certificate is self-signed, as upstream's
    ctx.load_cert_chain(tls / "admin.crt", tls / "admin.key")
    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx) as resp:
        body = resp.read()
    return body.decode() if text else json.loads(body)


def test_stats_summary(cluster: Cluster) -> None:
    # The shell holds 6 MB in a variable; the last command keeps it from exec'ing sleep.
    script = (
        "head -c 3000000 /dev/urandom > /tmp/blob; head -c 1000000 /dev/zero > /scratch/f; "
        "echo logged; x=$(head -c 6000000 /dev/zero | tr '\\0' a); sleep 3600; echo $x"
    )
    pod = _pod("stats", _sh("c", script, volumeMounts=[{"name": "s", "mountPath": "/scratch"}]),
               volumes=[{"name": "s", "emptyDir": {}}])  # fmt: skip
    cluster.apply(pod)
    wait_for("stats to run", lambda: _phase(cluster, "stats", "Running"), timeout=60)

    def summary_with_pod() -> dict[str, Any] | None:
        s: dict[str, Any] = _kubelet_get(cluster, "/stats/summary")
        for p in s["pods"]:
            c = p["containers"][0] if p["podRef"]["name"] == "stats" else None
            if c and c["memory"]["workingSetBytes"] > 5_000_000 and c["rootfs"]["usedBytes"]:
                return s
        return None

    s = wait_for("the pod's figures", summary_with_pod, timeout=30)
    node = s["node"]
    assert node["nodeName"] == cluster.get("nodes")["items"][0]["metadata"]["name"]
    assert 0 < node["memory"]["workingSetBytes"] <= node["memory"]["usageBytes"]
    assert node["memory"]["availableBytes"] > 0 and node["cpu"]["usageNanoCores"] >= 0
    assert node["fs"]["capacityBytes"] > node["fs"]["availableBytes"] > 0
    assert node["runtime"]["imageFs"]["usedBytes"] > 1_000_000  # busybox and nginx
    assert node["rlimit"]["curproc"] > 0
    (p,) = [p for p in s["pods"] if p["podRef"]["name"] == "stats"]
    assert p["podRef"]["namespace"] == "default" and p["podRef"]["uid"]
    (c,) = p["containers"]
    assert c["name"] == "c" and c["cpu"]["usageCoreNanoSeconds"] > 0
    assert "usageNanoCores" in c["cpu"]
    assert 5_000_000 < c["memory"]["workingSetBytes"] < 200_000_000
    assert c["rootfs"]["usedBytes"] >= 3_000_000  # /tmp/blob in its writable layer
    assert 0 < c["logs"]["usedBytes"] < 1_000_000
    (vol,) = [v for v in p["volume"] if v["name"] == "s"]
    assert vol["usedBytes"] >= 1_000_000
    assert p["ephemeral-storage"]["usedBytes"] >= 4_000_000
    assert p["process_stats"]["process_count"] == 2  # sh and sleep
    light = _kubelet_get(cluster, "/stats/summary?only_cpu_and_memory=true")
    assert "fs" not in light["node"] and "memory" in light["node"]
    # /metrics/resource: the same figures as metrics-server scrapes them
    metrics = _kubelet_get(cluster, "/metrics/resource", text=True)
    labels = '{container="c",pod="stats",namespace="default"}'
    found = re.search(r"^container_memory_working_set_bytes" + re.escape(labels) + r" (\d+) \d+$",
                      metrics, re.M)  # fmt: skip
    assert found and 5_000_000 < int(found[1]) < 200_000_000, metrics
    assert re.search(r"^container_cpu_usage_seconds_total" + re.escape(labels) + r" [\d.e-]+ \d+$",
                     metrics, re.M), metrics  # fmt: skip
    assert re.search(r'^pod_memory_working_set_bytes\{pod="stats",namespace="default"\} \d+',
                     metrics, re.M), metrics  # fmt: skip
    assert re.search(r"^node_cpu_usage_seconds_total [\d.e+]+ \d+$", metrics, re.M), metrics
    assert "\nresource_scrape_error 0\n" in metrics
    cluster.kubectl("delete", "pod", "stats", "--wait=false")


def test_logs_rotate_and_follow_across_rotation(cluster: Cluster) -> None:
    script = (
        "i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo line $i;"
        " [ $((i % 200)) = 0 ] && sleep 0.1; done; sleep 3600"
    )
    cluster.apply(_pod("chatty", _sh("c", script)))
    wait_for("chatty to run", lambda: _phase(cluster, "chatty", "Running"), timeout=60)
    uid = cluster.get("pod", "chatty")["metadata"]["uid"]
    log_dir = cluster.data_dir / "pod-logs" / f"default_chatty_{uid}" / "c"
    binary = kubectl_binary(KUBECTL)
    assert binary is not None
    followed: list[str] = []
    with subprocess.Popen(
        [binary, "--kubeconfig", str(cluster.kubeconfig), "logs", "-f", "chatty"],
        stdout=subprocess.PIPE, text=True,
    ) as follow:  # fmt: skip

        def read() -> None:
            assert follow.stdout is not None
            for line in follow.stdout:
                followed.append(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        # kubectl starts slowly under load: the rotations to follow across are the ones
        # after it streams (the container wrote through several before it connected)
        wait_for("kubectl logs -f to stream", lambda: followed, timeout=60)
        first = sorted(p.name for p in log_dir.iterdir())

        def stamps() -> set[str]:
            names = [p.name for p in log_dir.glob("0.log.*") if not p.name.endswith(".tmp")]
            return {n.removesuffix(".gz") for n in names}

        before = stamps()
        wait_for("two rotations while following", lambda: len(stamps() - before) >= 2, 30)
        time.sleep(2)
        follow.terminate()
        follow.wait(10)
        reader.join(10)
    numbers = [int(line.split()[1]) for line in followed if line.startswith("line ")]
    assert len(numbers) > 1000
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no line lost

    def later_line() -> bool:  # the live file is empty for a moment after a rotation
        tail = cluster.kubectl("logs", "chatty", "--tail=1").stdout
        return tail.startswith("line ") and int(tail.split()[1]) > numbers[-1]

    wait_for("a line after the followed ones in the live log", later_line, timeout=30)
    # The writer stops, so rotations stop: while it writes, a listing may fall between a
    # rotation's compression of the older file and its rename of the live one.
    cluster.kubectl("exec", "chatty", "--", "touch", "/tmp/stop")
    seen: dict[str, Any] = {"names": None, "since": 0.0}

    def settled() -> list[str] | None:
        """The files once the listing stayed the same for three monitor periods (1 s)."""
        names = sorted(p.name for p in log_dir.iterdir())
        if names != seen["names"]:
            seen.update(names=names, since=time.monotonic())
            return None
        return names if time.monotonic() - seen["since"] >= 3 else None

    files = wait_for("rotation to settle", settled, timeout=60)
    rotated = [f for f in files if f.startswith("0.log.")]
    assert len(rotated) == 2 and "0.log" in files, files  # containerLogMaxFiles=3
    assert rotated[0].endswith(".gz") and not rotated[1].endswith(".gz"), files
    assert first != files
    cluster.kubectl("delete", "pod", "chatty", "--wait=false")


class _HostHealth:
    """A grpc.health.v1 server on the host (grpcio, in threads): what a hostNetwork pod's
    gRPC probe reaches."""

    def __init__(self) -> None:
        self.status = 1  # SERVING
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(
            self._check, request_deserializer=lambda b: b, response_serializer=lambda b: b
        )
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler}),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def _check(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return b"\x08" + bytes([self.status])


def test_grpc_readiness_probe(cluster: Cluster) -> None:
    health = _HostHealth()
    health.server.start()
    try:
        probe = {"grpc": {"port": health.port}, "periodSeconds": 1, "failureThreshold": 1}
        cluster.apply(
            _pod("grpcprobe", _sh("c", "sleep 3600", readinessProbe=probe), hostNetwork=True)
        )
        wait_for("Ready", lambda: _condition(cluster, "grpcprobe", "Ready") == "True", timeout=60)
        health.status = 2  # NOT_SERVING
        wait_for("NotReady", lambda: _condition(cluster, "grpcprobe", "Ready") == "False")
        events = cluster.kubectl(
            "get", "events", "--field-selector", "involvedObject.name=grpcprobe"
        ).stdout
        assert 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")' in events
        health.status = 1
        wait_for("Ready again", lambda: _condition(cluster, "grpcprobe", "Ready") == "True")
    finally:
        health.server.stop(None)
        cluster.kubectl("delete", "pod", "grpcprobe", "--wait=false")


def test_service_account_token_volume(cluster: Cluster) -> None:
    cluster.apply(_pod("sa", _sh("c", "sleep 3600")))
    cluster.apply(_pod("nosa", _sh("c", "sleep 3600"), automountServiceAccountToken=False))
    wait_for("sa to run", lambda: _phase(cluster, "sa", "Running"), timeout=60)
    spec = cluster.get("pod", "sa")["spec"]
    assert spec["serviceAccountName"] == "default"
    (vol,) = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    mount = spec["containers"][0]["volumeMounts"][0]
    assert mount == {
        "name": vol["name"],
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    }
    described = cluster.kubectl("describe", "pod", "sa").stdout
    assert re.search(r"TokenExpirationSeconds:\s+3607", described), described
    assert re.search(r"ConfigMapName:\s+kube-root-ca.crt", described)
    base = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert cluster.kubectl("exec", "sa", "--", "cat", f"{base}/namespace").stdout == "default"
    ca = cluster.kubectl("exec", "sa", "--", "cat", f"{base}/ca.crt").stdout
    assert ca == (cluster.data_dir / "server" / "tls" / "ca.crt").read_text()
    token = cluster.kubectl("exec", "sa", "--", "cat", f"{base}/token").stdout
    # The token authenticates as the pod's service account (which RBAC gives nothing).
    binary = kubectl_binary(KUBECTL)
    assert binary is not None
    res = subprocess.run(
        [binary, "--kubeconfig", str(cluster.kubeconfig), "--token", token, "--user", "",
         "get", "pods"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert 'User "system:serviceaccount:default:default" cannot list resource "pods"' in (
        res.stderr
    ), res.stderr
    wait_for("nosa to run", lambda: _phase(cluster, "nosa", "Running"), timeout=60)
    assert "volumes" not in cluster.get("pod", "nosa")["spec"]
    res = cluster.kubectl("exec", "nosa", "--", "ls", base, check=False)
    assert res.returncode != 0
    cluster.kubectl("delete", "pod", "sa", "nosa", "--wait=false")

"""Issue 11 end to end in a real ``pyk8s server``: the pod network, the service proxy and
the cluster DNS, driven with the real kubectl.

The cluster (``conftest.py``) has ranges of its own and its DNS server a port of its own.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from pyk8s.kubelet.runtime import naming
from pyk8s.proxy.config import chain_prefix_for
from tests.e2e.cluster.conftest import NetCluster, iptables_nat, node_ip, ready_addresses
from tests.e2e.scheduler.conftest import wait_for

pytestmark = pytest.mark.e2e


def _dig(dns_ip: str, name: str, *args: str) -> str:
    res = subprocess.run(
        ["dig", "+short", "+time=2", "+tries=2", f"@{dns_ip}", name, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    # Only the answers: a first try may time out while the proxy programs the Service.
    return "\n".join(line for line in res.stdout.splitlines() if not line.startswith(";"))


def test_kube_dns_service_answers_through_its_cluster_ip(cluster: NetCluster) -> None:
    svc = json.loads(
        cluster.kubectl("get", "svc", "kube-dns", "-n", "kube-system", "-o", "json").stdout
    )
    assert svc["spec"]["clusterIP"] == cluster.ranges.dns_ip
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    ports = {(p["port"], p["protocol"]) for p in svc["spec"]["ports"]}
    assert ports == {(53, "UDP"), (53, "TCP"), (9153, "TCP")}
    got = wait_for(
        "kube-dns to answer on its ClusterIP",
        lambda: _dig(cluster.ranges.dns_ip, "kubernetes.default.svc.cluster.local") or None,
        timeout=60,
    )
    assert got == cluster.ranges.kubernetes_ip
    assert (
        _dig(cluster.ranges.dns_ip, "kubernetes.default.svc.cluster.local", "+tcp")
        == cluster.ranges.kubernetes_ip
    )


def test_service_change_is_in_the_kernel_within_a_second(cluster: NetCluster) -> None:
    chains = chain_prefix_for(naming.prefix_for(cluster.data_dir))
    ip = cluster.ranges.service_ip("7.7")
    pod_ip = cluster.ranges.pod_prefix + "9.9"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "fast"},
            "spec": {"clusterIP": ip, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "fast-1", "labels": {"kubernetes.io/service-name": "fast"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [pod_ip], "conditions": {"ready": True}}],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        },
    )
    start = time.monotonic()
    while True:
        # the age of the look, not of its answer: iptables-save itself is slow under load
        asked = time.monotonic() - start
        if any(
            line.startswith(f"-A {chains}-SERVICES") and f"{ip}/32" in line
            for line in iptables_nat().splitlines()
        ):
            break
        assert asked < 1.0, "the Service's rule is not in the kernel after 1 s"
        time.sleep(0.02)
    assert any(
        f"--to-destination {pod_ip}:8080" in line and line.startswith(f"-A {chains}-SEP-")
        for line in iptables_nat().splitlines()
    )
    cluster.kubectl("delete", "service", "fast")
    start = time.monotonic()
    while True:
        asked = time.monotonic() - start
        if f"{ip}/32" not in iptables_nat():
            break
        assert asked < 1.0, "the deleted Service's rule is still there after 1 s"
        time.sleep(0.02)


def test_pods_talk_by_ip_and_by_service_name(cluster: NetCluster) -> None:
    cluster.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
    cluster.kubectl("expose", "deployment", "web", "--port=80")

    def running_ips() -> list[str] | None:
        pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)
        ips = [
            p["status"].get("podIP") for p in pods["items"] if p["status"].get("phase") == "Running"
        ]
        return ips if len(ips) == 2 and all(ips) else None

    ips = wait_for("two web pods running", running_ips, timeout=90)
    assert all(ip.startswith(cluster.ranges.pod_prefix) for ip in ips) and len(set(ips)) == 2
    # as a user waits for a Service before using it: Running is not yet Ready, nor an endpoint
    wait_for("web's endpoints", lambda: ready_addresses(cluster, "web") == sorted(ips), 60)
    script = (
        "for target in {} {} web web.default web.default.svc.cluster.local; do "
        "exec 3<>/dev/tcp/$target/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && "
        'echo "$target $(head -1 <&3)"; exec 3<&-; done; '
        "getent hosts kubernetes.default"
    ).format(*ips)
    cluster.kubectl(
        "run", "client", "--image=debian", "--restart=Never", "--command", "--",
        "bash", "-c", script,
    )  # fmt: skip

    def done() -> str | None:
        pod = json.loads(cluster.kubectl("get", "pod", "client", "-o", "json").stdout)
        return (
            pod["status"].get("phase")
            if pod["status"].get("phase") in ("Succeeded", "Failed")
            else None
        )

    phase = wait_for("the client pod to finish", done, timeout=90)
    out = cluster.kubectl("logs", "client").stdout.splitlines()
    assert phase == "Succeeded", out
    targets = [*ips, "web", "web.default", "web.default.svc.cluster.local"]
    assert out[:5] == [f"{t} HTTP/1.1 200 OK" for t in targets]
    assert out[5].split() == [cluster.ranges.kubernetes_ip, "kubernetes.default.svc.cluster.local"]


def test_kube_dns_shows_as_a_pod_the_service_selects(cluster: NetCluster) -> None:
    """``kubectl get pods,svc,endpoints -n kube-system -l k8s-app=kube-dns`` as on k3s."""

    def shown() -> list[str] | None:
        out = cluster.kubectl(
            "get", "pods,svc,endpoints", "-n", "kube-system", "-l", "k8s-app=kube-dns"
        ).stdout
        lines = out.splitlines()
        pods = [line for line in lines if line.startswith("pod/coredns-")]
        eps = [line for line in lines if line.startswith("endpoints/kube-dns")]
        ok = pods and " 1/1 " in pods[0] and " Running " in pods[0] and eps
        return lines if ok and "<none>" not in eps[0] else None

    lines = wait_for("the kube-dns pod and endpoints", shown, timeout=30)
    ip = node_ip(cluster)
    assert any(
        line.startswith("service/kube-dns") and cluster.ranges.dns_ip in line for line in lines
    ), lines
    pod = cluster.get("pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"][0]
    assert pod["status"]["podIP"] == ip and pod["spec"]["hostNetwork"] is True
    eps = cluster.get("endpoints", "kube-dns", "-n", "kube-system")
    (subset,) = eps["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == [ip]
    assert subset["addresses"][0]["targetRef"]["name"] == pod["metadata"]["name"]
    assert {p["name"] for p in subset["ports"]} == {"dns", "dns-tcp"}
    # Deleted, it comes back (a ReplicaSet would make a new one on a real cluster).
    cluster.kubectl("delete", "pod", "-n", "kube-system", pod["metadata"]["name"])
    wait_for("the kube-dns pod to come back", shown, timeout=30)
    got = wait_for(
        "kube-dns to answer again",
        lambda: _dig(cluster.ranges.dns_ip, "kubernetes.default.svc.cluster.local") or None,
        timeout=60,
    )
    assert got == cluster.ranges.kubernetes_ip

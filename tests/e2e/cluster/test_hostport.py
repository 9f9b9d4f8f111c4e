"""hostPort end to end: a real nginx (TCP) and a UDP echo pod published on the node's ports,
reached with curl and a UDP socket from the host on the node's IP and on localhost; the
rules go with the pod, and the scheduler keeps a second pod off a taken port."""

from __future__ import annotations

import json
import socket
import subprocess
from typing import Any

import pytest

from pyk8s.kubelet.network import bridge, hostport
from pyk8s.kubelet.runtime import naming
from tests.e2e.cluster.conftest import NetCluster, iptables_nat, node_ip, pod_phase
from tests.e2e.scheduler.conftest import wait_for

pytestmark = pytest.mark.e2e

TCP_PORT = 18080
UDP_PORT = 15353

UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(512)
    s.sendto(b"echo " + data, peer)
"""


def _pod(name: str, image: str, ports: list[dict[str, Any]], **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": image, "ports": ports, **container}]},
    }


def _curl(url: str) -> str:
    res = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url],
        capture_output=True,
        text=True,
        check=False,
    )
    return res.stdout


def _udp(ip: str, port: int, payload: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.sendto(payload, (ip, port))
        try:
            return s.recv(512)
        except TimeoutError:
            return b""


def test_host_ports_tcp_and_udp(cluster: NetCluster) -> None:
    cluster.apply(
        _pod("hp-web", "nginx", [{"containerPort": 80, "hostPort": TCP_PORT}]),
        _pod(
            "hp-udp",
            "python",
            [{"containerPort": 5353, "hostPort": UDP_PORT, "protocol": "UDP"}],
            command=["python3", "-u", "-c", UDP_ECHO],
        ),
    )
    for name in ("hp-web", "hp-udp"):
        wait_for(f"{name} running", lambda n=name: pod_phase(cluster, n, "Running"), timeout=90)
    ip = node_ip(cluster)
    for host in (ip, "127.0.0.1"):
        got = wait_for(
            f"nginx on {host}:{TCP_PORT}",
            lambda h=host: _curl(f"http://{h}:{TCP_PORT}/") == "200",
            timeout=60,
        )
        assert got
        assert wait_for(
            f"the UDP echo on {host}:{UDP_PORT}",
            lambda h=host: _udp(h, UDP_PORT, b"ping") == b"echo ping",
            timeout=60,
        )
    prefix = hostport.chain_prefix(bridge.link_prefix(naming.prefix_for(cluster.data_dir)))
    nat = iptables_nat()
    pods = json.loads(cluster.kubectl("get", "pods", "-o", "json", "-l", "app=hp-web").stdout)
    pod_ip = pods["items"][0]["status"]["podIP"]
    assert f"--dport {TCP_PORT} -j DNAT --to-destination {pod_ip}:80" in nat

    # The same port again: the scheduler's NodePorts plugin keeps the pod off the node.
    cluster.apply(_pod("hp-web2", "nginx", [{"containerPort": 80, "hostPort": TCP_PORT}]))

    def unschedulable() -> str | None:
        pod = json.loads(cluster.kubectl("get", "pod", "hp-web2", "-o", "json").stdout)
        for cond in pod["status"].get("conditions") or []:
            if cond["type"] == "PodScheduled" and cond["status"] == "False":
                return str(cond.get("message", ""))
        return None

    message = wait_for("hp-web2 to be unschedulable", unschedulable, timeout=60)
    assert "didn't have free ports for the requested pod ports" in message
    cluster.kubectl("delete", "pod", "hp-web2", "--wait=false")

    # The rules go with the pod.
    cluster.kubectl("delete", "pod", "hp-web", "hp-udp", "--grace-period=1", "--timeout=60s")
    assert wait_for(
        "the host-port rules to go",
        lambda: f"--dport {TCP_PORT} -j DNAT" not in iptables_nat(),
        timeout=60,
    )
    assert f"{prefix}-HP-" not in iptables_nat()
    assert _curl(f"http://127.0.0.1:{TCP_PORT}/") != "200"


def test_host_network_pod_gets_host_port_defaulted(cluster: NetCluster) -> None:
    pod = _pod("hn", "nginx", [{"containerPort": 80}])
    pod["spec"]["hostNetwork"] = True
    out = cluster.kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(pod)
    )
    ports = json.loads(out.stdout)["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 80, "hostPort": 80, "protocol": "TCP"}]
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 81}]
    res = cluster.kubectl("create", "-f", "-", input=json.dumps(pod), check=False)
    assert res.returncode != 0
    assert (
        "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` "
        "when `hostNetwork` is true"
    ) in res.stderr

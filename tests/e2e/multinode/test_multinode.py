"""Two nodes on one machine: the server's own node in the host's network namespace, and a
second node (``pyk8s kubelet`` and ``pyk8s proxy``) in a network namespace of its own,
joined by a bridge. Each node's agent routes the other's podCIDR via its InternalIP (flannel
host-gw); pods talk across nodes by IP, by Service ClusterIP and by name."""

from __future__ import annotations

import json
import random
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyk8s.kubelet.network import bridge, hostgw
from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from tests.e2e.apiserver.conftest import free_port, kubectl_binary
from tests.e2e.cluster.conftest import (
    NetCluster,
    dns_ready,
    free_ranges,
    iptables_nat,
    pod_phase,
    ready_addresses,
)
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.kubelet.test_kubectl import _stop
from tests.e2e.scheduler.conftest import KUBECTL, wait_for
from tests.support import images

pytestmark = pytest.mark.e2e


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@dataclass
class Nodes:
    cluster: NetCluster
    node2: str
    netns: str
    data2: Path
    node1_ip: str
    node2_ip: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _routes() -> str:
    # -N: protocol numbers, never the names /etc/iproute2/rt_protos gives some (186 = bgp)
    return subprocess.run(
        ["ip", "-N", "-4", "route"], capture_output=True, text=True, check=False
    ).stdout


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    _require_host()
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    tag = secrets.token_hex(3)
    link, netns = f"mn{tag}br", f"pyk8s-mn{tag}"
    subnet = f"172.30.{random.randrange(256)}"
    node1_ip, node2_ip = f"{subnet}.1", f"{subnet}.2"
    data1 = tmp_path_factory.mktemp("pyk8s-node1")
    data2 = tmp_path_factory.mktemp("pyk8s-node2")
    for data in (data1, data2):
        (data / "images" / "import").mkdir(parents=True)
        for image in ("nginx", "busybox"):
            (data / "images" / "import" / f"{image}.tar").symlink_to(images.bootstrapped(image))
    (ranges,) = free_ranges(1, start=182)
    port = free_port()
    argv = [
        sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data1),
        "--https-port", str(port), "--bind-address", node1_ip, "--tls-san", node1_ip,
        "--node-ip", node1_ip, "--kubelet-port", str(free_port()),
        "--cluster-dns-port", str(free_port()), *ranges.flags(),
    ]  # fmt: skip
    c = NetCluster(data1, data1 / "kubeconfig.yaml", argv=argv, port=port, ranges=ranges)
    n = Nodes(c, f"node2-{tag}", netns, data2, node1_ip, node2_ip)
    try:
        # The machine's "LAN": a bridge in the host, node 2's eth0 on it.
        sh("ip", "link", "add", link, "type", "bridge")
        sh("ip", "addr", "add", f"{node1_ip}/24", "dev", link)
        sh("ip", "link", "set", link, "up")
        sh("ip", "netns", "add", netns)
        sh("ip", "link", "add", f"mn{tag}h", "type", "veth", "peer", "name", "eth0",
           "netns", netns)  # fmt: skip
        sh("ip", "link", "set", f"mn{tag}h", "master", link, "up")
        sh("ip", "-n", netns, "addr", "add", f"{node2_ip}/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", node1_ip)
        _start_server(c)
        kubeconfig = yaml.safe_load(c.kubeconfig.read_text())
        for cl in kubeconfig["clusters"]:
            cl["cluster"]["server"] = f"https://{node1_ip}:{port}"
        (data2 / "kubeconfig.yaml").write_text(yaml.safe_dump(kubeconfig))
        enter = ["nsenter", f"--net=/run/netns/{netns}", sys.executable, "-m", "pyk8s"]
        common = ["--kubeconfig", str(data2 / "kubeconfig.yaml"), "--data-dir", str(data2),
                  "--hostname-override", n.node2]  # fmt: skip
        with (data2 / "agent.log").open("ab") as log:
            n.procs.append(subprocess.Popen(
                [*enter, "kubelet", *common, "--node-ip", node2_ip, "--port", str(free_port()),
                 "--cluster-dns", ranges.dns_ip,
                 "--client-ca-file", str(data1 / "server" / "tls" / "ca.crt")],
                stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
            n.procs.append(subprocess.Popen(
                [*enter, "proxy", *common, "--cluster-cidr", ranges.pods],
                stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        wait_for("both nodes Ready with a podCIDR", lambda: _two_ready(c), timeout=60)
        # as a user waits for CoreDNS: until the DNS mirror pod is Ready, the kube-dns Service
        # has no endpoints and the proxy rejects its queries (a CI run's first lookups failed)
        wait_for("kube-dns endpoints", lambda: dns_ready(c), timeout=60)
        yield n
    finally:
        for proc in n.procs:
            _stop(proc)
        c.stop()
        for data in (data2, data1):
            subprocess.run([sys.executable, "-m", "pyk8s", "killall", "--data-dir", str(data)],
                           capture_output=True, check=False)  # fmt: skip
        subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", link], check=False, capture_output=True)
    for data in (data1, data2):
        prefix = naming.prefix_for(data)
        assert killall.leftovers(prefix, data) == []
        assert bridge.host_links(prefix) == []
        assert f"{chain_prefix_for(prefix)}-" not in iptables_nat()
        assert f"proto {hostgw.route_proto(prefix)} " not in _routes()
    assert ranges.pod_prefix not in _routes()
    assert (
        link
        not in subprocess.run(["ip", "link"], capture_output=True, text=True, check=False).stdout
    )


def _start_server(c: NetCluster) -> None:
    """``KubeletCluster.start`` for a server that listens on the bridge's address only."""
    with (c.data_dir / "server.log").open("ab") as log:
        c.proc = subprocess.Popen(c.argv, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert c.proc is not None and c.proc.poll() is None, "the server exited"
        if not c.kubeconfig.exists():
            return False
        return c.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

    wait_for("the API server", up, timeout=60)


def _two_ready(c: NetCluster) -> bool:
    res = c.kubectl("get", "nodes", "-o", "json", check=False)
    if res.returncode != 0:
        return False
    items = json.loads(res.stdout)["items"]
    ready = [
        n
        for n in items
        if (n.get("spec") or {}).get("podCIDR")
        and any(
            x["type"] == "Ready" and x["status"] == "True"
            for x in (n.get("status") or {}).get("conditions") or []
        )
    ]
    return len(ready) == 2


def _nginx(name: str, node: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{name}-svc"},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        },
    ]


def _pod_ip(c: NetCluster, name: str) -> str | None:
    res = c.kubectl("get", "pod", name, "-o", "json", check=False)
    if res.returncode != 0:
        return None
    status = json.loads(res.stdout)["status"]
    return status.get("podIP") if status.get("phase") == "Running" else None


def test_routes_follow_the_nodes(nodes: Nodes) -> None:
    c = nodes.cluster
    cidrs = {
        n["metadata"]["name"]: n["spec"]["podCIDR"]
        for n in json.loads(c.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    }
    proto = hostgw.route_proto(naming.prefix_for(c.data_dir))
    host = wait_for(
        "the host's route to node 2's pods",
        lambda: cidrs[nodes.node2] in _routes() and _routes(),
        timeout=60,
    )
    line = next(x for x in host.splitlines() if x.startswith(cidrs[nodes.node2]))
    assert f"via {nodes.node2_ip} " in line and f"proto {proto}" in line, line
    node1 = next(name for name in cidrs if name != nodes.node2)
    in_node2 = subprocess.run(
        ["ip", "-n", nodes.netns, "-4", "route"], capture_output=True, text=True, check=False
    ).stdout
    line = next(x for x in in_node2.splitlines() if x.startswith(cidrs[node1]))
    assert f"via {nodes.node1_ip} " in line, in_node2


def test_pods_and_services_across_nodes(nodes: Nodes) -> None:
    c = nodes.cluster
    node1 = next(
        n["metadata"]["name"]
        for n in json.loads(c.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        if n["metadata"]["name"] != nodes.node2
    )
    c.apply(*_nginx("web1", node1), *_nginx("web2", nodes.node2))
    ip1 = wait_for("web1 running", lambda: _pod_ip(c, "web1"), timeout=60)
    ip2 = wait_for("web2 running", lambda: _pod_ip(c, "web2"), timeout=60)
    assert ip1.startswith(c.ranges.pod_prefix) and ip2.startswith(c.ranges.pod_prefix)
    assert ip1.rsplit(".", 1)[0] != ip2.rsplit(".", 1)[0]  # two nodes, two /24s
    # as a user waits for a Service before using it: Running is not yet Ready, nor an endpoint
    for svc, ip in (("web1-svc", ip1), ("web2-svc", ip2)):
        wait_for(f"{svc}'s endpoint", lambda s=svc, i=ip: ready_addresses(c, s) == [i], 60)
    script = " ; ".join(
        f"wget -q -T 5 -O /dev/null http://{target}/ && echo ok {target} || echo FAIL {target}"
        for target in ("{ip}", "{svc}", "{svc}.default.svc.cluster.local")
    )
    clients = {"client-a": (node1, ip2, "web2-svc"), "client-b": (nodes.node2, ip1, "web1-svc")}
    c.apply(
        *(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name},
                "spec": {
                    "nodeName": node,
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "c",
                            "image": "busybox",
                            "command": ["sh", "-c", script.format(ip=ip, svc=svc)],
                        }
                    ],
                },
            }
            for name, (node, ip, svc) in clients.items()
        )
    )
    for name, (node, ip, svc) in clients.items():
        phase = wait_for(
            f"{name} to finish",
            lambda n=name: pod_phase(c, n, "Succeeded", "Failed"),
            timeout=90,
        )
        out = c.kubectl("logs", name).stdout.splitlines()
        assert phase == "Succeeded", out
        assert out == [
            f"ok {ip}",
            f"ok {svc}",
            f"ok {svc}.default.svc.cluster.local",
        ], (node, out)

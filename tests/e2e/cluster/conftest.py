"""The cluster the network tests share (one ``pyk8s server`` for the package), and the
fixtures shared with the image and kubelet tests.

The cluster has ranges of its own (by default 10.142/16 for pods, 10.143/16 for Services,
NodePorts 33000-33499; the next free ones when another cluster on the machine holds those,
as a second run of these tests would) and its DNS server a port of its own, so it never
meets another cluster; ``pyk8s killall`` must leave none of its iptables chains, links or
namespaces behind.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pyk8s.cluster import hostranges
from pyk8s.kubelet.network import bridge, hostport
from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from tests.e2e.apiserver.conftest import free_port, kubectl_binary
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.kubelet.test_kubectl import KubeletCluster
from tests.e2e.scheduler.conftest import KUBECTL, wait_for
from tests.support import images

IMAGES = ("nginx", "debian", "busybox", "python")


@dataclass(frozen=True)
class Ranges:
    """A cluster's pod and service CIDRs (10.N/16 and 10.N+1/16) and NodePort range."""

    n: int
    node_ports: tuple[int, int]

    @property
    def pods(self) -> str:
        return f"10.{self.n}.0.0/16"

    @property
    def services(self) -> str:
        return f"10.{self.n + 1}.0.0/16"

    @property
    def pod_prefix(self) -> str:
        return f"10.{self.n}."

    def service_ip(self, tail: str) -> str:
        return f"10.{self.n + 1}.{tail}"

    @property
    def kubernetes_ip(self) -> str:
        return self.service_ip("0.1")

    @property
    def dns_ip(self) -> str:
        return self.service_ip("0.10")

    def flags(self) -> list[str]:
        lo, hi = self.node_ports
        return [
            "--cluster-cidr", self.pods, "--service-cidr", self.services,
            "--service-node-port-range", f"{lo}-{hi}",
        ]  # fmt: skip


def free_ranges(count: int, start: int = 142) -> list[Ranges]:
    """``count`` range sets no running cluster or route of this machine holds (not the
    defaults: other clusters on the machine use those)."""
    claims = hostranges._running(hostranges.claims_dir())
    routes = [net for dev, net in hostranges.host_routes() if not net.endswith("/0")]
    out: list[Ranges] = []
    for i, n in enumerate(range(start, 250, 2)):
        r = Ranges(n, (33000 + 500 * i, 33499 + 500 * i))
        probe = hostranges.Claim("pyk8s-00000000", "", r.pods, r.services, r.node_ports)
        held = hostranges.clashes(probe, claims, [])
        nets = [ipaddress.ip_network(x) for x in (r.pods, r.services)]
        routed = any(ipaddress.ip_network(x).overlaps(net) for x in routes for net in nets)
        if not held and not routed:
            out.append(r)
            if len(out) == count:
                return out
    raise AssertionError("no free address ranges left for test clusters")


@dataclass
class NetCluster(KubeletCluster):
    ranges: Ranges = field(default_factory=lambda: Ranges(142, (33000, 33499)))


def iptables_nat() -> str:
    return subprocess.run(
        ["iptables-save", "-t", "nat"], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetCluster]:
    _require_host()
    for tool in ("iptables-save", "dig"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (hack/system-packages.txt)")
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    data = tmp_path_factory.mktemp("pyk8s-net")
    imports = data / "images" / "import"
    imports.mkdir(parents=True)
    for image in IMAGES:
        (imports / f"{image}.tar").symlink_to(images.bootstrapped(image))
    port = free_port()
    (ranges,) = free_ranges(1)
    argv = [
        sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
        "--https-port", str(port), "--bind-address", "127.0.0.1",
        "--kubelet-port", str(free_port()), "--cluster-dns-port", str(free_port()),
        *ranges.flags(),
    ]  # fmt: skip
    c = NetCluster(data, data / "kubeconfig.yaml", argv=argv, port=port, ranges=ranges)
    prefix = naming.prefix_for(data)
    chains = chain_prefix_for(prefix)
    hostports = hostport.chain_prefix(bridge.link_prefix(prefix))
    try:
        c.start()
        # as a user waits for CoreDNS after start-up: the kube-dns Service routes (the proxy
        # rejects a Service without endpoints) once the DNS mirror pod is Ready
        wait_for("kube-dns endpoints", lambda: dns_ready(c), timeout=60)
        yield c
    finally:
        c.stop()
        res = subprocess.run(
            [sys.executable, "-m", "pyk8s", "killall", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            check=False,
        )
        left = killall.leftovers(prefix, data)
        nat = iptables_nat()
        links = bridge.host_links(prefix)
    assert res.returncode == 0, res.stdout + res.stderr
    assert left == [] and links == [], (left, links)
    assert f"{chains}-" not in nat, f"chains {chains}-* left after killall"
    assert f"{hostports}-" not in nat, f"chains {hostports}-* left after killall"


def dns_ready(c: KubeletCluster) -> bool | None:
    res = c.kubectl("get", "endpoints", "kube-dns", "-n", "kube-system", "-o", "json", check=False)
    if res.returncode != 0:
        return None
    subsets = json.loads(res.stdout).get("subsets") or []
    return any(s.get("addresses") for s in subsets) or None


def ready_addresses(c: KubeletCluster, service: str, ns: str = "default") -> list[str]:
    """The ready addresses of a Service's Endpoints (none while it has no Endpoints)."""
    res = c.kubectl("get", "endpoints", service, "-n", ns, "-o", "json", check=False)
    if res.returncode != 0:
        return []
    subsets = json.loads(res.stdout).get("subsets") or []
    return sorted(a["ip"] for s in subsets for a in s.get("addresses") or [])


def node_ip(c: KubeletCluster) -> str:
    node = c.get("nodes")["items"][0]
    return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")


def pod_phase(c: KubeletCluster, name: str, *phases: str, ns: str = "default") -> str | None:
    res = c.kubectl("get", "pod", name, "-n", ns, "-o", "json", check=False)
    if res.returncode != 0:
        return None
    phase = json.loads(res.stdout)["status"].get("phase")
    return phase if phase in phases else None


def run_to_completion(
    c: KubeletCluster,
    name: str,
    image: str,
    script: str,
    timeout: float = 90,
    ns: str = "default",
    **spec: Any,
) -> list[str]:
    """Run ``script`` in a pod with ``sh -c``; return its log lines once it exits 0."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": image, "command": ["sh", "-c", script]}],
            **spec,
        },
    }
    c.apply(pod)
    phase = wait_for(
        f"pod {name} to finish",
        lambda: pod_phase(c, name, "Succeeded", "Failed", ns=ns),
        timeout=timeout,
    )
    out = c.kubectl("logs", name, "-n", ns).stdout.splitlines()
    c.kubectl("delete", "pod", name, "-n", ns, "--wait=false")
    assert phase == "Succeeded", out
    return out

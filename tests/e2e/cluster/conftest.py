"""The cluster the network tests share (one ``pyk8s server`` for the package), and the
fixtures shared with the image and kubelet tests.

The cluster has ranges of its own (10.142/16 for pods, 10.143/16 for Services) and its DNS
server a port of its own, so it never meets another cluster on the machine; ``pyk8s
killall`` must leave none of its iptables chains, links or namespaces behind.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pyk8s.kubelet.network import bridge, hostport
from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from tests.e2e.apiserver.conftest import free_port, kubectl_binary
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.kubelet.test_kubectl import KubeletCluster
from tests.e2e.scheduler.conftest import KUBECTL, wait_for
from tests.support import images

IMAGES = ("nginx", "debian", "busybox", "python")

POD_CIDR = "10.142.0.0/16"
SERVICE_CIDR = "10.143.0.0/16"
KUBERNETES_IP = "10.143.0.1"
DNS_IP = "10.143.0.10"
NODE_PORTS = "33000-33999"  # not the default range: other clusters on the machine use that


def iptables_nat() -> str:
    return subprocess.run(
        ["iptables-save", "-t", "nat"], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletCluster]:
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
    argv = [
        sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
        "--https-port", str(port), "--bind-address", "127.0.0.1",
        "--kubelet-port", str(free_port()), "--cluster-cidr", POD_CIDR,
        "--service-cidr", SERVICE_CIDR, "--cluster-dns-port", str(free_port()),
        "--service-node-port-range", NODE_PORTS,
    ]  # fmt: skip
    c = KubeletCluster(data, data / "kubeconfig.yaml", argv=argv, port=port)
    prefix = naming.prefix_for(data)
    chains = chain_prefix_for(prefix)
    hostports = hostport.chain_prefix(bridge.link_prefix(prefix))
    try:
        c.start()
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
    c: KubeletCluster, name: str, image: str, script: str, timeout: float = 90, **spec: Any
) -> list[str]:
    """Run ``script`` in a pod with ``sh -c``; return its log lines once it exits 0."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": image, "command": ["sh", "-c", script]}],
            **spec,
        },
    }
    c.apply(pod)
    phase = wait_for(f"pod {name} to finish", lambda: pod_phase(c, name, "Succeeded", "Failed"),
                     timeout=timeout)  # fmt: skip
    out = c.kubectl("logs", name).stdout.splitlines()
    c.kubectl("delete", "pod", name, "--wait=false")
    assert phase == "Succeeded", out
    return out

"""``pyk8s kubelet --kubeconfig``: the node agent alone, joining a ``pyk8s server`` that runs
without its own (``--disable-agent``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyk8s.kubelet.runtime import killall, naming
from tests.e2e.apiserver.conftest import _wait_ready, free_port, kubectl_binary
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.scheduler.conftest import KUBECTL, Cluster, _stop, wait_for
from tests.support import images

pytestmark = pytest.mark.e2e


@pytest.fixture
def server_and_kubelet(tmp_path: Path) -> Iterator[Cluster]:
    _require_host()
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    server_dir, node_dir = tmp_path / "server", tmp_path / "node"
    (node_dir / "images" / "import").mkdir(parents=True)
    (node_dir / "images" / "import" / "busybox.tar").symlink_to(images.bootstrapped("busybox"))
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with (tmp_path / "server.log").open("ab") as log:
        try:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "pyk8s", "server", "--disable-agent", "--data-dir",
                 str(server_dir), "--https-port", str(port), "--bind-address", "127.0.0.1"],
                stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
            ca = server_dir / "server" / "tls" / "ca.crt"
            _wait_ready(port, ca, procs[0], time.monotonic() + 60)
            kubeconfig = server_dir / "kubeconfig.yaml"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "pyk8s", "kubelet", "--kubeconfig", str(kubeconfig),
                 "--data-dir", str(node_dir), "--hostname-override", "worker-1",
                 "--port", str(free_port()), "--client-ca-file", str(ca),
                 "--node-labels", "tier=edge"],
                stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
            yield Cluster(server_dir, kubeconfig)
        finally:
            for p in reversed(procs):
                _stop(p)
            prefix = naming.prefix_for(node_dir)
            asyncio.run(killall.killall(prefix, node_dir))
            left = killall.leftovers(prefix, node_dir)
    assert left == [], f"left on the host: {left}"


def test_standalone_kubelet_joins_and_runs_pods(server_and_kubelet: Cluster) -> None:
    c = server_and_kubelet
    wait_for("worker-1", lambda: c.kubectl("get", "node", "worker-1", check=False).returncode == 0,
             timeout=60)  # fmt: skip
    node = c.get("node", "worker-1")
    assert node["metadata"]["labels"]["tier"] == "edge"
    assert "node-role.kubernetes.io/control-plane" not in node["metadata"]["labels"]
    c.kubectl("run", "hi", "--image=busybox", "--restart=Never", "--", "echo", "hi from worker")

    def done() -> bool:
        res = c.kubectl("get", "pod", "hi", "-o", "jsonpath={.status.phase}", check=False)
        return res.stdout == "Succeeded"

    wait_for("hi to succeed", done, timeout=60)
    assert c.kubectl("get", "pod", "hi", "-o", "jsonpath={.spec.nodeName}").stdout == "worker-1"
    assert c.kubectl("logs", "hi").stdout == "hi from worker\n"

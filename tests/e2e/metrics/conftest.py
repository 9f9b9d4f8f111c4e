"""One ``pyk8s server`` with its node agent and metrics-server (scraping every 5 s), for
``kubectl top`` and the aggregation layer. Ranges of its own (10.222/16 and up, NodePorts
from the free sets of the cluster tests), so it never meets another cluster."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import pytest

from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from pyk8s.proxy.iptables import proxier
from tests.e2e.apiserver.conftest import free_port, kubectl_binary
from tests.e2e.cluster.conftest import free_ranges
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.kubelet.test_kubectl import KubeletCluster
from tests.e2e.scheduler.conftest import KUBECTL
from tests.support import images

RESOLUTION = "5s"


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletCluster]:
    _require_host()
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    data = tmp_path_factory.mktemp("pyk8s-metrics")
    imports = data / "images" / "import"
    imports.mkdir(parents=True)
    (imports / "busybox.tar").symlink_to(images.bootstrapped("busybox"))
    port = free_port()
    (ranges,) = free_ranges(1, start=222)
    argv = [
        sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
        "--https-port", str(port), "--bind-address", "127.0.0.1",
        "--kubelet-port", str(free_port()), "--cluster-dns-port", str(free_port()),
        "--metrics-server-port", str(free_port()), "--metric-resolution", RESOLUTION,
        *ranges.flags(),
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
        asyncio.run(proxier.cleanup(chain_prefix_for(prefix)))
    assert left == [], f"left on the host after killall: {left}"

"""Two ``pyk8s server``s side by side on one machine, each with its own ranges: each routes
its own Services, a third one on a taken range refuses to start and says why, and ``pyk8s
killall --data-dir`` of one leaves the other working."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyk8s.kubelet.network import bridge, hostport
from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from tests.e2e.apiserver.conftest import free_port, kubectl_binary
from tests.e2e.cluster.conftest import NetCluster, Ranges, free_ranges, iptables_nat
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.scheduler.conftest import KUBECTL, wait_for
from tests.support import images

pytestmark = pytest.mark.e2e


def _argv(data: Path, ranges: Ranges, port: int) -> list[str]:
    return [
        sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
        "--https-port", str(port), "--bind-address", "127.0.0.1",
        "--kubelet-port", str(free_port()), "--cluster-dns-port", str(free_port()),
        *ranges.flags(),
    ]  # fmt: skip


def _killall(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyk8s", "killall", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NetCluster]]:
    _require_host()
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    out: dict[str, NetCluster] = {}
    for name, ranges in zip("ab", free_ranges(2, start=152), strict=True):
        data = tmp_path_factory.mktemp(f"pyk8s-{name}")
        (data / "images" / "import").mkdir(parents=True)
        (data / "images" / "import" / "nginx.tar").symlink_to(images.bootstrapped("nginx"))
        port = free_port()
        out[name] = NetCluster(
            data, data / "kubeconfig.yaml", argv=_argv(data, ranges, port), port=port,
            ranges=ranges,
        )  # fmt: skip
    errors: list[BaseException] = []

    def start(c: NetCluster) -> None:
        try:
            c.start()
        except BaseException as e:
            errors.append(e)

    try:
        threads = [threading.Thread(target=start, args=(c,)) for c in out.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        yield out
    finally:
        for c in out.values():
            c.stop()
            _killall(c.data_dir)
    for c in out.values():
        prefix = naming.prefix_for(c.data_dir)
        assert killall.leftovers(prefix, c.data_dir) == []
        assert bridge.host_links(prefix) == []
        assert f"{chain_prefix_for(prefix)}-" not in iptables_nat()


def _curl(url: str) -> str:
    return subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def _web(c: NetCluster) -> tuple[str, int]:
    """A one-pod nginx Deployment behind a NodePort Service; its ClusterIP and NodePort."""
    c.kubectl("create", "deployment", "web", "--image=nginx")
    c.kubectl("expose", "deployment", "web", "--port=80", "--type=NodePort")
    svc = json.loads(c.kubectl("get", "svc", "web", "-o", "json").stdout)
    return svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]


@pytest.fixture(scope="module")
def web(clusters: dict[str, NetCluster]) -> dict[str, tuple[str, int]]:
    return {name: _web(c) for name, c in clusters.items()}


def test_two_clusters_side_by_side(
    clusters: dict[str, NetCluster], web: dict[str, tuple[str, int]], tmp_path: Path
) -> None:
    a, b = clusters["a"], clusters["b"]
    for name, (ip, node_port) in web.items():
        ranges = clusters[name].ranges
        assert ip.startswith(ranges.service_ip(""))
        lo, hi = ranges.node_ports
        assert lo <= node_port <= hi
        for url in (f"http://{ip}/", f"http://127.0.0.1:{node_port}/"):
            assert wait_for(f"{url} of cluster {name}", lambda u=url: _curl(u) == "200", 90)

    # Each cluster's rules are in its own chains only.
    nat = iptables_nat().splitlines()
    for name, c in clusters.items():
        other = web["b" if name == "a" else "a"][0]
        own = chain_prefix_for(naming.prefix_for(c.data_dir))
        mine = [line for line in nat if line.startswith(f"-A {own}-")]
        assert any(f"{web[name][0]}/32" in line for line in mine)
        assert not any(f"{other}/32" in line for line in mine)

    # A third cluster on a's pod range: a clear error before anything is touched.
    data = tmp_path / "c"
    (spare,) = free_ranges(1, start=b.ranges.n + 2)
    clash = Ranges(a.ranges.n, spare.node_ports)  # a's pod and service ranges
    res = subprocess.run(
        _argv(data, clash, free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 1, res.stderr
    assert f"--cluster-cidr {a.ranges.pods} overlaps {a.ranges.pods}" in res.stderr
    assert f"--service-cidr {a.ranges.services} overlaps" in res.stderr
    assert f"--data-dir {a.data_dir}" in res.stderr
    assert bridge.host_links(naming.prefix_for(data)) == []


def test_killall_of_one_leaves_the_other(
    clusters: dict[str, NetCluster], web: dict[str, tuple[str, int]]
) -> None:
    a, b = clusters["a"], clusters["b"]
    a.stop()
    res = _killall(a.data_dir)
    assert res.returncode == 0, res.stdout + res.stderr
    prefix_a, prefix_b = naming.prefix_for(a.data_dir), naming.prefix_for(b.data_dir)
    nat_text = iptables_nat()
    assert f"{chain_prefix_for(prefix_a)}-" not in nat_text
    assert f"{chain_prefix_for(prefix_b)}-SERVICES" in nat_text
    assert bridge.host_links(prefix_a) == [] and bridge.host_links(prefix_b) != []
    assert hostport.chain_prefix(bridge.link_prefix(prefix_a)) != hostport.chain_prefix(
        bridge.link_prefix(prefix_b)
    )
    ip, node_port = web["b"]
    assert _curl(f"http://{ip}/") == "200"
    assert _curl(f"http://127.0.0.1:{node_port}/") == "200"
    pods = json.loads(b.kubectl("get", "pods", "-o", "json").stdout)["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]

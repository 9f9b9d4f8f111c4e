"""``kubectl top`` on a real cluster: metrics-server scrapes the kubelet, the API server
proxies ``metrics.k8s.io`` to it; stopping it gives 503 and ``Available=False``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from typing import Any

from tests.e2e.apiserver.conftest import free_port
from tests.e2e.kubelet.test_kubectl import KubeletCluster
from tests.e2e.metrics.conftest import RESOLUTION
from tests.e2e.scheduler.conftest import _stop, wait_for

APISERVICE = "v1beta1.metrics.k8s.io"


def _available(c: KubeletCluster) -> dict[str, Any]:
    res = c.kubectl("get", "apiservice", APISERVICE, "-o", "json", check=False)
    if res.returncode != 0:
        return {}
    conds = json.loads(res.stdout).get("status", {}).get("conditions") or []
    return next((x for x in conds if x["type"] == "Available"), {})


def _is(c: KubeletCluster, status: str) -> dict[str, Any] | None:
    cond = _available(c)
    return cond if cond.get("status") == status else None


def _phase(c: KubeletCluster, name: str) -> str:
    return str(c.get("pod", name)["status"].get("phase") or "")


def _fresh_discovery(c: KubeletCluster) -> None:
    """kubectl caches discovery for hours; the metrics group appears after its first use."""
    shutil.rmtree(c.data_dir / "kubectl-cache", ignore_errors=True)


def _millicores(text: str) -> int:
    m = re.fullmatch(r"(\d+)(m?)", text)
    assert m is not None, text
    return int(m.group(1)) * (1 if m.group(2) else 1000)


def test_apiservices_listed(cluster: KubeletCluster) -> None:
    cond = wait_for("the metrics APIService to be Available", lambda: _is(cluster, "True"), 90)
    assert cond["reason"] == "Passed"
    out = cluster.kubectl("get", "apiservices").stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows[APISERVICE][:2] == ["kube-system/metrics-server", "True"], out
    assert rows["v1.apps"][:2] == ["Local", "True"] and rows["v1."][:2] == ["Local", "True"], out
    svc = cluster.get("service", "metrics-server", "-n", "kube-system")
    assert svc["spec"]["ports"][0]["port"] == 443


def test_top_node_and_pod(cluster: KubeletCluster) -> None:
    cluster.kubectl(
        "run", "burn", "--image=busybox", "--restart=Never", "--labels=app=burn",
        "--", "sh", "-c", "while true; do :; done",
    )  # fmt: skip
    try:
        wait_for("burn to run", lambda: _phase(cluster, "burn") == "Running", 60)
        wait_for("Available", lambda: _available(cluster).get("status") == "True", 60)
        _fresh_discovery(cluster)

        def top_pod() -> list[str] | None:
            res = cluster.kubectl("top", "pod", "-l", "app=burn", "--no-headers", check=False)
            line = res.stdout.strip().split()
            return line if res.returncode == 0 and line and line[0] == "burn" else None

        _, cpu, memory = wait_for("kubectl top pod", top_pod, 90)
        assert _millicores(cpu) > 100, (cpu, memory)  # a busy loop: most of a core
        assert re.fullmatch(r"\d+Mi", memory), memory

        res = cluster.kubectl("top", "node")
        header, *rows = res.stdout.splitlines()
        assert header.split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
        node = cluster.get("nodes")["items"][0]["metadata"]["name"]
        row = next(r.split() for r in rows if r.split()[0] == node)
        assert _millicores(row[1]) >= _millicores(cpu) * 0.5, row
        assert row[2].endswith("%") and re.fullmatch(r"\d+Mi", row[3]) and row[4].endswith("%")

        raw = json.loads(
            cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes").stdout
        )
        assert raw["kind"] == "NodeMetricsList"
        assert [i["metadata"]["name"] for i in raw["items"]] == [node]
        assert raw["items"][0]["window"].endswith("s")
        path = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burn"
        pm = json.loads(cluster.kubectl("get", "--raw", path).stdout)
        assert pm["kind"] == "PodMetrics" and pm["containers"][0]["name"] == "burn"
    finally:
        cluster.kubectl("delete", "pod", "burn", "--grace-period=1", "--wait=false", check=False)


def test_stopped_metrics_server_is_unavailable(cluster: KubeletCluster) -> None:
    """A metrics-server of its own takes over the endpoints; once it stops, requests get 503
    at once and the APIService turns Available=False."""
    port = free_port()
    log_path = cluster.data_dir / "metrics-server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyk8s", "metrics-server", f"--kubeconfig={cluster.kubeconfig}",
             f"--secure-port={port}", f"--metric-resolution={RESOLUTION}",
             f"--cert-dir={cluster.data_dir / 'ms-standalone'}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def ours() -> bool:
            eps = cluster.get("endpoints", "metrics-server", "-n", "kube-system")
            return any(p["port"] == port for s in eps.get("subsets") or [] for p in s["ports"])

        wait_for("the endpoints to name the new metrics-server", ours, 30)

        def served() -> bool:
            res = cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes", check=False)
            return res.returncode == 0 and bool(json.loads(res.stdout)["items"])

        wait_for("node metrics from the new metrics-server", served, 60)
    finally:
        _stop(proc)
    res = cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes", check=False)
    assert res.returncode != 0 and "ServiceUnavailable" in res.stderr, res.stderr
    cond = wait_for("Available=False", lambda: _is(cluster, "False"), 60)
    assert cond["reason"] == "FailedDiscoveryCheck", cond
    out = cluster.kubectl("get", "apiservice", APISERVICE).stdout
    assert "False" in out.splitlines()[1], out

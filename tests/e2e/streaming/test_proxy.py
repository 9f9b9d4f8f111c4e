"""The API server's ``proxy`` subresources on a real cluster, through the real kubectl:
``kubectl get --raw`` of a node's kubelet endpoints (summary stats, resource metrics, pods,
healthz) and of nginx through ``pods/proxy`` and ``services/proxy``, and a browser's path
through ``kubectl proxy``."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.scheduler.conftest import wait_for
from tests.e2e.streaming.conftest import Streaming

pytestmark = pytest.mark.e2e


def _raw(s: Streaming, path: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return s.kubectl("1.33", "get", "--raw", path, check=check)


def _node(s: Streaming) -> str:
    return s.kubectl("1.33", "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout


def test_node_proxy_reaches_the_kubelet(streaming: Streaming) -> None:
    node = _node(streaming)
    summary = json.loads(_raw(streaming, f"/api/v1/nodes/{node}/proxy/stats/summary").stdout)
    assert summary["node"]["nodeName"] == node
    assert "web" in {p["podRef"]["name"] for p in summary["pods"]}
    metrics = _raw(streaming, f"/api/v1/nodes/{node}/proxy/metrics/resource").stdout
    assert re.search(r"^node_cpu_usage_seconds_total \S+", metrics, re.M), metrics[:500]
    assert re.search(
        r'^container_memory_working_set_bytes\{container="nginx",pod="web"', metrics, re.M
    )
    pods = json.loads(_raw(streaming, f"/api/v1/nodes/{node}/proxy/pods").stdout)
    assert pods["kind"] == "PodList" and "web" in {p["metadata"]["name"] for p in pods["items"]}
    assert _raw(streaming, f"/api/v1/nodes/{node}/proxy/healthz").stdout == "ok"
    res = _raw(streaming, "/api/v1/nodes/no-such-node/proxy/healthz", check=False)
    assert res.returncode == 1 and 'nodes "no-such-node" not found' in res.stderr


@pytest.fixture(scope="module")
def web_service(streaming: Streaming) -> Iterator[str]:
    streaming.kubectl("1.33", "label", "pod", "web", "proxy-test=web", "--overwrite")
    streaming.kubectl("1.33", "expose", "pod", "web", "--name", "web-proxy", "--port", "8080",
                      "--target-port", "80", "--selector", "proxy-test=web")  # fmt: skip

    def ready() -> bool:
        res = streaming.kubectl(
            "1.33", "get", "endpoints", "web-proxy", "-o", "jsonpath={.subsets[*].addresses[*].ip}",
            check=False,
        )  # fmt: skip
        return res.returncode == 0 and bool(res.stdout.strip())

    wait_for("the web-proxy endpoints", ready, timeout=60)
    try:
        yield "web-proxy"
    finally:
        streaming.kubectl("1.33", "delete", "service", "web-proxy", "--wait=false", check=False)


def test_pod_and_service_proxy_reach_nginx(streaming: Streaming, web_service: str) -> None:
    for path in (
        "/api/v1/namespaces/default/pods/web/proxy/",
        "/api/v1/namespaces/default/pods/web:80/proxy/",
        f"/api/v1/namespaces/default/services/{web_service}/proxy/",
        f"/api/v1/namespaces/default/services/http:{web_service}:8080/proxy/",
    ):
        assert "Welcome to nginx!" in _raw(streaming, path).stdout, path
    res = _raw(
        streaming, f"/api/v1/namespaces/default/services/{web_service}:9/proxy/", check=False
    )
    assert res.returncode == 1
    assert f'no service port 9 found for service \\"{web_service}\\"' in res.stderr or (
        f'no service port 9 found for service "{web_service}"' in res.stderr
    ), res.stderr


@contextmanager
def kubectl_proxy(s: Streaming) -> Iterator[int]:
    proc = subprocess.Popen(
        s.argv("1.33", "proxy", "--port", "0"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"Starting to serve on 127\.0\.0\.1:(\d+)", line)
        assert m, f"kubectl proxy said {line!r}"
        yield int(m.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kubectl_proxy_to_a_service(streaming: Streaming, web_service: str) -> None:
    with kubectl_proxy(streaming) as port:
        base = (
            f"http://127.0.0.1:{port}/api/v1/namespaces/default/services/{web_service}:8080/proxy"
        )
        with urllib.request.urlopen(base + "/", timeout=20) as r:
            assert r.status == 200
            assert b"Welcome to nginx!" in r.read()
        # no trailing slash: redirected to the proxy's root, which urllib follows
        with urllib.request.urlopen(base, timeout=20) as r:
            assert r.geturl() == base + "/"
            assert b"Welcome to nginx!" in r.read()
        node = _node(streaming)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v1/nodes/{node}/proxy/stats/summary", timeout=20
        ) as r:
            assert json.loads(r.read())["node"]["nodeName"] == node

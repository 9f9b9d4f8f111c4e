"""metrics-server behind the in-process API server, scraping a kubelet stand-in that serves
``/metrics/resource`` as the kubelet renders it, with counters that grow at known rates."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pyk8s.apiserver import pki
from pyk8s.client import rest
from pyk8s.kubelet.stats import resource_metrics
from pyk8s.metrics import server as metrics_server
from pyk8s.metrics.config import MetricsServerConfig
from tests.integration.apiserver.conftest import Client, Cluster, free_port

NODE_CORES, POD_CORES = 0.5, 0.25


def _stamp(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(t0: int) -> dict[str, Any]:
    now = int(time.time())
    ts = _stamp(now)
    return {
        "node": {
            "nodeName": "node-a",
            "cpu": {"time": ts, "usageCoreNanoSeconds": int(NODE_CORES * (now - t0) * 1e9)},
            "memory": {"time": ts, "workingSetBytes": 256 << 20},
        },
        "pods": [
            {
                "podRef": {"name": "busy", "namespace": "default", "uid": "u"},
                "containers": [
                    {
                        "name": "burn",
                        "startTime": _stamp(t0 - 3600),
                        "cpu": {"time": ts,
                                "usageCoreNanoSeconds": int(POD_CORES * (now - t0) * 1e9)},
                        "memory": {"time": ts, "workingSetBytes": 3 << 20},
                    }
                ],
            }
        ],
    }  # fmt: skip


def _kubelet_ssl(tmp: Path) -> ssl.SSLContext:
    ca, leaf = (
        pki.KeyPair(tmp / "k-ca.crt", tmp / "k-ca.key"),
        pki.KeyPair(tmp / "k.crt", tmp / "k.key"),
    )
    pki.make_ca(ca, cn="kubelet-ca")
    pki.make_leaf(leaf, ca, cn="node-a", server=True, dns_names=("localhost",))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(leaf.cert_path, leaf.key_path)
    return ctx


@pytest.fixture
async def kubelet(tmp_path: Path) -> AsyncIterator[int]:
    t0 = int(time.time()) - 100

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=resource_metrics.render(summary(t0)), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics/resource", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    ctx = await asyncio.to_thread(_kubelet_ssl, tmp_path)
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def _wait(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last is not None:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: still {last!r}")


async def test_top_node_and_pod_through_the_aggregator(
    cluster: Cluster, client: Client, kubelet: int, tmp_path: Path
) -> None:
    assert cluster.api.aggregator is not None
    cluster.api.aggregator.resync, cluster.api.aggregator.tick = 0.5, 0.2
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-a", "labels": {"role": "worker"}}}  # fmt: skip
    status, body = await client.post("/api/v1/nodes", node)
    assert status == 201, body
    body["status"] = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet}},
    }
    status, body = await client.put("/api/v1/nodes/node-a/status", body)
    assert status == 200, body
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "busy", "namespace": "default", "labels": {"app": "burn"}},
        "spec": {"nodeName": "node-a", "containers": [{"name": "burn", "image": "busybox"}]},
    }
    status, body = await client.post("/api/v1/namespaces/default/pods", pod)
    assert status == 201, body

    config = MetricsServerConfig(
        cert_dir=tmp_path / "ms", bind_address="127.0.0.1", secure_port=0, metric_resolution=1.0
    )
    ms_client = await rest.Client.from_kubeconfig(cluster.config.kubeconfig_path)
    ready = asyncio.Event()
    task = asyncio.create_task(metrics_server.run(config, ms_client, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)

        async def nodes() -> Any:
            status, body = await client.get("/apis/metrics.k8s.io/v1beta1/nodes")
            return body if status == 200 and body.get("items") else None

        listed = await _wait("node metrics", nodes)
        item = listed["items"][0]
        assert item["metadata"]["name"] == "node-a"
        assert item["metadata"]["labels"] == {"role": "worker"}
        assert item["usage"] == {"cpu": "500m", "memory": "256Mi"}
        assert item["window"].endswith("s")

        async def pods() -> Any:
            status, body = await client.get(
                "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
                params={"labelSelector": "app=burn"},
            )
            return body if status == 200 and body.get("items") else None

        listed = await _wait("pod metrics", pods)
        containers = listed["items"][0]["containers"]
        assert containers == [{"name": "burn", "usage": {"cpu": "250m", "memory": "3Mi"}}]
        status, body = await client.get(
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
            params={"labelSelector": "app=other"},
        )
        assert status == 200 and body["items"] == []
        status, body = await client.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy")
        assert status == 200 and body["kind"] == "PodMetrics", body
        status, body = await client.get("/apis/metrics.k8s.io/v1beta1/nodes/nowhere")
        assert status == 404, body

        # RBAC: the aggregated reader role is in view; an unbound user is refused
        status, body = await client.get(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregated-metrics-reader"
        )
        assert status == 200, body
        status, body = await client.get(
            "/apis/metrics.k8s.io/v1beta1/nodes", headers={"Impersonate-User": "nobody"}
        )
        assert status == 403, body
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await ms_client.close()

    async def gone() -> Any:
        status, text = await client.get("/apis/metrics.k8s.io/v1beta1/nodes")
        return text if status == 503 else None

    assert await _wait("503 once metrics-server stopped", gone)

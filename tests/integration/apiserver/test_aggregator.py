"""API aggregation: an APIService with ``spec.service`` proxied to an HTTPS extension server
that authenticates the aggregator by its front-proxy client certificate."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pyk8s.apiserver import pki
from tests.integration.apiserver.conftest import Client, Cluster, free_port

GROUP, VERSION = "example.pyk8s.io", "v1"
RESOURCES = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": f"{GROUP}/{VERSION}",
    "resources": [
        {"name": "widgets", "singularName": "", "namespaced": True, "kind": "Widget",
         "verbs": ["get", "list"]},
    ],
}  # fmt: skip


@dataclass
class Backend:
    port: int
    seen: list[dict[str, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None


def _server_ssl(tmp: Path, front_proxy_ca: Path) -> ssl.SSLContext:
    ca = pki.KeyPair(tmp / "ext-ca.crt", tmp / "ext-ca.key")
    leaf = pki.KeyPair(tmp / "ext.crt", tmp / "ext.key")
    pki.make_ca(ca, cn="extension-ca")
    pki.make_leaf(leaf, ca, cn="extension", server=True, dns_names=("localhost",))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(leaf.cert_path, leaf.key_path)
    ctx.load_verify_locations(cafile=str(front_proxy_ca))
    ctx.verify_mode = ssl.CERT_REQUIRED  # only the aggregator's front-proxy identity
    return ctx


async def _start(backend: Backend, ctx: ssl.SSLContext) -> None:
    async def handle(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        backend.seen.append(
            {
                "path": request.path_qs,
                "user": request.headers.get("X-Remote-User"),
                "groups": request.headers.getall("X-Remote-Group", []),
                "authorization": request.headers.get("Authorization"),
                "peer": dict(x[0] for x in (peer or {}).get("subject", ())),
            }
        )
        if request.path == f"/apis/{GROUP}/{VERSION}":
            return web.json_response(RESOURCES)
        return web.json_response(
            {"kind": "WidgetList", "apiVersion": f"{GROUP}/{VERSION}", "metadata": {},
             "items": [{"metadata": {"name": "w1"}, "query": request.query_string}]}
        )  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    backend.runner = web.AppRunner(app, access_log=None)
    await backend.runner.setup()
    await web.TCPSite(backend.runner, "127.0.0.1", backend.port, ssl_context=ctx).start()


@pytest.fixture
async def backend(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Backend]:
    cluster.api.aggregator.resync = 0.5  # type: ignore[union-attr]
    cluster.api.aggregator.tick = 0.2  # type: ignore[union-attr]
    ctx = await asyncio.to_thread(
        _server_ssl, tmp_path, cluster.config.pki_dir / "request-header-ca.crt"
    )
    b = Backend(free_port())
    await _start(b, ctx)
    try:
        yield b
    finally:
        if b.runner is not None:
            await b.runner.cleanup()


async def _register(client: Client, port: int) -> None:
    svc = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "example", "namespace": "kube-system"},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]},
    }  # fmt: skip
    status, body = await client.post("/api/v1/namespaces/kube-system/services", svc)
    assert status == 201, body
    eps = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "example", "namespace": "kube-system",
                     "labels": {"kubernetes.io/service-name": "example"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }  # fmt: skip
    status, body = await client.post(
        "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", eps
    )
    assert status == 201, body
    apisvc = {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": f"{VERSION}.{GROUP}"},
        "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 100,
                 "versionPriority": 100, "insecureSkipTLSVerify": True,
                 "service": {"namespace": "kube-system", "name": "example", "port": 443}},
    }  # fmt: skip
    status, body = await client.post("/apis/apiregistration.k8s.io/v1/apiservices", apisvc)
    assert status == 201, body


async def _available(client: Client, want: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    cond: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, obj = await client.get(
            f"/apis/apiregistration.k8s.io/v1/apiservices/{VERSION}.{GROUP}"
        )
        assert status == 200, obj
        cond = next(
            (c for c in (obj.get("status") or {}).get("conditions") or []
             if c["type"] == "Available"), {}
        )  # fmt: skip
        if cond.get("status") == want:
            return cond
        await asyncio.sleep(0.2)
    raise AssertionError(f"Available is not {want}: {cond}")


async def test_local_apiservices_are_available(client: Client) -> None:
    deadline = time.monotonic() + 20
    while True:
        status, body = await client.get("/apis/apiregistration.k8s.io/v1/apiservices")
        assert status == 200
        names = {i["metadata"]["name"]: i for i in body["items"]}
        local = names.get("v1.apps")
        if local and (local.get("status") or {}).get("conditions"):
            break
        assert time.monotonic() < deadline, sorted(names)
        await asyncio.sleep(0.2)
    assert "v1." in names and "v1.apiregistration.k8s.io" in names
    cond = local["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Available", "True", "Local")
    assert "service" not in local["spec"]
    assert local["spec"]["groupPriorityMinimum"] == 17800


async def test_proxy_discovery_and_unavailable(client: Client, backend: Backend) -> None:
    await _register(client, backend.port)
    cond = await _available(client, "True")
    assert cond["reason"] == "Passed"

    # a proxied list: the user travels as headers, under the front-proxy certificate
    status, body = await client.get(
        f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets", params={"labelSelector": "a=b"}
    )
    assert status == 200, body
    assert body["items"][0]["query"] == "labelSelector=a%3Db"
    seen = backend.seen[-1]
    assert seen["path"].startswith(f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets")
    assert seen["user"] == "kubernetes-admin"
    assert "system:masters" in seen["groups"] and "system:authenticated" in seen["groups"]
    assert seen["authorization"] is None
    assert seen["peer"]["commonName"] == "system:auth-proxy"

    # discovery: legacy and aggregated
    status, groups = await client.get("/apis")
    assert status == 200
    mine = [g for g in groups["groups"] if g["name"] == GROUP]
    assert mine and mine[0]["preferredVersion"]["version"] == VERSION
    status, agg = await client.get(
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    )
    assert status == 200
    item = next(i for i in agg["items"] if i["metadata"]["name"] == GROUP)
    res = item["versions"][0]["resources"][0]
    assert (res["resource"], res["scope"], res["responseKind"]["kind"]) == (
        "widgets", "Namespaced", "Widget",
    )  # fmt: skip
    status, doc = await client.get(f"/apis/{GROUP}")
    assert status == 200 and doc["kind"] == "APIGroup", doc
    status, doc = await client.get(f"/apis/{GROUP}/{VERSION}")
    assert status == 200 and doc == RESOURCES

    # the backend goes away: 503 at once, then Available=False
    assert backend.runner is not None
    await backend.runner.cleanup()
    backend.runner = None
    status, text = await client.get(f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets")
    assert status == 503
    cond = await _available(client, "False")
    assert cond["reason"] == "FailedDiscoveryCheck"
    assert cond["message"].startswith(
        f"failing or missing response from https://127.0.0.1:{backend.port}/apis/{GROUP}/{VERSION}"
    )
    status, text = await client.get(f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets")
    assert (status, text) == (503, "service unavailable\n")
    status, groups = await client.get("/apis")
    assert GROUP not in {g["name"] for g in groups["groups"]}


async def test_missing_service(client: Client) -> None:
    apisvc = {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": f"{VERSION}.{GROUP}"},
        "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 100,
                 "versionPriority": 100, "insecureSkipTLSVerify": True,
                 "service": {"namespace": "kube-system", "name": "nowhere", "port": 443}},
    }  # fmt: skip
    status, body = await client.post("/apis/apiregistration.k8s.io/v1/apiservices", apisvc)
    assert status == 201, body
    cond = await _available(client, "False")
    assert (cond["reason"], cond["message"]) == (
        "ServiceNotFound",
        'service/nowhere in "kube-system" is not present',
    )
    status, text = await client.get(f"/apis/{GROUP}/{VERSION}/widgets")
    assert (status, text) == (503, "service unavailable\n")


async def test_custom_resource_group_versions_get_local_apiservices(client: Client) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.agg.example.com"},
        "spec": {
            "group": "agg.example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True,
                 "schema": {"openAPIV3Schema": {"type": "object"}}},
            ],
        },
    }  # fmt: skip
    status, body = await client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status == 201, body
    path = "/apis/apiregistration.k8s.io/v1/apiservices/v1.agg.example.com"
    deadline = time.monotonic() + 20
    while True:
        status, obj = await client.get(path)
        if status == 200 and (obj.get("status") or {}).get("conditions"):
            break
        assert time.monotonic() < deadline, obj
        await asyncio.sleep(0.2)
    assert obj["metadata"]["labels"]["kube-aggregator.kubernetes.io/automanaged"] == "true"
    assert (obj["spec"]["groupPriorityMinimum"], obj["spec"]["versionPriority"]) == (1000, 100)
    assert obj["status"]["conditions"][0]["reason"] == "Local"
    status, body = await client.delete(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.agg.example.com"
    )
    assert status == 200, body
    deadline = time.monotonic() + 30
    while (await client.get(path))[0] != 404:
        assert time.monotonic() < deadline, "the APIService outlived its CRD"
        await asyncio.sleep(0.2)

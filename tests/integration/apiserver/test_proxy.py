"""The ``proxy`` subresources of nodes, services and pods, against local HTTP(S) backends:
paths, query strings, redirects and HTML links rewritten, headers, and upstream's errors."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pyk8s.kubelet.server import certs
from tests.integration.apiserver.conftest import Client, Cluster

PAGE = (
    '<html><head><link href="/style.css" rel=stylesheet></head><body>'
    '<!-- <a href="/in-comment"> --><a href="/docs/">docs</a> <a href="rel">rel</a>'
    '<a href="http://elsewhere.example/x">out</a><script>var s = "<a href=/x>";</script>'
    '<img src="/img.png"/></body></html>'
)


async def _echo(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": dict(request.headers),
            "tls": request.secure,
        },
        headers={"Access-Control-Allow-Origin": "*", "X-Backend": "yes"},
    )


async def _body(request: web.Request) -> web.Response:
    return web.Response(text=(await request.text()).upper())


async def _redirect(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/landing?from=redirect"})


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _gzipped(request: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(PAGE.encode()),
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"},
    )


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/page", _page)
    app.router.add_get("/gz", _gzipped)
    app.router.add_get("/redirect", _redirect)
    app.router.add_post("/upper", _body)
    app.router.add_route("*", "/{tail:.*}", _echo)
    return app


@pytest.fixture
async def backends(tmp_path: Path) -> AsyncIterator[tuple[int, int]]:
    """A plain HTTP backend and an HTTPS one (the kubelet's port), on loopback."""
    cert, key = await asyncio.to_thread(certs.ensure, tmp_path / "pki", "n1", ["127.0.0.1"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    await asyncio.to_thread(ctx.load_cert_chain, cert, key)
    runner = web.AppRunner(_app())
    await runner.setup()
    plain = web.TCPSite(runner, "127.0.0.1", 0)
    secure = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await plain.start()
    await secure.start()
    ports = [s._server.sockets[0].getsockname()[1] for s in (plain, secure)]  # type: ignore[union-attr]
    try:
        yield ports[0], ports[1]
    finally:
        await runner.cleanup()


async def _node(client: Client, name: str, kubelet_port: int) -> None:
    node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    code, out = await client.post("/api/v1/nodes", node)
    assert code == 201, out
    out["status"] = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
    }
    code, out = await client.put(f"/api/v1/nodes/{name}/status", out)
    assert code == 200, out


async def test_node_proxy_reaches_the_kubelet_port_over_https(
    cluster: Cluster, client: Client, backends: tuple[int, int]
) -> None:
    _, kubelet = backends
    await _node(client, "n1", kubelet)
    code, out = await client.get("/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true")
    assert code == 200, out
    assert out["path"] == "/stats/summary"
    assert out["query"] == "only_cpu_and_memory=true"
    assert out["tls"] is True
    assert "Authorization" not in out["headers"]
    assert out["headers"]["X-Forwarded-Uri"] == "/api/v1/nodes/n1/proxy/stats/summary"
    assert "127.0.0.1" in out["headers"]["X-Forwarded-For"]
    # the kubelet's port named explicitly is the same location
    code, out = await client.get(f"/api/v1/nodes/n1:{kubelet}/proxy/healthz")
    assert code == 200 and out["tls"] is True and out["path"] == "/healthz"


async def test_node_proxy_other_port_scheme_trailing_slash_and_redirect(
    cluster: Cluster, client: Client, backends: tuple[int, int]
) -> None:
    plain, kubelet = backends
    await _node(client, "n1", kubelet)
    code, out = await client.get(f"/api/v1/nodes/http:n1:{plain}/proxy/a//b/../c/")
    assert code == 200 and out["tls"] is False
    assert out["path"] == "/a/c/"
    async with client.session.get(
        client.base + f"/api/v1/nodes/n1:{plain}/proxy?x=1", allow_redirects=False
    ) as resp:
        assert resp.status == 301
        assert resp.headers["Location"] == f"/api/v1/nodes/n1:{plain}/proxy/?x=1"
    async with client.session.get(
        client.base + f"/api/v1/nodes/n1:{plain}/proxy/redirect", allow_redirects=False
    ) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == f"/api/v1/nodes/n1:{plain}/proxy/landing?from=redirect"
    async with client.session.post(
        client.base + f"/api/v1/nodes/n1:{plain}/proxy/upper", data=b"hello"
    ) as resp:
        assert resp.status == 200 and await resp.text() == "HELLO"
    async with client.session.get(client.base + f"/api/v1/nodes/n1:{plain}/proxy/") as resp:
        assert resp.headers["X-Backend"] == "yes"
        assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize("path", [pytest.param("page", id="plain"), pytest.param("gz", id="gzip")])
async def test_html_links_go_through_the_proxy(
    cluster: Cluster, client: Client, backends: tuple[int, int], path: str
) -> None:
    plain, kubelet = backends
    await _node(client, "n1", kubelet)
    prefix = f"/api/v1/nodes/n1:{plain}/proxy"
    async with client.session.get(client.base + f"{prefix}/{path}") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert f'<a href="{prefix}/docs/">' in page
    assert f'<link href="{prefix}/style.css" rel="stylesheet">' in page
    assert f'<img src="{prefix}/img.png"/>' in page
    assert '<a href="rel">' in page and '<a href="http://elsewhere.example/x">' in page
    assert '<!-- <a href="/in-comment"> -->' in page
    assert 'var s = "<a href=/x>";' in page


async def test_node_proxy_errors(
    cluster: Cluster, client: Client, backends: tuple[int, int]
) -> None:
    code, out = await client.get("/api/v1/nodes/missing/proxy/healthz")
    assert code == 404 and out["message"] == 'nodes "missing" not found'
    code, out = await client.get("/api/v1/nodes/ftp:n1:1/proxy/")
    assert code == 400 and out["message"] == 'invalid node request "ftp:n1:1"'
    await _node(client, "n1", backends[1])
    # a port nothing listens on: upstream's transport answers 503 in plain text
    code, text = await client.get("/api/v1/nodes/n1:1/proxy/")
    assert code == 503 and text.startswith("Error trying to reach service: "), text


async def _pod_with_ip(client: Client, name: str, ip: str, port: int | None = None) -> None:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [container]}}  # fmt: skip
    code, out = await client.post("/api/v1/namespaces/default/pods", pod)
    assert code == 201, out
    out["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
    code, out = await client.put(f"/api/v1/namespaces/default/pods/{name}/status", out)
    assert code == 200, out


async def test_service_proxy(cluster: Cluster, client: Client, backends: tuple[int, int]) -> None:
    plain, _ = backends
    await _pod_with_ip(client, "web", "127.0.0.1")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": plain}]}}  # fmt: skip
    code, out = await client.post("/api/v1/namespaces/default/services", svc)
    assert code == 201, out
    base = "/api/v1/namespaces/default/services"
    code, out = await client.get(f"{base}/web/proxy/x")
    assert code == 404 and out["message"] == 'endpoints "web" not found'
    eps: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"}}
    code, eps = await client.post("/api/v1/namespaces/default/endpoints", eps)
    assert code == 201, eps
    code, out = await client.get(f"{base}/web/proxy/x")
    assert code == 503
    assert out["reason"] == "ServiceUnavailable"
    assert out["message"] == 'no endpoints available for service "web"'
    eps["subsets"] = [{"addresses": [{"ip": "127.0.0.1", "targetRef": {
        "kind": "Pod", "namespace": "default", "name": "web"}}],
        "ports": [{"name": "http", "port": plain}]}]  # fmt: skip
    code, out = await client.put("/api/v1/namespaces/default/endpoints/web", eps)
    assert code == 200, out
    # without a port only an unnamed port matches, as upstream
    code, out = await client.get(f"{base}/web/proxy/")
    assert code == 503 and out["message"] == 'no endpoints available for service "web"'
    for name in ("web:http", "web:80", "http:web:80"):
        code, out = await client.get(f"{base}/{name}/proxy/hello?a=b")
        assert code == 200, (name, out)
        assert (out["path"], out["query"]) == ("/hello", "a=b")
    code, out = await client.get(f"{base}/web:81/proxy/")
    assert code == 503 and out["message"] == 'no service port 81 found for service "web"'
    code, out = await client.get(f"{base}/web:other/proxy/")
    assert code == 503 and out["message"] == 'no endpoints available for service "web:other"'
    code, out = await client.get(f"{base}/nope/proxy/")
    assert code == 404


async def test_service_proxy_skips_addresses_of_no_such_pod(
    cluster: Cluster, client: Client, backends: tuple[int, int]
) -> None:
    plain, _ = backends
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "forged"},
           "spec": {"ports": [{"port": 80}]}}  # fmt: skip
    code, _ = await client.post("/api/v1/namespaces/default/services", svc)
    assert code == 201
    subsets = [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": plain}]}]
    eps = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "forged"},
           "subsets": subsets}  # fmt: skip
    code, _ = await client.post("/api/v1/namespaces/default/endpoints", eps)
    assert code == 201
    code, out = await client.get("/api/v1/namespaces/default/services/forged/proxy/")
    assert code == 503 and out["message"] == 'no endpoints available for service "forged"'


async def test_pod_proxy_refuses_loopback(cluster: Cluster, client: Client) -> None:
    await _pod_with_ip(client, "local", "127.0.0.1", port=8080)
    code, out = await client.get("/api/v1/namespaces/default/pods/local/proxy/")
    assert code == 400 and out["message"] == "address not allowed"
    code, out = await client.get("/api/v1/namespaces/default/pods/a:b:c:d/proxy/")
    assert code == 400 and out["message"] == 'invalid pod request "a:b:c:d"'


async def test_proxy_is_authorized_as_the_subresource(cluster: Cluster, anonymous: Client) -> None:
    code, _ = await anonymous.get("/api/v1/nodes/n1/proxy/healthz")
    assert code == 401
    code, out = await anonymous.get(
        "/api/v1/nodes/n1/proxy/healthz", headers={"Authorization": "Bearer secret-token"}
    )
    assert code == 403
    assert out["message"] == (
        'nodes "n1" is forbidden: User "alice" cannot get resource "nodes/proxy" '
        'in API group "" at the cluster scope'
    )

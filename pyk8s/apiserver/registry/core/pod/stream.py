"""``pods/exec``, ``pods/attach`` and ``pods/portforward``: the client relayed to the kubelet.

Mirrors ``pkg/registry/core/pod/rest/subresources.go`` (``ExecREST``, ``AttachREST``,
``PortForwardREST``: ``Connect`` → the kubelet's ``/exec``, ``/attach`` and ``/portForward``
URLs, ``ports`` becoming the kubelet's ``port`` parameters), the upgrade-aware proxy of
``k8s.io/apimachinery/pkg/util/proxy`` (WebSocket and SPDY upgrades made with the kubelet,
answered to the client with the kubelet's choice of subprotocol, then spliced byte for
byte) and ``apiserver/pkg/util/proxy/streamtunnel.go`` (kubectl 1.31+
asks for ``SPDY/3.1+portforward.k8s.io``: the API server upgrades to SPDY towards the kubelet
and carries the SPDY bytes in WebSocket binary messages towards the client).
"""

from __future__ import annotations

import base64
import os
import ssl
import urllib.parse

import orjson
from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.registry.core.pod import log as pod_log
from pyk8s.apiserver.registry.generic import store as generic
from pyk8s.client.httpstream import upgrade

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io")
PORT_FORWARD_WS_PROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io")
_KUBELET_PATH = {"exec": "exec", "attach": "attach", "portforward": "portForward"}


def _kubelet_url(host: str, port: int, path: str) -> str:
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}/{path}"


def _forward_ports(request: web.Request) -> list[tuple[str, str]]:
    """``PodPortForwardOptions.ports`` (repeated or comma-separated) as the kubelet's ``port``."""
    out = []
    for raw in request.query.getall("ports", []):
        for p in raw.split(","):
            try:
                port = int(p)
            except ValueError:
                raise errors.BadRequest(f'unable to parse "{raw}" as a port') from None
            if not 0 < port <= 65535:
                raise errors.BadRequest(f"port {port} must be between 1 and 65535")
            out.append(("port", str(port)))
    return out


async def connect(
    request: web.Request,
    pods: generic.Store,
    nodes: generic.Store,
    namespace: str,
    name: str,
    subresource: str,
    ssl_context: ssl.SSLContext,
) -> web.StreamResponse:
    websocket = upgrade.is_websocket(request)
    spdy = upgrade.is_spdy_upgrade(request)
    if not (websocket or spdy):
        raise errors.BadRequest("Upgrade request required")
    # What upstream checks before it upgrades (the pod, its phase, the container), so a
    # client whose WebSocket attempt fails on them is told so, not sent on to SPDY.
    pod = await pods.get(namespace, name)
    container = ""
    if subresource != "portforward":
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise errors.BadRequest(
                f"cannot {subresource} into a container in a completed pod; "
                f"current phase is {phase}"
            )
        container = pod_log.container_for(pod, request.query.get("container", ""))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequest(f"pod {name} does not have a host assigned")
    host, port = pod_log.kubelet_location(await nodes.get("", node_name))
    if subresource == "portforward":
        url = _kubelet_url(host, port, f"portForward/{namespace}/{name}")
        params = _forward_ports(request)
        if spdy:
            return await _spdy(request, url, params, ssl_context)
        offered = upgrade.websocket_protocols(request)
        tunnel = [p[len(upgrade.TUNNEL_PREFIX):] for p in offered
                  if p.startswith(upgrade.TUNNEL_PREFIX) and p.endswith(".k8s.io")]  # fmt: skip
        if tunnel:
            return await _tunnel(request, url, params, tunnel, ssl_context)
        wanted = [p for p in offered if p in PORT_FORWARD_WS_PROTOCOLS]
        return await _websocket(request, url, params, wanted, "portforward", ssl_context)
    url = _kubelet_url(host, port, f"{subresource}/{namespace}/{name}/{container}")
    offered = upgrade.websocket_protocols(request)
    wanted = [p for p in offered if p in PROTOCOLS] or list(PROTOCOLS)
    params = [(k, v) for k, v in request.query.items() if k != "container"]
    if not websocket:
        return await _spdy(request, url, params, ssl_context)
    return await _websocket(request, url, params, wanted, subresource, ssl_context)


def _refused(resp: upgrade.Response) -> web.Response:
    """The kubelet's non-101 answer, passed on (the client sees an upgrade failure)."""
    keep = ("content-type", upgrade.HEADER_ACCEPTED_PROTOCOL_VERSIONS.lower())
    headers = {k: v for k, v in resp.headers.items() if k in keep}
    return web.Response(status=resp.status, body=resp.body, headers=headers)


async def _refused_translated(request: web.Request, resp: upgrade.Response) -> web.StreamResponse:
    """The kubelet's refusal as ``StreamTranslatorHandler`` reports it to a v5 client
    (kubectl 1.30+): upgraded first, then the SPDY executor's "unable to upgrade
    connection" error as an InternalError ``Status`` on the error channel."""
    text = resp.body.decode(errors="replace").strip() or f"{resp.status} {resp.reason}"
    cause = f"unable to upgrade connection: {text}"
    failed = {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {cause}",
              "reason": "InternalError", "details": {"causes": [{"message": cause}]},
              "code": 500}  # fmt: skip
    ws = web.WebSocketResponse(protocols=(PROTOCOLS[0],))
    await ws.prepare(request)
    await ws.send_bytes(b"\x03" + orjson.dumps(failed))
    await ws.close()
    return ws


async def _dial(
    url: str, params: list[tuple[str, str]], protocols: list[str], ssl_context: ssl.SSLContext
) -> tuple[upgrade.Response, upgrade.StreamTransport | None]:
    query = urllib.parse.urlencode(params)
    headers = [(upgrade.HEADER_PROTOCOL_VERSION, p) for p in protocols]
    try:
        return await upgrade.dial(url + (f"?{query}" if query else ""), headers, ssl_context)
    except (TimeoutError, OSError, ValueError) as e:
        raise errors.InternalError(f"cannot reach the kubelet at {url}: {e}") from e


async def _spdy(
    request: web.Request, url: str, params: list[tuple[str, str]], ssl_context: ssl.SSLContext
) -> web.StreamResponse:
    """A plain SPDY upgrade (port-forward from kubectl before 1.31, exec and attach from
    kubectl before 1.30, or either with its WebSocket dialer turned off)."""
    resp, kubelet = await _dial(url, params, upgrade.client_protocols(request), ssl_context)
    if kubelet is None:
        return _refused(resp)
    chosen = resp.headers.get(upgrade.HEADER_PROTOCOL_VERSION.lower(), "")
    out, client = await upgrade.accept(
        request, {upgrade.HEADER_PROTOCOL_VERSION: chosen} if chosen else {}
    )
    await upgrade.pipe(client, kubelet)
    return out


async def _tunnel(
    request: web.Request,
    url: str,
    params: list[tuple[str, str]],
    protocols: list[str],
    ssl_context: ssl.SSLContext,
) -> web.StreamResponse:
    """SPDY towards the kubelet, tunnelled in WebSocket towards the client."""
    resp, kubelet = await _dial(url, params, protocols, ssl_context)
    if kubelet is None:
        return _refused(resp)
    chosen = resp.headers.get(upgrade.HEADER_PROTOCOL_VERSION.lower(), "")
    ws = web.WebSocketResponse(
        protocols=(upgrade.TUNNEL_PREFIX + chosen,) if chosen else (), max_msg_size=0
    )
    try:
        await ws.prepare(request)
    except BaseException:
        await kubelet.close()
        raise
    await upgrade.pipe(upgrade.WebSocketTransport(ws, request), kubelet)
    return ws


async def _websocket(
    request: web.Request,
    url: str,
    params: list[tuple[str, str]],
    wanted: list[str],
    subresource: str,
    ssl_context: ssl.SSLContext,
) -> web.StreamResponse:
    """WebSocket to WebSocket: the upgrade is made with the kubelet first (offering the
    client's protocols, no extensions), then answered to the client with the kubelet's
    choice, and the two connections are spliced byte for byte as upstream's
    UpgradeAwareHandler does (the client's frames are masked, as the kubelet expects of a
    client; the kubelet's are not, as the client expects of a server)."""
    key = request.headers.get("Sec-WebSocket-Key", "")
    if request.headers.get("Sec-WebSocket-Version") != "13" or not key:
        raise errors.BadRequest("unable to upgrade: a WebSocket version 13 handshake is required")
    headers = [
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
    ]
    if wanted:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(wanted)))
    query = urllib.parse.urlencode(params)
    try:
        resp, kubelet = await upgrade.dial(
            url + (f"?{query}" if query else ""), headers, ssl_context, method="GET",
            to="websocket",
        )  # fmt: skip
    except (TimeoutError, OSError, ValueError) as e:
        raise errors.InternalError(f"cannot reach the kubelet at {url}: {e}") from e
    if kubelet is None:
        if subresource != "portforward" and PROTOCOLS[0] in upgrade.websocket_protocols(request):
            return await _refused_translated(request, resp)
        return _refused(resp)
    answer = {"Sec-WebSocket-Accept": upgrade.websocket_accept(key)}
    chosen = resp.headers.get("sec-websocket-protocol", "")
    if chosen:
        answer["Sec-WebSocket-Protocol"] = chosen
    try:
        out, client = await upgrade.accept(request, answer, to="websocket")
    except BaseException:
        await kubelet.close()
        raise
    await upgrade.pipe(client, kubelet)
    return out

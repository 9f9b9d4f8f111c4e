"""``pods/exec`` and ``pods/attach``: the client's WebSocket relayed to the pod's kubelet.

Mirrors ``pkg/registry/core/pod/rest/subresources.go`` (``ExecREST``, ``AttachREST``:
``Connect`` → the kubelet's ``/exec`` and ``/attach`` URLs) and the upgrade-aware proxy of
``k8s.io/apimachinery/pkg/util/proxy``: the subprotocol the client asked for
(``v5.channel.k8s.io``/``v4.channel.k8s.io``) is negotiated with the kubelet and frames are
passed through unchanged in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import aiohttp
from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.registry.core.pod import log as pod_log
from pyk8s.apiserver.registry.generic import store as generic

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


async def connect(
    request: web.Request,
    pods: generic.Store,
    nodes: generic.Store,
    namespace: str,
    name: str,
    subresource: str,
    ssl_context: ssl.SSLContext,
) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.BadRequest(
            f"{subresource} needs a WebSocket upgrade (SPDY is not supported by this server)"
        )
    pod = await pods.get(namespace, name)
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        raise errors.BadRequest(
            f"cannot {subresource} into a container in a completed pod; "
            f"current phase is {pod['status']['phase']}"
        )
    container = pod_log.container_for(pod, request.query.get("container", ""))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequest(f"pod {name} does not have a host assigned")
    host, port = pod_log.kubelet_location(await nodes.get("", node_name))
    if ":" in host:
        host = f"[{host}]"
    url = f"https://{host}:{port}/{subresource}/{namespace}/{name}/{container}"
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    wanted = [p for p in offered if p in PROTOCOLS] or list(PROTOCOLS)
    params = [(k, v) for k, v in request.query.items() if k != "container"]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    try:
        try:
            upstream = await session.ws_connect(
                url, params=params, protocols=wanted, ssl=ssl_context, max_msg_size=0
            )
        except aiohttp.WSServerHandshakeError as e:
            raise errors.BadRequest(f"the kubelet refused the {subresource}: {e.message}") from e
        except aiohttp.ClientError as e:
            raise errors.InternalError(f"cannot reach the kubelet at {url}: {e}") from e
        ws = web.WebSocketResponse(
            protocols=(upstream.protocol,) if upstream.protocol else PROTOCOLS, max_msg_size=0
        )
        await ws.prepare(request)

        async def down() -> None:
            async for msg in upstream:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    await ws.send_str(msg.data)
            await ws.close()

        async def up() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await upstream.send_bytes(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    await upstream.send_str(msg.data)
            await upstream.close()

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await upstream.close()
            await ws.close()
        return ws
    finally:
        await session.close()

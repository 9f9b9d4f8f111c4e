"""``pods/log``: the API server streams a container's log from the pod's kubelet.

Mirrors ``pkg/registry/core/pod/storage/storage.go`` (``LogREST``), ``pkg/registry/core/pod/
strategy.go`` (``LogLocation``: the container defaults to the only one, the kubelet's address
and port come from the Node's status) and ``pkg/kubelet/client`` (HTTPS to the kubelet with the
API server's client certificate; the kubelet's self-signed serving certificate is not
verified, upstream's default without ``--kubelet-certificate-authority``).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.registry.generic import store as generic

PARAMS = ("follow", "previous", "tailLines", "timestamps", "sinceSeconds", "sinceTime",
          "limitBytes")  # fmt: skip


def client_ssl(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert, key)
    return ctx


def container_for(pod: dict[str, Any], requested: str) -> str:
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    if requested:
        every = [c["name"] for k in ("containers", "initContainers", "ephemeralContainers")
                 for c in spec.get(k) or []]  # fmt: skip
        if requested not in every:
            raise errors.BadRequest(f"container {requested} is not valid for pod {name}")
        return str(requested)
    containers = [c["name"] for c in spec.get("containers") or []]
    if len(containers) == 1:
        return str(containers[0])
    raise errors.BadRequest(
        f"a container name must be specified for pod {name}, "
        f"choose one of: [{' '.join(containers)}]"
    )


def kubelet_location(node: dict[str, Any]) -> tuple[str, int]:
    st = node.get("status") or {}
    addrs = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    host = addrs.get("InternalIP") or addrs.get("Hostname") or node["metadata"]["name"]
    port = int(
        ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
    )
    return str(host), port


async def log(
    request: web.Request,
    pods: generic.Store,
    nodes: generic.Store,
    namespace: str,
    name: str,
    ssl_context: ssl.SSLContext,
) -> web.StreamResponse:
    pod = await pods.get(namespace, name)
    container = container_for(pod, request.query.get("container", ""))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequest(f"pod {name} does not have a host assigned")
    node = await nodes.get("", node_name)
    host, port = kubelet_location(node)
    if ":" in host:
        host = f"[{host}]"
    url = f"https://{host}:{port}/containerLogs/{namespace}/{name}/{container}"
    params = {k: request.query[k] for k in PARAMS if k in request.query}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, params=params, ssl=ssl_context) as upstream,
        ):
            if upstream.status != 200:
                text = (await upstream.text()).strip()
                if upstream.status == 404:
                    raise errors.NotFound(text, details={"name": name, "kind": "pods"})
                raise errors.BadRequest(text)
            resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await resp.prepare(request)
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp
    except aiohttp.ClientError as e:
        raise errors.InternalError(f"Get {url!r}: {e}") from e

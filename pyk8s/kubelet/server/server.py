"""The kubelet API on HTTPS (port 10250): container logs and the pods it runs.

Mirrors ``pkg/kubelet/server/server.go`` (``/containerLogs/{namespace}/{pod}/{container}``
with ``follow``, ``previous``, ``tailLines``, ``timestamps``, ``sinceSeconds``,
``sinceTime``, ``limitBytes``; ``/pods``; ``/healthz``). Authentication is by client
certificate: a certificate signed by the cluster CA (``--client-ca-file``), which is what
the API server presents when it proxies ``pods/log``. Without a client CA every request is
refused (upstream would fall back to anonymous, which is off by default in hardened setups).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from pyk8s.client.httpstream import inprocess
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.runtime.interface import ContainerState, SandboxState
from pyk8s.kubelet.server import certs, logs, portforward, streaming
from pyk8s.kubelet.stats import resource_metrics

if TYPE_CHECKING:
    from pyk8s.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


class KubeletServer:
    def __init__(self, config: KubeletConfig, kubelet: Kubelet) -> None:
        self.config = config
        self.kubelet = kubelet
        self._runner: web.AppRunner | None = None
        self._unregister: Callable[[], None] | None = None

    def _ssl(self) -> ssl.SSLContext:
        host_ip = self.kubelet.host_ip()
        cert, key = certs.ensure(self.config.root_dir / "pki", self.config.node_name, [host_ip])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        if self.config.client_ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.config.client_ca_file))
            ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    async def start(self) -> int:
        """Listen; return the port (the chosen one when configured as 0)."""
        app = web.Application(middlewares=[self._authn])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/pods", self.pods)
        app.router.add_get("/stats/summary", self.stats_summary)
        app.router.add_get("/metrics/resource", self.metrics_resource)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        app.router.add_get("/exec/{namespace}/{pod}/{container}", self.exec)
        app.router.add_post("/exec/{namespace}/{pod}/{container}", self.exec)
        app.router.add_get("/attach/{namespace}/{pod}/{container}", self.attach)
        app.router.add_post("/attach/{namespace}/{pod}/{container}", self.attach)
        for path in ("/portForward/{namespace}/{pod}", "/portForward/{namespace}/{pod}/{uid}"):
            app.router.add_get(path, self.port_forward)
            app.router.add_post(path, self.port_forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        ctx = await asyncio.to_thread(self._ssl)
        site = web.TCPSite(
            self._runner, self.config.bind_address, self.config.port, ssl_context=ctx
        )
        try:
            await site.start()
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            # Another cluster's kubelet on this machine (tests run several): take any free
            # port; the Node's daemonEndpoints tell the API server which.
            log.warning("kubelet port %d is in use; serving on a free port", self.config.port)
            site = web.TCPSite(self._runner, self.config.bind_address, 0, ssl_context=ctx)
            await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        port = int(sockets[0].getsockname()[1]) if sockets else self.config.port
        hosts = [self.kubelet.host_ip()]
        if self.config.bind_address not in ("0.0.0.0", "::", ""):
            hosts.append(self.config.bind_address)
        self._unregister = inprocess.register(hosts, port, self._connect_in_process)
        return port

    async def _connect_in_process(self, protocol: asyncio.Protocol) -> asyncio.Transport:
        """A connection from this process's API server (see :mod:`inprocess`), served as an
        accepted TLS connection with the API server's client certificate would be."""
        if self._runner is None or self._runner.server is None:
            raise ConnectionRefusedError("the kubelet server is stopped")
        loop = asyncio.get_running_loop()
        client, _ = inprocess.pipe(loop, protocol, self._runner.server())
        return client

    async def stop(self) -> None:
        if self._unregister is not None:
            self._unregister()
            self._unregister = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _authn(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/healthz":
            resp: web.StreamResponse = await handler(request)
            return resp
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport else None
        if not peer and transport is not None and transport.get_extra_info("in_process"):
            peer = {"in_process": True}  # the API server in this process (_connect_in_process)
        if self.config.client_ca_file is None or not peer:
            return _error(401, "Unauthorized")
        out: web.StreamResponse = await handler(request)
        return out

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def pods(self, request: web.Request) -> web.Response:
        items = self.kubelet.pod_informer.lister("pods").list()
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def stats_summary(self, request: web.Request) -> web.Response:
        body = await self.kubelet.summary.get()
        if request.query.get("only_cpu_and_memory") == "true":
            body = _cpu_and_memory(body)
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def metrics_resource(self, request: web.Request) -> web.Response:
        try:
            summary: dict[str, Any] | None = await self.kubelet.summary.get()
        except Exception:  # a scrape reports the failure, as upstream's collector does
            log.exception("stats summary for /metrics/resource")
            summary = None
        return web.Response(
            text=resource_metrics.render(summary),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        ns = request.match_info["namespace"]
        name = request.match_info["pod"]
        container = request.match_info["container"]
        q = request.query
        pod = self.kubelet.find_pod(ns, name)
        if pod is None:
            return _error(404, f'pod "{name}" not found in namespace "{ns}"')
        uid = pod["metadata"]["uid"]
        status = await self.kubelet.manager.pod_status(uid)
        found = sorted(
            (c for c in status.containers if c.metadata.name == container),
            key=lambda c: c.created_at,
            reverse=True,
        )
        previous = q.get("previous") in ("true", "1")
        want = (
            found[1]
            if previous and len(found) > 1
            else (found[0] if found and not previous else None)
        )
        if want is None:
            if previous:
                msg = f'previous terminated container "{container}" in pod "{name}" not found'
            else:
                msg = f'container "{container}" in pod "{name}" is waiting to start'
            return _error(400, msg)
        try:
            since_ns = None
            if q.get("sinceSeconds"):
                since_ns = time.time_ns() - int(q["sinceSeconds"]) * 1_000_000_000
            elif q.get("sinceTime"):
                since_ns = logs.parse_since_time(q["sinceTime"])
            opts = logs.Options(
                follow=q.get("follow") in ("true", "1") and not previous,
                tail_lines=int(q["tailLines"]) if q.get("tailLines") else None,
                since_ns=since_ns,
                timestamps=q.get("timestamps") in ("true", "1"),
                limit_bytes=int(q["limitBytes"]) if q.get("limitBytes") else None,
            )
        except ValueError as e:
            return _error(400, f"invalid log options: {e}")
        cid = want.id
        runtime = self.kubelet.runtime

        async def running() -> bool:
            try:
                st = await runtime.container_status(cid)
            except Exception:
                return False
            return st.state == ContainerState.RUNNING

        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        async for chunk in logs.stream(want.log_path, opts, running):
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def _running_container(self, request: web.Request, attach: bool) -> str | web.Response:
        """The running container to exec in or attach to, or the kubelet's refusal as
        ``getExec``/``getAttach`` write it (``GetExec``/``GetAttach`` look among the
        running containers only), which the client shows after "unable to upgrade
        connection: "."""
        ns = request.match_info["namespace"]
        name = request.match_info["pod"]
        container = request.match_info["container"]
        pod = self.kubelet.find_pod(ns, name)
        if pod is None:
            return _error(404, "pod does not exist")
        status = await self.kubelet.manager.pod_status(pod["metadata"]["uid"])
        running = [
            c
            for c in status.containers
            if c.metadata.name == container and c.state == ContainerState.RUNNING
        ]
        if not running:
            if attach:  # the pod by its full name, name_namespace
                return _error(500, f"container {container} not found in pod {name}_{ns}")
            return _error(500, f'container not found ("{container}")')
        return max(running, key=lambda c: c.created_at).id

    async def exec(self, request: web.Request) -> web.StreamResponse:
        cid = await self._running_container(request, attach=False)
        if isinstance(cid, web.Response):
            return cid
        command = request.query.getall("command", [])
        if not command:
            return _error(400, "you must specify at least one command for the container")
        runtime = self.kubelet.runtime

        async def start(stdin: bool, tty: bool) -> object:
            return await runtime.exec(cid, command, stdin=stdin, tty=tty)

        return await streaming.serve(request, start, command)

    async def attach(self, request: web.Request) -> web.StreamResponse:
        cid = await self._running_container(request, attach=True)
        if isinstance(cid, web.Response):
            return cid
        runtime = self.kubelet.runtime

        async def start(stdin: bool, tty: bool) -> object:
            return await runtime.attach(cid, stdin=stdin)

        return await streaming.serve(request, start, [], attach=True)

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        ns = request.match_info["namespace"]
        name = request.match_info["pod"]
        pod = self.kubelet.find_pod(ns, name)
        if pod is None:
            return _error(404, "pod does not exist")
        status = await self.kubelet.manager.pod_status(pod["metadata"]["uid"])
        ready = [s for s in status.sandboxes if s.state == SandboxState.READY]
        if not ready:  # GetPortForward looks among the running pods only
            return _error(500, f'pod not found ("{name}_{ns}")')
        sandbox = max(ready, key=lambda s: s.created_at).id
        runtime = self.kubelet.runtime

        async def forward(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await runtime.port_forward(sandbox, port)

        def describe(port: int, e: Exception) -> str:
            # The CRI streaming server names the pod by its sandbox and has no uid.
            return f"error forwarding port {port} to pod {sandbox}, uid : {e}"

        return await portforward.serve(request, forward, describe)


def _cpu_and_memory(summary: dict[str, Any]) -> dict[str, Any]:
    """``only_cpu_and_memory=true``: what the resource metrics pipeline asks for."""
    keep = ("nodeName", "podRef", "name", "startTime", "cpu", "memory", "systemContainers")

    def trim(obj: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in obj.items() if k in keep}
        for key in ("containers", "systemContainers"):
            if key in obj:
                out[key] = [trim(c) for c in obj[key]]
        return out

    return {"node": trim(summary["node"]), "pods": [trim(p) for p in summary["pods"]]}

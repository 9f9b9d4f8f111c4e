"""Liveness, readiness and startup probes: one worker per probe of a running container.

Mirrors ``pkg/kubelet/prober/worker.go`` (``doProbe``: initial delay, period, success and
failure thresholds, results kept per container id, liveness and startup results reset after a
restart), ``prober.go`` (``runProbe``: exec, httpGet, tcpSocket, and grpc through
:mod:`.grpc_probe`), ``results/results_manager.go`` (a change wakes the pod worker). A pod
without its own network address is probed inside its network namespace through the runtime's
port forwarding, since loopback is all it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.kubelet import grpc_probe
from pyk8s.kubelet.runtime import actions
from pyk8s.kubelet.runtime.interface import ContainerRuntime, ContainerRuntimeError

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KINDS = ("liveness", "readiness", "startup")
USER_AGENT = "kube-probe/1.33"


@dataclass(frozen=True)
class Target:
    pod_uid: str
    container: str
    container_id: str
    sandbox_id: str
    host_network: bool
    ports: Mapping[str, int]


async def run_probe(
    runtime: ContainerRuntime, probe: Mapping[str, Any], target: Target
) -> tuple[bool, str]:
    """One attempt: (success, output or reason)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        async with asyncio.timeout(timeout + (5 if "exec" in probe or "grpc" in probe else 0)):
            if "exec" in probe:
                cmd = list(probe["exec"].get("command") or [])
                r = await runtime.exec_sync(target.container_id, cmd, timeout)
                out = (r.stdout + r.stderr).decode(errors="replace").strip()
                return r.exit_code == 0, out or f"command {cmd} exited with {r.exit_code}"
            if "httpGet" in probe:
                return await _http(runtime, probe["httpGet"], target)
            if "tcpSocket" in probe:
                port = _port(probe["tcpSocket"].get("port"), target)
                _, writer = await _connect(runtime, target, probe["tcpSocket"], port)
                writer.close()
                return True, ""
            if "grpc" in probe:
                return await _grpc(runtime, probe["grpc"], target, timeout)
    except TimeoutError:
        return False, f"probe timed out after {timeout:g}s"
    except (OSError, ContainerRuntimeError, ValueError) as e:
        return False, str(e)
    return False, "unsupported probe handler"


def _port(value: Any, target: Target) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value in target.ports:
        return target.ports[value]
    raise ValueError(f"unknown port {value!r}")


async def _connect(
    runtime: ContainerRuntime, target: Target, handler: Mapping[str, Any], port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host = handler.get("host")
    if host or target.host_network:
        return await asyncio.open_connection(host or "127.0.0.1", port)
    return await runtime.port_forward(target.sandbox_id, port)


async def _grpc(
    runtime: ContainerRuntime, g: Mapping[str, Any], target: Target, timeout: float
) -> tuple[bool, str]:
    port = int(g.get("port") or 0)
    service = str(g.get("service") or "")
    if target.host_network:
        return await grpc_probe.check(f"127.0.0.1:{port}", service, timeout, USER_AGENT)

    # The channel needs an address: a loopback listener whose connections are forwarded
    # into the pod's network namespace, as every other probe of ours reaches the pod.
    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            pod_r, pod_w = await runtime.port_forward(target.sandbox_id, port)
        except (OSError, ContainerRuntimeError):
            writer.close()
            return
        await asyncio.gather(_pipe(reader, pod_w), _pipe(pod_r, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0)
    try:
        local = server.sockets[0].getsockname()[1]
        return await grpc_probe.check(f"127.0.0.1:{local}", service, timeout, USER_AGENT)
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            dst.close()


async def _http(
    runtime: ContainerRuntime, h: Mapping[str, Any], target: Target
) -> tuple[bool, str]:
    port = _port(h.get("port"), target)
    if (h.get("scheme") or "HTTP").upper() != "HTTP":
        return False, "HTTPS probes are not supported"
    reader, writer = await _connect(runtime, target, h, port)
    try:
        path = h.get("path") or "/"
        headers = {
            "Host": f"{h.get('host') or 'localhost'}:{port}",
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Connection": "close",
        }
        for hd in h.get("httpHeaders") or []:
            headers[hd["name"]] = hd["value"]
        req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write((req + "\r\n").encode())
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
    parts = line.decode(errors="replace").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f"bad HTTP response {line[:80]!r}"
    code = int(parts[1])
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


class ProbeWorker:
    def __init__(
        self,
        manager: ProberManager,
        kind: str,
        probe: Mapping[str, Any],
        target: Target,
    ) -> None:
        self.manager = manager
        self.kind = kind
        self.probe = probe
        self.target = target
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        p = self.probe
        period = float(p.get("periodSeconds") or 10)
        success_threshold = int(p.get("successThreshold") or 1)
        failure_threshold = int(p.get("failureThreshold") or 3)
        await asyncio.sleep(float(p.get("initialDelaySeconds") or 0))
        successes = failures = 0
        while True:
            if self.kind != "startup" and self.manager.startup_pending(self.target):
                await asyncio.sleep(min(period, 1.0))
                continue
            if (
                self.kind == "startup"
                and self.manager.results["startup"].get(self.target.container_id)
                is actions.ProbeResult.SUCCESS
            ):
                return
            ok, output = await run_probe(self.manager.runtime, p, self.target)
            if ok:
                successes, failures = successes + 1, 0
                if successes >= success_threshold:
                    self.manager.record(self.kind, self.target, actions.ProbeResult.SUCCESS, "")
            else:
                successes, failures = 0, failures + 1
                self.manager.on_failure(self.kind, self.target, output)
                if failures >= failure_threshold:
                    self.manager.record(self.kind, self.target, actions.ProbeResult.FAILURE, output)
                    if self.kind in ("liveness", "startup"):
                        return  # the container is restarted; a new worker comes with it
            await asyncio.sleep(period)


class ProberManager:
    """Probe workers by (container id, kind); results by kind and container id."""

    def __init__(
        self,
        runtime: ContainerRuntime,
        wake: Callable[[str], None],
        unhealthy: Callable[[str, str, str, str], None],
    ) -> None:
        self.runtime = runtime
        self.wake = wake
        self.unhealthy = unhealthy
        self.results: dict[str, dict[str, actions.ProbeResult]] = {k: {} for k in KINDS}
        self._workers: dict[tuple[str, str], ProbeWorker] = {}
        self._by_pod: dict[str, set[tuple[str, str]]] = {}

    def startup_pending(self, target: Target) -> bool:
        has = (target.container_id, "startup") in self._workers
        done = self.results["startup"].get(target.container_id) is actions.ProbeResult.SUCCESS
        return has and not done

    def record(self, kind: str, target: Target, result: actions.ProbeResult, output: str) -> None:
        old = self.results[kind].get(target.container_id)
        self.results[kind][target.container_id] = result
        if old is not result:
            self.wake(target.pod_uid)

    def on_failure(self, kind: str, target: Target, output: str) -> None:
        self.unhealthy(target.pod_uid, target.container, kind, output)

    def ensure(self, container: Mapping[str, Any], target: Target) -> None:
        """Probe workers for a running container (idempotent)."""
        for kind in KINDS:
            probe = container.get(f"{kind}Probe")
            key = (target.container_id, kind)
            if not probe or key in self._workers:
                continue
            w = ProbeWorker(self, kind, probe, target)
            w.task = asyncio.create_task(w.run(), name=f"probe {kind} {target.container}")
            w.task.add_done_callback(_log_crash)
            self._workers[key] = w
            self._by_pod.setdefault(target.pod_uid, set()).add(key)

    def keep_only(self, pod_uid: str, container_ids: set[str]) -> None:
        """Stop the workers of the pod's containers that are no longer running."""
        for key in list(self._by_pod.get(pod_uid, ())):
            if key[0] not in container_ids:
                self._stop(pod_uid, key)

    def _stop(self, pod_uid: str, key: tuple[str, str]) -> None:
        w = self._workers.pop(key, None)
        self._by_pod.get(pod_uid, set()).discard(key)
        if w is not None and w.task is not None:
            w.task.cancel()
        for kind in KINDS:
            self.results[kind].pop(key[0], None)

    def remove_pod(self, pod_uid: str) -> None:
        for key in list(self._by_pod.pop(pod_uid, ())):
            self._stop(pod_uid, key)

    async def close(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for t in tasks:
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("probe worker %s crashed", task.get_name(), exc_info=task.exception())

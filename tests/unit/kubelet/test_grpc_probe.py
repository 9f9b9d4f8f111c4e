"""gRPC probes against a real gRPC server (grpcio) on loopback, directly and through the
runtime's port forwarding as pods without host networking are reached."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest

from pyk8s.kubelet import grpc_probe, prober
from pyk8s.kubelet.runtime.fake import FakeRuntime


class Health:
    """A grpc.health.v1 server whose answers a test sets per service."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {"": 1}
        self.user_agents: list[str] = []
        self.delay = 0.0

    async def check(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        md = dict(context.invocation_metadata() or ())
        self.user_agents.append(str(md.get("user-agent", "")))
        await asyncio.sleep(self.delay)
        service = request[2:].decode() if request else ""
        if service not in self.status:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return b"\x08" + bytes([self.status[service]]) if self.status[service] else b""


async def serve(health: Health | None) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    if health is not None:
        handler = grpc.unary_unary_rpc_method_handler(
            health.check, request_deserializer=lambda b: b, response_serializer=lambda b: b
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler}),)
        )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture
async def health() -> AsyncIterator[tuple[Health, int]]:
    h = Health()
    server, port = await serve(h)
    yield h, port
    await server.stop(None)


def target(host_network: bool = True) -> prober.Target:
    return prober.Target("uid", "c", "cid", "sb", host_network, {})


def probe(port: int, service: str = "", timeout: int = 2) -> dict[str, Any]:
    return {"grpc": {"port": port, "service": service}, "timeoutSeconds": timeout}


def test_messages_round_trip() -> None:
    assert grpc_probe.encode_request("") == b""
    assert grpc_probe.encode_request("db") == b"\x0a\x02db"
    assert grpc_probe.decode_response(b"") == 0
    assert grpc_probe.decode_response(b"\x08\x01") == 1
    assert grpc_probe.decode_response(b"\x12\x03abc\x08\x02") == 2  # unknown field skipped
    with pytest.raises(ValueError, match="truncated"):
        grpc_probe.decode_response(b"\x12\x05ab")


async def test_serving_not_serving_and_unknown_service(health: tuple[Health, int]) -> None:
    h, port = health
    rt = FakeRuntime()
    assert await prober.run_probe(rt, probe(port), target()) == (True, "")
    assert h.user_agents[-1].startswith("kube-probe/1.33")
    h.status["db"] = 2
    ok, out = await prober.run_probe(rt, probe(port, "db"), target())
    assert (ok, out) == (False, 'service unhealthy (responded with "NOT_SERVING")')
    h.status["cache"] = 0
    ok, out = await prober.run_probe(rt, probe(port, "cache"), target())
    assert (ok, out) == (False, 'service unhealthy (responded with "UNKNOWN")')
    ok, out = await prober.run_probe(rt, probe(port, "other"), target())
    assert not ok
    assert (
        out == "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"
    )


async def test_slow_answer_times_out(health: tuple[Health, int]) -> None:
    h, port = health
    h.delay = 3
    ok, out = await prober.run_probe(FakeRuntime(), probe(port, timeout=1), target())
    assert (ok, out) == (False, "timeout: health rpc did not complete within 1s")


async def test_a_server_without_the_health_service() -> None:
    server, port = await serve(None)
    try:
        ok, out = await prober.run_probe(FakeRuntime(), probe(port), target())
    finally:
        await server.stop(None)
    assert not ok
    assert out.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health)"
    )


async def test_nothing_listening() -> None:
    server, port = await serve(None)
    await server.stop(None)  # the port is free now
    ok, out = await prober.run_probe(FakeRuntime(), probe(port, timeout=1), target())
    assert not ok
    assert out == (
        f'timeout: failed to connect service "127.0.0.1:{port}" within 1s: '
        "context deadline exceeded"
    )


class ForwardingRuntime(FakeRuntime):
    """Port forwarding "into the pod" goes to a loopback port (the pod's server)."""

    def __init__(self, ports: dict[int, int]) -> None:
        super().__init__()
        self.ports = ports

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._call("port_forward", sandbox_id, port)
        return await asyncio.open_connection("127.0.0.1", self.ports[port])


async def test_pod_network_goes_through_port_forwarding(health: tuple[Health, int]) -> None:
    _, port = health
    rt = ForwardingRuntime({50051: port})
    for _ in range(3):
        assert await prober.run_probe(rt, probe(50051), target(host_network=False)) == (True, "")
    assert ("port_forward", ("sb", 50051)) in rt.calls

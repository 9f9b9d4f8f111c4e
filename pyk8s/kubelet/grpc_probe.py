"""gRPC probes: one call of the gRPC health protocol (``grpc.health.v1.Health/Check``).

Mirrors ``pkg/probe/grpc/grpc.go``: an insecure channel with the ``kube-probe`` user agent,
``service`` from the probe (empty: the server as a whole), success only for ``SERVING``, and
upstream's wording of each failure. The two messages of the protocol are one field each, so
they are encoded here by hand rather than with generated code:
``HealthCheckRequest { string service = 1; }`` and
``HealthCheckResponse { ServingStatus status = 1; }``.
"""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio

METHOD = "/grpc.health.v1.Health/Check"
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
SERVING = 1


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_request(service: str) -> bytes:
    data = service.encode()
    return b"\x0a" + _varint(len(data)) + data if data else b""


def decode_response(data: bytes) -> int:
    """The ``status`` field (0 when absent, as proto3 defaults it); other fields skipped."""
    i, status = 0, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
            if field == 1:
                status = value
        elif wire == 2:
            length, i = _read_varint(data, i)
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
    if i > len(data):
        raise ValueError("truncated message")
    return status


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


async def check(address: str, service: str, timeout: float, user_agent: str) -> tuple[bool, str]:
    """Probe ``address`` (``host:port``) within ``timeout`` seconds in all: connect, then
    call; (healthy, output as upstream words it)."""
    options = [("grpc.primary_user_agent", user_agent)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout)
        except TimeoutError:
            return False, (
                f'timeout: failed to connect service "{address}" within {timeout:g}s: '
                "context deadline exceeded"
            )
        call = channel.unary_unary(
            METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        try:
            raw = await call(encode_request(service), timeout=max(deadline - loop.time(), 0.001))
        except grpc.aio.AioRpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return False, (
                    "error: this server does not implement the grpc health protocol "
                    f"(grpc.health.v1.Health): {e.details()}"
                )
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {timeout:g}s"
            return False, (
                f"error: health rpc probe failed: rpc error: code = {_go_code(code)} "
                f"desc = {e.details()}"
            )
    try:
        status = decode_response(raw)
    except ValueError as e:
        return False, f"error: health rpc probe failed: bad response: {e}"
    if status != SERVING:
        name = SERVING_STATUS.get(status, str(status))
        return False, f'service unhealthy (responded with "{name}")'
    return True, ""


def _go_code(code: grpc.StatusCode) -> str:
    """``NOT_FOUND`` as grpc-go prints it: ``NotFound``."""
    return "".join(w.capitalize() for w in code.name.split("_"))

"""The kubelet's SPDY port-forward against a local TCP server: pairs of streams, the error
stream on a refused port, and nothing left behind when the client vanishes mid-stream."""

from __future__ import annotations

import asyncio

import pytest

from pyk8s.client.httpstream import spdy
from pyk8s.kubelet.server import portforward
from tests.unit.client.httpstream.test_spdy import Pipe, _frames


async def _echo_server() -> tuple[asyncio.Server, int, list[asyncio.StreamWriter]]:
    conns: list[asyncio.StreamWriter] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conns.append(w)
        while data := await r.read(65536):
            w.write(data.upper())
            await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], conns


def _pair(c: spdy.Codec, first: int, port: int, rid: str) -> bytes:
    return c.syn_stream(first, {"streamType": "error", "port": str(port), "requestID": rid},
                        fin=True) + c.syn_stream(
        first + 2, {"streamType": "data", "port": str(port), "requestID": rid})  # fmt: skip


def test_parse_ports() -> None:
    assert portforward.parse_ports(["80,81", "8080"]) == [80, 81, 8080]
    for bad, msg in ((["x"], "unable to parse"), ([""], "cannot be empty"),
                     (["0"], "must be > 0"), ([], "is required")):  # fmt: skip
        with pytest.raises(ValueError, match=msg):
            portforward.parse_ports(bad)


async def test_spdy_forward_refused_port_and_disconnect_leave_nothing() -> None:
    server, port, conns = await _echo_server()
    baseline = len(asyncio.all_tasks())

    async def forward(p: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if p != port:
            raise OSError("connection refused")
        return await asyncio.open_connection("127.0.0.1", port)

    client, end = Pipe().ends()
    task = asyncio.create_task(
        portforward.serve_spdy(end, forward, lambda p, e: f"error forwarding port {p}: {e}")
    )
    c = spdy.Codec()
    await client.write(_pair(c, 1, port, "0") + _pair(c, 5, 9, "1"))
    frames = await _frames(client, c, 4 + 3)  # 4 replies; refused pair: message, 2 FINs
    replies = {f.stream_id for f in frames if f.type == spdy.SYN_REPLY}
    assert replies == {1, 3, 5, 7}
    message = [f for f in frames if f.type == 0 and f.stream_id == 5 and f.data]
    assert message[0].data == b"error forwarding port 9: connection refused"
    assert {f.stream_id for f in frames if f.type == 0 and f.flags & spdy.FLAG_FIN} == {5, 7}

    await client.write(spdy.Codec.data(3, b"hello"))
    (echo,) = await _frames(client, c, 1)
    assert (echo.stream_id, echo.data) == (3, b"HELLO")
    assert len(conns) == 1
    # The client vanishes mid-stream: the forward ends, the pod's connection is closed.
    await client.close()
    await asyncio.wait_for(task, 5)
    for _ in range(50):  # the echo server's handler sees the close and ends too
        if len(asyncio.all_tasks()) == baseline:
            break
        await asyncio.sleep(0.02)
    assert conns[0].is_closing()
    assert len(asyncio.all_tasks()) == baseline
    server.close()
    await server.wait_closed()

"""In-process connections: an aiohttp server served over a PipeTransport pair, and the
registry the dialler looks servers up in."""

from __future__ import annotations

import asyncio

from aiohttp import web

from pyk8s.client.httpstream import chunks, inprocess


async def test_pipe_carries_http_both_ways_with_flow_control() -> None:
    seen: list[bool] = []

    async def big(request: web.Request) -> web.StreamResponse:
        seen.append(bool(request.transport and request.transport.get_extra_info("in_process")))
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b"x" * 256 * 1024)  # 10 MiB: the writer is paused on the way
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/big", big)
    runner = web.AppRunner(app)
    await runner.setup()
    assert runner.server is not None
    server = runner.server
    loop = asyncio.get_running_loop()

    async def connect(protocol: asyncio.Protocol) -> asyncio.Transport:
        client, _ = inprocess.pipe(loop, protocol, server())
        return client

    unregister = inprocess.register(["10.0.0.9"], 10250, connect)
    try:
        dial = inprocess.lookup("10.0.0.9", 10250)
        assert dial is not None and inprocess.lookup("10.0.0.8", 10250) is None
        reader = chunks.ChunkReader(limit=1 << 20)
        protocol = asyncio.StreamReaderProtocol(reader)
        transport = await dial(protocol)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        body = bytearray()
        while data := await reader.read(1 << 20):
            body += data
            await asyncio.sleep(0)
        # chunked transfer encoding around 10 MiB of x
        assert body.count(b"x") == 40 * 256 * 1024
        assert seen == [True]
        writer.close()
    finally:
        unregister()
        await runner.cleanup()
    assert inprocess.lookup("10.0.0.9", 10250) is None


def test_websocket_accept_is_rfc6455s() -> None:
    from pyk8s.client.httpstream import upgrade

    # RFC 6455 section 1.3's example
    assert upgrade.websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

"""A port-forward connection (in the host's namespace here): what the pod sends arrives whole
and in order through the reading thread, writes reach the pod, and closing either end leaves
no thread behind."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pyk8s.client.httpstream import chunks
from pyk8s.kubelet.runtime import portforward


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "port-forward-read"]


async def _no_readers_left() -> None:
    for _ in range(100):
        if not _readers():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"reading threads left: {_readers()}")


async def test_download_arrives_whole_and_the_thread_ends_at_eof() -> None:
    body = bytes(range(256)) * 40_000  # 10 MB
    got_request = asyncio.Event()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        assert await r.readexactly(4) == b"GET\n"
        got_request.set()
        w.write(body)
        await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await portforward.open_connection("", port)
        assert isinstance(reader, chunks.ChunkReader)
        writer.writelines([b"GE", b"T\n"])
        await writer.drain()
        await asyncio.wait_for(got_request.wait(), 10)
        for _ in range(200):  # nobody reads yet: past twice the limit, the thread pauses
            if reader._source_paused:
                break
            await asyncio.sleep(0.05)
        assert reader._source_paused
        got = bytearray()
        while parts := await asyncio.wait_for(reader.read_chunks(1 << 20), 10):
            got += b"".join(parts)
        assert bytes(got) == body
        writer.close()
        await _no_readers_left()
    finally:
        server.close()


async def test_closing_our_end_wakes_and_ends_the_thread() -> None:
    release = asyncio.Event()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"hello")
        await w.drain()
        await release.wait()  # the pod sends nothing more and keeps the connection open
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await portforward.open_connection("", port)
        assert await asyncio.wait_for(reader.read(100), 10) == b"hello"
        assert _readers()
        writer.close()
        await _no_readers_left()
    finally:
        release.set()
        server.close()


async def test_refused_port_is_a_dial_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(portforward.DialError, match="connection refused"):
        await portforward.open_connection("", port)

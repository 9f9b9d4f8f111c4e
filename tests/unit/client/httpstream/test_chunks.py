"""ChunkReader: the StreamReader calls the relays and the prober use, over a real socket."""

from __future__ import annotations

import asyncio

import pytest

from pyk8s.client.httpstream import chunks


async def _connected(
    payload: bytes, limit: int = 1 << 16
) -> tuple[chunks.ChunkReader, asyncio.StreamWriter, asyncio.Server]:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(payload)
        await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    reader = chunks.ChunkReader(limit=limit)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.create_connection(lambda: protocol, "127.0.0.1", port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop), server


async def test_readuntil_then_reads_keep_order_and_end() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, more than twice the limit: reading pauses
    reader, writer, server = await _connected(b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n" + body)
    try:
        assert await reader.readline() == b"HTTP/1.1 101 OK\r\n"
        assert await reader.readuntil(b"\r\n\r\n") == b"A: b\r\n\r\n"
        got = bytearray()
        while data := await reader.read(100_000):
            assert len(data) <= 100_000
            got += data
        assert bytes(got) == body
        assert reader.at_eof()
        assert await reader.read(10) == b""
    finally:
        writer.close()
        server.close()


async def test_readexactly_and_incomplete() -> None:
    reader, writer, server = await _connected(b"abcdefgh")
    try:
        assert await reader.readexactly(3) == b"abc"
        with pytest.raises(asyncio.IncompleteReadError) as e:
            await reader.readexactly(10)
        assert e.value.partial == b"defgh"
    finally:
        writer.close()
        server.close()


async def test_separator_missing_at_eof() -> None:
    reader, writer, server = await _connected(b"no newline")
    try:
        assert await reader.readline() == b"no newline"
        assert await reader.read() == b""
    finally:
        writer.close()
        server.close()


async def test_read_chunks_hands_out_what_waits_up_to_the_limit() -> None:
    body = bytes(range(256)) * 2048  # 512 KiB: arrives in several chunks
    reader, writer, server = await _connected(body, limit=1 << 20)
    try:
        got = bytearray()
        while parts := await reader.read_chunks(100_000):
            assert sum(map(len, parts)) <= 100_000
            got += b"".join(parts)
        assert bytes(got) == body
        assert reader.at_eof()
        assert await reader.read_chunks(10) == []
    finally:
        writer.close()
        server.close()


async def test_read_chunks_takes_every_waiting_chunk_at_once() -> None:
    reader = chunks.ChunkReader()
    for piece in (b"ab", b"cd", b"ef"):
        reader.feed_data(piece)
    assert await reader.read_chunks(5) == [b"ab", b"cd"]  # the next would pass the limit
    assert await reader.read_chunks(1) == [b"e"]  # a chunk longer than the limit is cut
    reader.feed_eof()
    assert await reader.read_chunks(10) == [b"f"]
    assert await reader.read_chunks(10) == []

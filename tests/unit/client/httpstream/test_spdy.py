"""SPDY/3.1 framing and the server connection, against a client built from the same codec."""

from __future__ import annotations

import asyncio
import zlib

import pytest

from pyk8s.client.httpstream import spdy


def test_dictionary_is_spdy3s() -> None:
    # zlib's dictionary id (the Adler-32 of the dictionary) that Go's spdy framer expects.
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2


def test_frames_round_trip_with_shared_header_compression() -> None:
    writer, reader = spdy.Codec(), spdy.Codec()
    wire = (
        writer.syn_stream(1, {"streamType": "error", "port": "80", "requestID": "0"}, fin=True)
        + writer.syn_stream(3, {"streamType": "data", "port": "80", "requestID": "0"})
        + spdy.Codec.data(3, b"hello")
        + spdy.Codec.ping(5)
        + spdy.Codec.rst_stream(3, spdy.CANCEL)
        + spdy.Codec.goaway(3)
    )
    frames = []
    for i in range(0, len(wire), 7):  # byte by byte-ish: frames split anywhere
        frames += reader.feed(wire[i : i + 7])
    kinds = [f.type for f in frames]
    assert kinds == [spdy.SYN_STREAM, spdy.SYN_STREAM, 0, spdy.PING, spdy.RST_STREAM, spdy.GOAWAY]
    assert frames[0].headers == {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}
    assert frames[0].flags & spdy.FLAG_FIN
    assert frames[1].headers["streamtype"] == ["data"]
    assert (frames[2].stream_id, frames[2].data) == (3, b"hello")
    assert frames[3].ping_id == 5
    assert (frames[4].stream_id, frames[4].status) == (3, spdy.CANCEL)


class Pipe:
    """Two transports joined back to back."""

    def __init__(self) -> None:
        self.a_to_b: asyncio.Queue[bytes] = asyncio.Queue()
        self.b_to_a: asyncio.Queue[bytes] = asyncio.Queue()

    class End:
        def __init__(self, inq: asyncio.Queue[bytes], outq: asyncio.Queue[bytes]) -> None:
            self.inq, self.outq = inq, outq

        async def read(self) -> bytes:
            return await self.inq.get()

        async def write(self, data: bytes) -> None:
            await self.outq.put(data)

        async def close(self) -> None:
            await self.outq.put(b"")

    def ends(self) -> tuple[Pipe.End, Pipe.End]:
        return Pipe.End(self.b_to_a, self.a_to_b), Pipe.End(self.a_to_b, self.b_to_a)


async def _frames(end: Pipe.End, codec: spdy.Codec, n: int) -> list[spdy.Frame]:
    out: list[spdy.Frame] = []
    while len(out) < n:
        out += codec.feed(await asyncio.wait_for(end.read(), 5))
    return out


async def test_connection_replies_echoes_pings_and_rejects() -> None:
    client, server = Pipe().ends()
    conn = spdy.Connection(server)
    accepted: list[spdy.Stream] = []

    def on_stream(s: spdy.Stream) -> str | None:
        if s.header("port") == "0":
            return "port must be > 0"
        accepted.append(s)
        return None

    task = asyncio.create_task(conn.run(on_stream))
    c = spdy.Codec()
    await client.write(c.syn_stream(1, {"port": "80"}) + spdy.Codec.ping(7))
    await client.write(c.syn_stream(3, {"port": "0"}))
    reply, ping, rst = await _frames(client, c, 3)
    assert (reply.type, reply.stream_id) == (spdy.SYN_REPLY, 1)
    assert (ping.type, ping.ping_id) == (spdy.PING, 7)
    assert (rst.type, rst.stream_id) == (spdy.RST_STREAM, 3)
    await client.write(spdy.Codec.data(1, b"abc", fin=True))
    s = accepted[0]
    assert await s.read() == b"abc"
    assert await s.read() == b""
    await s.write(b"xyz")
    await s.close()
    data, fin = await _frames(client, c, 2)
    assert (data.stream_id, data.data, fin.flags) == (1, b"xyz", spdy.FLAG_FIN)
    assert conn.streams == {}  # closed both ways: forgotten
    await client.close()
    await asyncio.wait_for(task, 5)


async def test_writelines_sends_frames_of_at_most_chunk_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spdy, "CHUNK", 10)
    client, server = Pipe().ends()
    conn = spdy.Connection(server)
    stream = spdy.Stream(conn, 1, {})
    await stream.writelines([b"abcdef", b"ghijklmnopqrstu", b"vwxyz"])
    await stream.write(b"!")
    c = spdy.Codec()
    frames = await _frames(client, c, 4)
    assert [(f.type, f.stream_id, f.data) for f in frames] == [
        (0, 1, b"abcdefghij"), (0, 1, b"klmnopqrst"), (0, 1, b"uvwxyz"), (0, 1, b"!"),
    ]  # fmt: skip

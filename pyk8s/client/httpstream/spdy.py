"""SPDY/3.1 framing and stream multiplexing, as ``kubectl port-forward`` (and old exec) speak it.

Mirrors ``k8s.io/apimachinery/pkg/util/httpstream/spdy`` over ``github.com/moby/spdystream``
(frame layout from the SPDY/3 draft): control frames (SYN_STREAM, SYN_REPLY, RST_STREAM,
SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE) and data frames; header blocks are
zlib-compressed with the SPDY/3 dictionary, one compression context per direction for the
whole connection. Like spdystream, there is no flow control: WINDOW_UPDATE and SETTINGS are
read and ignored. A :class:`Connection` runs over any :class:`Transport` (an upgraded HTTP
connection, or WebSocket binary messages carrying the SPDY bytes as kubectl 1.31+ tunnels
them).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# The SPDY/3 header dictionary: 65 length-prefixed words, then a run of common values.
_WORDS = (
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN, FLAG_UNIDIRECTIONAL = 0x01, 0x02
# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL = 1, 2, 3, 5
CHUNK = 1024 * 1024
"""The largest data frame payload we send (kubectl's per-frame work is most of its own cost:
fewer, larger frames)."""


class ProtocolError(Exception):
    pass


@dataclass
class Frame:
    """One frame; ``type`` 0 is a data frame."""

    type: int
    flags: int
    stream_id: int = 0
    data: bytes = b""
    headers: dict[str, list[str]] = field(default_factory=dict)
    associated_id: int = 0
    priority: int = 0
    status: int = 0  # RST_STREAM and GOAWAY
    ping_id: int = 0


class Codec:
    """Frames to and from bytes for one connection (each direction keeps its zlib state)."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                          DICTIONARY)  # fmt: skip
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)
        self._buf = bytearray()

    # -- writing

    def header_block(self, headers: dict[str, list[str]] | dict[str, str]) -> bytes:
        raw = bytearray(struct.pack(">I", len(headers)))
        for name, value in headers.items():
            v = "\x00".join(value) if isinstance(value, list) else value
            n, vb = name.lower().encode(), v.encode()
            raw += struct.pack(">I", len(n)) + n + struct.pack(">I", len(vb)) + vb
        return self._compress.compress(bytes(raw)) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(kind: int, flags: int, payload: bytes) -> bytes:
        head = struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload))
        return head + payload

    @staticmethod
    def data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
        flags = FLAG_FIN if fin else 0
        return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data

    def syn_stream(self, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
        payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + self.header_block(headers)
        return self.control(SYN_STREAM, FLAG_FIN if fin else 0, payload)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
        return self.control(SYN_REPLY, 0, struct.pack(">I", stream_id) +
                            self.header_block(headers or {}))  # fmt: skip

    @classmethod
    def rst_stream(cls, stream_id: int, status: int) -> bytes:
        return cls.control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @classmethod
    def ping(cls, ping_id: int) -> bytes:
        return cls.control(PING, 0, struct.pack(">I", ping_id))

    @classmethod
    def goaway(cls, last_stream_id: int, status: int = 0) -> bytes:
        return cls.control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))

    # -- reading

    def _headers(self, block: bytes) -> dict[str, list[str]]:
        raw = self._decompress.decompress(block)
        try:
            (count,) = struct.unpack_from(">I", raw, 0)
            pos, out = 4, {}
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4 : pos + 4 + n].decode()
                pos += 4 + n
                (m,) = struct.unpack_from(">I", raw, pos)
                value = raw[pos + 4 : pos + 4 + m].decode()
                pos += 4 + m
                if name != name.lower():
                    raise ProtocolError("header was not lowercased")
                out[name] = value.split("\x00")
        except (struct.error, UnicodeDecodeError) as e:
            raise ProtocolError(f"invalid header block: {e}") from e
        return out

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by ``data``."""
        self._buf += data
        out: list[Frame] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 8:
            w0, w1 = struct.unpack_from(">II", buf, pos)
            length = w1 & 0xFFFFFF
            if len(buf) - pos < 8 + length:
                break
            flags = w1 >> 24
            payload = bytes(buf[pos + 8 : pos + 8 + length])
            pos += 8 + length
            if not w0 & 0x80000000:
                out.append(Frame(0, flags, w0 & 0x7FFFFFFF, payload))
                continue
            kind = w0 & 0xFFFF
            if (w0 >> 16) & 0x7FFF != VERSION:
                raise ProtocolError(f"unsupported SPDY version {(w0 >> 16) & 0x7FFF}")
            out.append(self._control(kind, flags, payload))
        del buf[:pos]
        return out

    def _control(self, kind: int, flags: int, p: bytes) -> Frame:
        try:
            if kind == SYN_STREAM:
                sid, assoc, prio, _slot = struct.unpack_from(">IIBB", p)
                return Frame(kind, flags, sid & 0x7FFFFFFF, headers=self._headers(p[10:]),
                             associated_id=assoc & 0x7FFFFFFF, priority=prio >> 5)  # fmt: skip
            if kind in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", p)
                return Frame(kind, flags, sid & 0x7FFFFFFF, headers=self._headers(p[4:]))
            if kind == RST_STREAM:
                sid, status = struct.unpack_from(">II", p)
                return Frame(kind, flags, sid & 0x7FFFFFFF, status=status)
            if kind == PING:
                return Frame(kind, flags, ping_id=struct.unpack_from(">I", p)[0])
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", p)
                return Frame(kind, flags, last & 0x7FFFFFFF, status=status)
            if kind == WINDOW_UPDATE:
                (sid,) = struct.unpack_from(">I", p)
                return Frame(kind, flags, sid & 0x7FFFFFFF)
        except struct.error as e:
            raise ProtocolError(f"invalid control frame {kind}: {e}") from e
        return Frame(kind, flags)  # SETTINGS and unknown types: ignored


class Transport(Protocol):
    """A byte stream: an upgraded connection, or a WebSocket carrying the bytes.

    A transport may also have ``read_chunks() -> list[bytes]`` (everything received so far,
    ``[]`` at the end) and ``writelines(parts)`` (the parts as one write, none copied);
    :func:`read_parts` and :func:`write_parts` use them when it has them."""

    async def read(self) -> bytes:
        """Some bytes; ``b""`` once the peer closed."""

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


async def read_parts(transport: Transport) -> list[bytes]:
    """What ``transport`` received, as few awaits as it allows; ``[]`` once the peer closed."""
    many: Callable[[], Awaitable[list[bytes]]] | None = getattr(transport, "read_chunks", None)
    if many is not None:
        return await many()
    data = await transport.read()
    return [data] if data else []


async def write_parts(transport: Transport, parts: Sequence[bytes]) -> None:
    """``parts`` in order, in one write where the transport can do it without copying."""
    many: Callable[[Sequence[bytes]], Awaitable[None]] | None = getattr(
        transport, "writelines", None
    )
    if many is not None:
        await many(parts)
    else:
        await transport.write(parts[0] if len(parts) == 1 else b"".join(parts))


class Stream:
    """One SPDY stream: ``read`` until ``b""`` (the peer's FIN or a reset), ``write``,
    ``close`` (our FIN), ``reset``."""

    def __init__(self, conn: Connection, stream_id: int, headers: dict[str, list[str]]) -> None:
        self.conn = conn
        self.id = stream_id
        self.headers = headers
        self._incoming: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)
        self.remote_closed = False
        self.local_closed = False
        self.was_reset = False
        self._abandoned = False

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower()) or [""]
        return values[0]

    async def read(self) -> bytes:
        if self.remote_closed and self._incoming.empty():
            return b""
        return await self._incoming.get()

    async def write(self, data: bytes) -> None:
        if not data:
            if self.local_closed or self.was_reset:
                raise ConnectionResetError(f"write on closed stream {self.id}")
            await self.conn.send(Codec.data(self.id, b""))
            return
        await self.writelines((data,))

    async def writelines(self, parts: Sequence[bytes]) -> None:
        """``parts`` as data frames of up to :data:`CHUNK` bytes (a frame's header and its
        parts go out in one write; only a part longer than a frame is cut)."""
        if self.local_closed or self.was_reset:
            raise ConnectionResetError(f"write on closed stream {self.id}")
        frame: list[bytes] = []
        size = 0
        for whole in parts:
            part = whole
            while size + len(part) > CHUNK:
                cut = CHUNK - size
                frame.append(part[:cut])
                await self.conn.send_data_parts(self.id, frame, CHUNK)
                frame, size, part = [], 0, part[cut:]
            if part:
                frame.append(part)
                size += len(part)
        if frame:
            await self.conn.send_data_parts(self.id, frame, size)

    async def close(self) -> None:
        """Half-close: we send nothing more."""
        if self.local_closed or self.was_reset:
            return
        self.local_closed = True
        with contextlib.suppress(ConnectionError):
            await self.conn.send(Codec.data(self.id, b"", fin=True))
        self.conn.forget_if_done(self)

    async def reset(self, status: int = CANCEL) -> None:
        if self.was_reset:
            return
        self._remote_end(reset=True)
        with contextlib.suppress(ConnectionError):
            await self.conn.send(Codec.rst_stream(self.id, status))
        self.conn.forget(self)

    def abandon(self) -> None:
        """Nobody reads this stream any more: drop what still arrives on it."""
        self._abandoned = True
        while not self._incoming.empty():
            self._incoming.get_nowait()

    # called by the connection's reader
    async def _deliver(self, data: bytes) -> None:
        if data and not self.remote_closed and not self._abandoned:
            await self._incoming.put(data)

    def _remote_end(self, reset: bool = False) -> None:
        if reset:
            self.was_reset = True
        if not self.remote_closed:
            self.remote_closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self._incoming.put_nowait(b"")


class Connection:
    """The server side of a SPDY session (stream ids from the client are odd).

    ``run(on_stream)`` reads frames until the peer goes away: each new stream is given to
    ``on_stream``, which returns an error message to reject it (RST_STREAM, as
    apimachinery's ``newSpdyStream`` does) or ``None`` to accept it (SYN_REPLY).
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.codec = Codec()
        self.streams: dict[int, Stream] = {}
        self._write_lock = asyncio.Lock()
        self.closed = asyncio.Event()
        self._last_received = 0

    async def send(self, frame: bytes) -> None:
        if self.closed.is_set():
            raise ConnectionResetError("SPDY connection closed")
        async with self._write_lock:
            await self.transport.write(frame)

    async def send_data_parts(self, stream_id: int, parts: list[bytes], size: int) -> None:
        """One data frame of ``size`` bytes carrying ``parts``: its 8-byte header and the
        parts written together, the payload not copied behind the header."""
        if self.closed.is_set():
            raise ConnectionResetError("SPDY connection closed")
        head = struct.pack(">II", stream_id & 0x7FFFFFFF, size)
        async with self._write_lock:
            if size < 4096:
                await self.transport.write(head + b"".join(parts))
            else:
                await write_parts(self.transport, [head, *parts])

    async def _send_control(self, build: Callable[[], bytes]) -> None:
        # Header compression must happen in wire order: build under the write lock.
        if self.closed.is_set():
            raise ConnectionResetError("SPDY connection closed")
        async with self._write_lock:
            await self.transport.write(build())

    def forget(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)

    def forget_if_done(self, stream: Stream) -> None:
        if stream.local_closed and stream.remote_closed:
            self.forget(stream)

    async def run(self, on_stream: Callable[[Stream], str | None]) -> None:
        try:
            while True:
                data = await self.transport.read()
                if not data:
                    return
                for frame in self.codec.feed(data):
                    await self._handle(frame, on_stream)
        except (ProtocolError, zlib.error):
            with contextlib.suppress(Exception):
                await self.send(Codec.goaway(self._last_received, 1))
        finally:
            self.closed.set()
            for s in list(self.streams.values()):
                s._remote_end(reset=True)
            self.streams.clear()

    async def _handle(self, f: Frame, on_stream: Callable[[Stream], str | None]) -> None:
        if f.type == 0:
            s = self.streams.get(f.stream_id)
            if s is None:
                return
            await s._deliver(f.data)
            if f.flags & FLAG_FIN:
                s._remote_end()
                self.forget_if_done(s)
        elif f.type == SYN_STREAM:
            if f.stream_id == 0 or f.stream_id in self.streams or f.stream_id % 2 == 0:
                await self.send(Codec.rst_stream(f.stream_id, PROTOCOL_ERROR))
                return
            self._last_received = max(self._last_received, f.stream_id)
            new = Stream(self, f.stream_id, f.headers)
            self.streams[new.id] = new
            if f.flags & FLAG_FIN:
                new._remote_end()
            if on_stream(new) is not None:
                await new.reset(CANCEL)  # spdystream's Reset
                return
            sid = new.id
            await self._send_control(lambda: self.codec.syn_reply(sid))
        elif f.type == RST_STREAM:
            s = self.streams.pop(f.stream_id, None)
            if s is not None:
                s._remote_end(reset=True)
        elif f.type == PING:
            if f.ping_id % 2 == 1:  # the client's; ours would be even
                await self.send(Codec.ping(f.ping_id))
        elif f.type == HEADERS and f.flags & FLAG_FIN:
            s = self.streams.get(f.stream_id)
            if s is not None:
                s._remote_end()
                self.forget_if_done(s)
        # GOAWAY: the client makes no new streams; the ones open finish on their own.

    async def close(self) -> None:
        """GOAWAY, then close the transport."""
        if not self.closed.is_set():
            with contextlib.suppress(Exception):
                await self.send(Codec.goaway(self._last_received))
        self.closed.set()
        with contextlib.suppress(Exception):
            await self.transport.close()

"""HTTP connection upgrades other than WebSocket, and byte transports over them.

Mirrors ``k8s.io/apimachinery/pkg/util/httpstream`` (``Handshake``, the
``X-Stream-Protocol-Version`` negotiation) and ``httpstream/spdy`` (``upgrade.go``'s 101
answer, ``roundtripper.go``'s client side). aiohttp only upgrades to WebSocket by itself, so
:func:`accept` takes the connection over the way aiohttp's own WebSocket response does: it
installs a payload parser that receives every byte after the request, then writes the 101.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ssl
import struct
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from pyk8s.client.httpstream import chunks, inprocess, spdy, tlssocket

HEADER_PROTOCOL_VERSION = "X-Stream-Protocol-Version"
HEADER_ACCEPTED_PROTOCOL_VERSIONS = "X-Accepted-Stream-Protocol-Versions"
SPDY_31 = "SPDY/3.1"
TUNNEL_PREFIX = "SPDY/3.1+"
_HIGH_WATER = 4 * 1024 * 1024
_READ = 256 * 1024
BATCH = 2 * 1024 * 1024
"""The most a relay takes from one side to write to the other at once: more than a SPDY data
frame of :data:`spdy.CHUNK` bytes with its header (which arrive as two chunks; at 1 MiB the
header went alone, one tiny TLS record and WebSocket message per frame)."""
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_WRITER = web.RequestKey("pyk8s.httpstream.writer", object)
"""The connection's :class:`tlssocket.SocketWriter` (``None``: it cannot have one)."""
_WS_WRITER = web.RequestKey("pyk8s.httpstream.ws-writer", object)
"""aiohttp's WebSocket writer and the transport it wrote to before the socket writer."""


def is_spdy_upgrade(request: web.BaseRequest) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower() and (
        SPDY_31.lower() in request.headers.get("Upgrade", "").lower()
    )


def is_websocket(request: web.BaseRequest) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def client_protocols(request: web.BaseRequest) -> list[str]:
    """The ``X-Stream-Protocol-Version`` values, in the client's order."""
    out: list[str] = []
    for v in request.headers.getall(HEADER_PROTOCOL_VERSION, []):
        out += [p.strip() for p in v.split(",") if p.strip()]
    return out


def websocket_protocols(request: web.BaseRequest) -> list[str]:
    raw = ",".join(request.headers.getall("Sec-WebSocket-Protocol", []))
    return [p.strip() for p in raw.split(",") if p.strip()]


def websocket_accept(key: str) -> str:
    """RFC 6455's ``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((key + _WS_GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def negotiate(offered: list[str], supported: list[str] | tuple[str, ...]) -> str:
    """``httpstream.Handshake``'s choice: the first supported protocol the client offered."""
    for p in offered:
        if p in supported:
            return p
    return ""


class _Feed:
    """What aiohttp's request handler feeds the upgraded connection's bytes to."""

    def __init__(self, transport: asyncio.Transport | None) -> None:
        self._transport = transport
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._size = 0
        self._paused = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._chunks.put_nowait(bytes(data))
        self._size += len(data)
        if self._size > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        return False, b""

    def feed_eof(self) -> None:
        self._chunks.put_nowait(b"")

    async def read(self) -> bytes:
        data = await self._chunks.get()
        self._took(len(data))
        if not data:
            self._chunks.put_nowait(b"")  # stay at EOF
        return data

    async def read_chunks(self) -> list[bytes]:
        data = await self._chunks.get()
        out: list[bytes] = []
        size = 0
        while data:
            out.append(data)
            size += len(data)
            if self._chunks.empty() or size >= BATCH:
                break
            data = self._chunks.get_nowait()
        if not data:
            self._chunks.put_nowait(b"")  # stay at EOF
        self._took(size)
        return out

    def _took(self, n: int) -> None:
        self._size -= n
        if self._paused and self._size < _HIGH_WATER // 2 and self._transport is not None:
            self._paused = False
            with contextlib.suppress(Exception):
                self._transport.resume_reading()


class UpgradedTransport:
    """The server side of an upgraded aiohttp connection, as a :class:`spdy.Transport`."""

    def __init__(self, request: web.BaseRequest, feed: _Feed) -> None:
        self._request = request
        self._feed = feed

    async def read(self) -> bytes:
        return await self._feed.read()

    async def read_chunks(self) -> list[bytes]:
        return await self._feed.read_chunks()

    async def write(self, data: bytes) -> None:
        await self.writelines((data,))

    async def writelines(self, parts: Sequence[bytes]) -> None:
        await _write_raw(self._request, parts)

    async def close(self) -> None:
        await release(self._request)
        transport = self._request.transport
        if transport is not None:
            transport.close()


async def accept(
    request: web.BaseRequest, headers: Mapping[str, str], *, to: str = SPDY_31
) -> tuple[web.StreamResponse, UpgradedTransport]:
    """Answer 101 (``Upgrade: <to>`` plus ``headers``); return the connection's bytes.
    The handler must return the response only once it is done with the connection."""
    feed = _Feed(request.transport)
    request.protocol.set_parser(feed)  # type: ignore[arg-type]
    resp = web.StreamResponse(
        status=101, headers={"Connection": "Upgrade", "Upgrade": to, **headers}
    )
    resp.force_close()
    await resp.prepare(request)
    return resp, UpgradedTransport(request, feed)


def _socket_writer(request: web.BaseRequest) -> tlssocket.SocketWriter | None:
    """The upgraded connection's :class:`tlssocket.SocketWriter`, taken at its first write
    (``None`` where the connection cannot have one: it is then written as before). However
    its handler ends, the writer gives the connection back to the loop's TLS layer."""
    if _WRITER in request:
        return cast(tlssocket.SocketWriter | None, request[_WRITER])
    # Only where the handler's task can give the connection back whatever happens.
    task: asyncio.Task[Any] | None = getattr(request, "task", None)
    writer = tlssocket.SocketWriter.attach(request.transport) if task is not None else None
    request[_WRITER] = writer
    if task is not None and writer is not None:
        task.add_done_callback(lambda _: _release_now(request))
    return writer


def _release_now(request: web.BaseRequest) -> None:
    writer = cast(tlssocket.SocketWriter | None, request.get(_WRITER))
    if writer is None or writer.detached:
        return
    restore = cast(tuple[Any, Any] | None, request.get(_WS_WRITER))
    if restore is not None:
        restore[0].transport = restore[1]
    if not writer.detach_now() and request.transport is not None:
        request.transport.abort()


async def release(request: web.BaseRequest) -> None:
    """Give an upgraded connection back to the loop's TLS layer once its stream is over
    (after what its writer queued went out), so it closes as any other."""
    writer = cast(tlssocket.SocketWriter | None, request.get(_WRITER))
    if writer is None or writer.detached:
        return
    with contextlib.suppress(Exception):
        await writer.detach()
    _release_now(request)


async def _write_raw(request: web.BaseRequest, parts: Sequence[bytes]) -> None:
    """``parts`` on the request's connection: straight into its socket where a
    :class:`tlssocket.SocketWriter` can have it, else in one ``writelines`` (under TLS one
    socket write for all of them); then wait while the connection's writing is paused."""
    writer = _socket_writer(request)
    if writer is not None:
        writer.writelines(parts)
        await writer.drain()
        return
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("connection closed")
    transport.writelines(parts)
    protocol = request.protocol
    if protocol.writing_paused:
        await protocol._drain_helper()


class StreamTransport:
    """An asyncio stream pair (the client side of an upgrade) as a :class:`spdy.Transport`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self) -> bytes:
        try:
            return await self.reader.read(_READ)
        except (ConnectionError, ssl.SSLError):
            return b""

    async def read_chunks(self) -> list[bytes]:
        if not isinstance(self.reader, chunks.ChunkReader):
            data = await self.read()
            return [data] if data else []
        try:
            return await self.reader.read_chunks(BATCH)
        except (ConnectionError, ssl.SSLError):
            return []

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def writelines(self, parts: Sequence[bytes]) -> None:
        self.writer.writelines(parts)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2)


class WebSocketTransport:
    """Bytes carried in WebSocket binary messages (client-go's ``TunnelingConnection``).

    Given the server side's ``request``, ``writelines`` puts the parts in one unmasked binary
    message written with the frame header in one go (the stream's bytes need no message
    boundaries, and aiohttp would write a large payload and its header separately)."""

    def __init__(
        self,
        ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        request: web.BaseRequest | None = None,
    ) -> None:
        self.ws = ws
        self._request = request

    async def read(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue
            if msg.type in (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG):
                continue
            return b""  # close, error, or a text message (not part of the protocol)

    async def write(self, data: bytes) -> None:
        if self.ws.closed:
            raise ConnectionResetError("websocket closed")
        await self.ws.send_bytes(data)

    async def writelines(self, parts: Sequence[bytes]) -> None:
        if self.ws.closed:
            raise ConnectionResetError("websocket closed")
        if self._request is None:
            await self.ws.send_bytes(parts[0] if len(parts) == 1 else b"".join(parts))
            return
        size = sum(map(len, parts))
        if size < 126:
            head = struct.pack("!BB", 0x82, size)
        elif size < 65536:
            head = struct.pack("!BBH", 0x82, 126, size)
        else:
            head = struct.pack("!BBQ", 0x82, 127, size)
        request = self._request
        if _WRITER not in request:
            # aiohttp's own frames (pongs, the close) must go the same way, in order with ours
            ws_writer = getattr(self.ws, "_writer", None)
            if ws_writer is None or not hasattr(ws_writer, "transport"):
                request[_WRITER] = None
            elif (writer := _socket_writer(request)) is not None:
                request[_WS_WRITER] = (ws_writer, ws_writer.transport)
                ws_writer.transport = writer
        await _write_raw(request, [head, *parts])

    async def close(self) -> None:
        await self.ws.close()
        if self._request is not None:
            await release(self._request)


class Response:
    """A dialled upgrade's answer: the status, headers, and the body when it was refused."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_head = b""


async def dial(
    url: str,
    headers: Mapping[str, str] | list[tuple[str, str]],
    ssl_context: ssl.SSLContext | None,
    *,
    method: str = "POST",
    to: str = SPDY_31,
    timeout: float = 10.0,
) -> tuple[Response, StreamTransport | None]:
    """``POST url`` asking to upgrade to ``to`` (SPDY/3.1); on 101 the connection as a
    transport.
    A server registered in :mod:`inprocess` for the URL's address is reached through it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    reader = chunks.ChunkReader(limit=_HIGH_WATER)
    protocol = asyncio.StreamReaderProtocol(reader)
    local = inprocess.lookup(host, port)
    if local is not None:
        transport: asyncio.Transport = await local(protocol)
    else:
        tls = ssl_context if parts.scheme == "https" else None
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: protocol, host, port, ssl=tls), timeout
        )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {hostport}",
                 "Connection: Upgrade", f"Upgrade: {to}", "Content-Length: 0"]  # fmt: skip
        items = headers.items() if isinstance(headers, Mapping) else headers
        lines += [f"{k}: {v}" for k, v in items]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        version_status = status_line.split(" ", 2)
        status = int(version_status[1])
        reason = version_status[2] if len(version_status) > 2 else ""
        resp_headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                resp_headers[k.strip().lower()] = v.strip()
        resp = Response(status, reason, resp_headers, b"")
        resp.raw_head = head
        if status == 101:
            return resp, StreamTransport(reader, writer)
        length = resp_headers.get("content-length")
        with contextlib.suppress(asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            if length is not None:
                resp.body = await asyncio.wait_for(reader.readexactly(int(length)), timeout)
            else:
                resp.body = await asyncio.wait_for(reader.read(65536), timeout)
        writer.close()
        return resp, None
    except BaseException:
        writer.close()
        raise


async def pipe(a: spdy.Transport, b: spdy.Transport) -> None:
    """Copy bytes both ways until either side ends, then close both."""

    async def copy(src: spdy.Transport, dst: spdy.Transport) -> None:
        while parts := await spdy.read_parts(src):
            await spdy.write_parts(dst, parts)

    tasks = [asyncio.create_task(copy(a, b)), asyncio.create_task(copy(b, a))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for side in (a, b):
            with contextlib.suppress(Exception):
                await side.close()

"""Servers that run in this process, reachable without a network hop.

When ``pyk8s server`` runs the kubelet in the API server's process, the API server's
streaming proxy (exec, attach, port-forward) need not encrypt every byte with TLS to decrypt
it again in the same process: the kubelet registers its address here, and a dialer that
finds it gets a :class:`PipeTransport` whose other end the kubelet's HTTP server serves as
an accepted connection (marked ``in_process`` in its extra info: only code in this process
can reach the registry, so the kubelet takes it for the API server, as it takes a client
certificate signed by the cluster CA). Upstream has no such shortcut because its components
never share a process; what is served and who may ask for it are the same either way (the
API server authorizes the request before it dials).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

Connector = Callable[[asyncio.Protocol], Awaitable[asyncio.Transport]]
"""Given the dialler's protocol, its transport (connected to the server)."""

_servers: dict[tuple[str, int], Connector] = {}

_HIGH = 4 * 1024 * 1024
_LOW = 1024 * 1024
_JOIN = 64 * 1024


def register(hosts: list[str], port: int, connect: Connector) -> Callable[[], None]:
    """Serve ``hosts``:``port`` through ``connect``; returns the function that unregisters."""
    keys = [(h, port) for h in hosts]
    for k in keys:
        _servers[k] = connect

    def unregister() -> None:
        for k in keys:
            if _servers.get(k) is connect:
                del _servers[k]

    return unregister


def lookup(host: str, port: int) -> Connector | None:
    return _servers.get((host.strip("[]"), port))


class PipeTransport(asyncio.Transport):
    """One end of an in-memory connection: what it writes is delivered to the other end's
    protocol (soon, in order, never from inside ``write``); flow control as a socket's, with
    the peer's undelivered bytes as this end's write buffer."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, protocol: asyncio.BaseProtocol, extra: dict[str, Any]
    ) -> None:
        super().__init__(extra)
        self._loop = loop
        self._protocol = protocol
        self.peer: PipeTransport | None = None
        self._inbox: collections.deque[bytes | None] = collections.deque()  # None: EOF
        self._inbox_size = 0
        self._scheduled = False
        self._reading = True
        self._closing = False
        self._lost = False
        self._writing_paused = False
        self._eof_sent = False
        self._high = _HIGH
        self._low = _LOW

    # -- asyncio.Transport

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def is_closing(self) -> bool:
        return self._closing

    def is_reading(self) -> bool:
        return self._reading and not self._closing

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if not self._reading:
            self._reading = True
            self._schedule()

    def get_write_buffer_size(self) -> int:
        return self.peer._inbox_size if self.peer is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = _HIGH if high is None else high
        self._low = self._high // 4 if low is None else low

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writelines((data,))

    def writelines(self, list_of_data: Any) -> None:
        """Small pieces joined into one chunk; large ones delivered as they are (``bytes``
        are not copied): a relay's frame header and 1 MiB payload arrive as two chunks, not
        one joined copy."""
        if self._closing:
            return
        peer = self.peer
        if peer is None or peer._lost:
            return
        pieces = list_of_data if isinstance(list_of_data, list | tuple) else list(list_of_data)
        if len(pieces) > 1 and sum(map(len, pieces)) <= _JOIN:
            pieces = [b"".join(pieces)]
        for data in pieces:
            if data:
                peer._put(data if type(data) is bytes else bytes(data))
        if not self._writing_paused and peer._inbox_size > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self.peer is not None and not self._eof_sent and not self.peer._lost:
            self._eof_sent = True
            self.peer._put(None)

    def close(self) -> None:
        if self._closing:
            return
        self.write_eof()
        self._closing = True
        self._loop.call_soon(self._lose)

    def abort(self) -> None:
        self.close()

    # -- internals

    def _lose(self) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._inbox.clear()
        self._inbox_size = 0
        self._protocol.connection_lost(None)
        peer = self.peer
        if peer is not None:
            peer._writer_drained()

    def _put(self, data: bytes | None) -> None:
        self._inbox.append(data)
        if data is not None:
            self._inbox_size += len(data)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and self._inbox:
            self._scheduled = True
            self._loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        self._scheduled = False
        protocol = self._protocol
        while self._inbox and self._reading and not self._lost:
            data = self._inbox.popleft()
            if data is None:
                keep_open = False
                if isinstance(protocol, asyncio.Protocol):
                    keep_open = bool(protocol.eof_received())
                if not keep_open:
                    self.close()
                continue
            self._inbox_size -= len(data)
            if isinstance(protocol, asyncio.Protocol):
                protocol.data_received(data)
        if self.peer is not None:
            self.peer._writer_drained()

    def _writer_drained(self) -> None:
        """Called by the peer as it takes our bytes: resume our writer below the low mark."""
        peer = self.peer
        size = peer._inbox_size if peer is not None and not peer._lost else 0
        if self._writing_paused and size <= self._low:
            self._writing_paused = False
            if not self._lost:
                self._protocol.resume_writing()


def pipe(
    loop: asyncio.AbstractEventLoop,
    client: asyncio.BaseProtocol,
    server: asyncio.BaseProtocol,
) -> tuple[PipeTransport, PipeTransport]:
    """A connected pair of transports; each protocol's ``connection_made`` is called. Both
    say ``in_process`` in their extra info (a socket's transport never does)."""
    extra = {"peername": ("in-process", 0), "in_process": True}
    a = PipeTransport(loop, client, dict(extra))
    b = PipeTransport(loop, server, dict(extra))
    a.peer, b.peer = b, a
    server.connection_made(b)
    client.connection_made(a)
    return a, b

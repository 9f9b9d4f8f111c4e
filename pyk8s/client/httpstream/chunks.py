"""A :class:`asyncio.StreamReader` that hands out received chunks as they came.

The stock reader copies every chunk into one buffer and copies it out again on ``read``;
a relay (port-forward's bytes, exec's output) reads whole chunks, so these two copies are
most of its own per-byte work. This reader keeps the chunks in a queue: ``read(n)`` returns
the next one (split only when it is longer than ``n``); ``readuntil``/``readexactly``/
``readline`` join what they need; ``read_chunks`` hands out every waiting chunk at once.
Flow control as the stock reader's: reading pauses when more than twice ``limit`` bytes wait.
"""

from __future__ import annotations

import asyncio
import collections
from typing import cast


class ChunkReader(asyncio.StreamReader):
    def __init__(self, limit: int = 2**16) -> None:
        super().__init__(limit=limit)
        self._max = limit
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._ended = False
        self._error: BaseException | None = None
        self._waiting: asyncio.Future[None] | None = None
        self._source: asyncio.ReadTransport | None = None
        self._source_paused = False

    # -- fed by the protocol

    def set_transport(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio's classes
        self._source = cast(asyncio.ReadTransport, transport)

    def feed_data(self, data: bytes) -> None:  # type: ignore[override]
        if not data:
            return
        self._chunks.append(bytes(data))
        self._size += len(data)
        self._wake()
        source = self._source
        if source is not None and not self._source_paused and self._size > 2 * self._max:
            try:
                source.pause_reading()
                self._source_paused = True
            except NotImplementedError:
                self._source = None

    def feed_eof(self) -> None:
        self._ended = True
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        self._error = exc
        waiter = self._waiting
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._waiting = None

    def exception(self) -> BaseException | None:  # type: ignore[override]
        return self._error

    def at_eof(self) -> bool:
        return self._ended and not self._chunks

    # -- reading

    def _wake(self) -> None:
        waiter = self._waiting
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._waiting = None

    async def _wait(self) -> None:
        if self._waiting is not None:
            raise RuntimeError("another coroutine is already waiting for incoming data")
        if self._source_paused and self._source is not None:
            self._source_paused = False
            self._source.resume_reading()
        self._waiting = asyncio.get_running_loop().create_future()
        try:
            await self._waiting
        finally:
            self._waiting = None

    def _took(self, n: int) -> None:
        self._size -= n
        if self._source_paused and self._size <= self._max and self._source is not None:
            self._source_paused = False
            self._source.resume_reading()

    async def read(self, n: int = -1) -> bytes:
        if self._error is not None:
            raise self._error
        if n == 0:
            return b""
        if n < 0:
            parts = []
            while block := await self.read(1 << 20):
                parts.append(block)
            return b"".join(parts)
        while not self._chunks and not self._ended:
            await self._wait()
            if self._error is not None:
                raise self._error
        if not self._chunks:
            return b""
        chunk = self._chunks.popleft()
        if len(chunk) > n:
            self._chunks.appendleft(chunk[n:])
            chunk = chunk[:n]
        self._took(len(chunk))
        return chunk

    async def read_chunks(self, limit: int) -> list[bytes]:
        """Every chunk already received, in order, up to ``limit`` bytes in all (at least one;
        one longer than ``limit`` is split); ``[]`` at EOF. A relay writes them with one
        ``writelines``: one write per batch, none of them copied."""
        if self._error is not None:
            raise self._error
        while not self._chunks and not self._ended:
            await self._wait()
            if self._error is not None:
                raise self._error
        out: list[bytes] = []
        size = 0
        chunks = self._chunks
        while chunks and size + len(chunks[0]) <= limit:
            chunk = chunks.popleft()
            out.append(chunk)
            size += len(chunk)
        if not out and chunks:
            chunk = chunks[0]
            chunks[0] = chunk[limit:]
            out.append(chunk[:limit])
            size = limit
        self._took(size)
        return out

    def _join(self) -> bytes:
        if len(self._chunks) > 1:
            joined = b"".join(self._chunks)
            self._chunks.clear()
            self._chunks.append(joined)
        return self._chunks[0] if self._chunks else b""

    async def readuntil(self, separator: bytes = b"\n") -> bytes:  # type: ignore[override]
        start = 0
        while True:
            buf = self._join()
            at = buf.find(separator, start)
            if at >= 0:
                end = at + len(separator)
                self._chunks[0] = buf[end:]
                if not self._chunks[0]:
                    self._chunks.popleft()
                self._took(end)
                return buf[:end]
            if len(buf) > self._max:
                raise asyncio.LimitOverrunError("separator is not found, chunk too long", len(buf))
            if self._ended:
                self._chunks.clear()
                self._took(len(buf))
                raise asyncio.IncompleteReadError(buf, None)
            start = max(0, len(buf) - len(separator) + 1)
            await self._wait()
            if self._error is not None:
                raise self._error

    async def readline(self) -> bytes:
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            return e.partial

    async def readexactly(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        while self._size < n:
            if self._ended:
                partial = self._join()
                self._chunks.clear()
                self._took(len(partial))
                raise asyncio.IncompleteReadError(partial, n)
            await self._wait()
            if self._error is not None:
                raise self._error
        if n == 0:
            return b""
        buf = self._chunks[0] if len(self._chunks[0]) >= n else self._join()
        self._chunks[0] = buf[n:]
        if not self._chunks[0]:
            self._chunks.popleft()
        self._took(n)
        return buf[:n]

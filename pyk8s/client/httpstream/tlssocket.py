"""Writes of an upgraded TLS connection made straight into its socket.

A port-forward or exec stream keeps the client's connection after the upgrade, and every
byte sent on it went through the event loop's TLS layer (uvloop's, as asyncio's): OpenSSL
encrypts into a memory BIO (zero-filled, then copied in), the loop copies the BIO out into a
``bytes`` object and writes that to the socket. For a forwarded download those two copies and
the zero-fill were about a seventh of the server's CPU per byte. :class:`SocketWriter` gives
the connection's ``SSL`` object a socket BIO on a duplicate of the connection's descriptor
while the stream lasts, so records go from OpenSSL to the kernel (corked while a batch goes
out: OpenSSL writes record by record), and puts the memory BIO back when the stream ends (the
loop's TLS layer then closes the connection as ever). Reading stays with the loop's TLS
layer, and every ``SSL`` call stays on the loop's thread.

WARNING: CPython has no API for this. The ``SSL *`` is read right after the object header
and socket reference of the ``_ssl._SSLSocket`` behind the ``ssl.SSLObject``.
:meth:`SocketWriter.attach` goes ahead only when the libssl loaded is the one ``ssl`` reports,
the ``SSL_CTX`` that pointer names is the context's own, its write BIO is a memory BIO, and
uvloop's buffers hold nothing (found through the garbage collector's view of its objects);
otherwise it returns ``None`` and the caller writes through the transport as before.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import functools
import gc
import logging
import socket
import ssl
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

BIO_NOCLOSE = 0
BIO_TYPE_MEM = 1 | 0x0400
HIGH_WATER = 4 * 1024 * 1024
RECORD = 16 * 1024
"""A TLS record's most plaintext (OpenSSL's default ``max_send_fragment``)."""


@functools.cache
def libssl() -> ctypes.CDLL | None:
    """The libssl the ``ssl`` module uses (``None`` when it cannot be told for sure)."""
    if not sys.platform.startswith("linux") or not _known_layout():
        return None
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libssl.so" in line}
    except OSError:
        return None
    if len(paths) != 1:
        return None
    lib = ctypes.CDLL(paths.pop())
    try:
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        if lib.OpenSSL_version_num() != ssl.OPENSSL_VERSION_NUMBER:
            return None
        for name, res, args in (
            ("SSL_get_SSL_CTX", ctypes.c_void_p, [ctypes.c_void_p]),
            ("SSL_get_wbio", ctypes.c_void_p, [ctypes.c_void_p]),
            ("SSL_set0_wbio", None, [ctypes.c_void_p, ctypes.c_void_p]),
            ("BIO_new_socket", ctypes.c_void_p, [ctypes.c_int, ctypes.c_int]),
            ("BIO_method_type", ctypes.c_int, [ctypes.c_void_p]),
            ("BIO_up_ref", ctypes.c_int, [ctypes.c_void_p]),
        ):
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
    except AttributeError:
        return None
    return lib


def _known_layout() -> bool:
    """CPython releases whose ``_ssl`` objects keep the pointers where this module reads them
    (a release build: a debug build's object header is longer)."""
    return (
        sys.implementation.name == "cpython"
        and (3, 10) <= sys.version_info[:2] <= (3, 13)
        and not hasattr(sys, "gettotalrefcount")
    )


def _pointer_after_header(obj: object, extra: int = 0) -> int:
    header = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
    return ctypes.c_void_p.from_address(id(obj) + header + extra).value or 0


def ssl_ctx_pointer(ctx: ssl.SSLContext) -> int:
    """The ``SSL_CTX *`` of a context (CPython keeps it right after the object header)."""
    return _pointer_after_header(ctx)


def _ssl_pointer(sslobj: ssl.SSLObject) -> int:
    inner = getattr(sslobj, "_sslobj", None)
    if inner is None:
        return 0
    return _pointer_after_header(inner, ctypes.sizeof(ctypes.c_void_p))


def _loop_buffers_empty(transport: asyncio.BaseTransport) -> bool:
    """uvloop's TLS transport and the socket transport below it hold no unsent bytes."""
    size = getattr(transport, "get_write_buffer_size", None)
    if size is None or size() != 0:
        return False
    below = [
        o
        for p in gc.get_referents(transport)
        if type(p).__name__ == "SSLProtocol" and type(p).__module__ == "uvloop.loop"
        for o in gc.get_referents(p)
        if type(o).__name__ == "TCPTransport"
    ]
    return len(below) == 1 and below[0].get_write_buffer_size() == 0


def records(parts: Sequence[bytes | bytearray | memoryview]) -> list[bytes | memoryview]:
    """``parts`` as buffers for ``SSL_write``, each but the last a whole number of full
    records: the long stretches of large parts as they are (not copied), what falls between
    them (a frame's headers, a part's last partial record, the next one's start) joined into
    one record's worth. Written one by one, small parts would each be a TLS record, a write
    and a wake-up of the reader of their own."""
    out: list[bytes | memoryview] = []
    pending: list[bytes | bytearray | memoryview] = []
    size = 0
    for part in parts:
        if size + len(part) < RECORD:
            if len(part):
                pending.append(part)
                size += len(part)
            continue
        view = memoryview(part).cast("B")
        if pending:
            cut = RECORD - size
            pending.append(view[:cut])
            out.append(b"".join(pending))
            view = view[cut:]
            pending, size = [], 0
        whole = len(view) - len(view) % RECORD
        if whole:
            out.append(view[:whole])
        if whole < len(view):
            pending, size = [view[whole:]], len(view) - whole
    if pending:
        out.append(b"".join(pending))
    return out


class SocketWriter:
    """Encrypts and sends an upgraded connection's bytes itself (see the module's text).

    ``write``/``writelines`` queue and send what the socket takes at once, the rest as the
    socket drains; ``drain`` waits while more than :data:`HIGH_WATER` bytes wait. ``detach``
    gives the connection back to the loop's TLS layer (after sending what is queued)."""

    def __init__(
        self,
        transport: asyncio.BaseTransport,
        sslobj: ssl.SSLObject,
        ssl_ptr: int,
        sock: socket.socket,
    ) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._sslobj = sslobj  # keeps the SSL object alive until detach
        self._ssl = ssl_ptr
        self._sock = sock
        self._old_wbio = 0
        self._queue: collections.deque[Any] = collections.deque()
        self._size = 0
        self._watching = False
        self._waiters: list[asyncio.Future[None]] = []
        self.error: BaseException | None = None
        self.detached = False

    @classmethod
    def attach(cls, transport: asyncio.BaseTransport | None) -> SocketWriter | None:
        """Take over ``transport``'s writes, or ``None`` where that cannot be done safely."""
        if transport is None or transport.is_closing():
            return None
        lib = libssl()
        sslobj = transport.get_extra_info("ssl_object")
        sock = transport.get_extra_info("socket")
        if lib is None or not isinstance(sslobj, ssl.SSLObject) or sock is None:
            return None
        ptr = _ssl_pointer(sslobj)
        if not ptr or lib.SSL_get_SSL_CTX(ptr) != ssl_ctx_pointer(sslobj.context):
            return None
        wbio = lib.SSL_get_wbio(ptr)
        if not wbio or lib.BIO_method_type(wbio) != BIO_TYPE_MEM:
            return None
        if not _loop_buffers_empty(transport):
            return None
        own = socket.socket(fileno=socket.dup(sock.fileno()))
        own.setblocking(False)
        bio = lib.BIO_new_socket(own.fileno(), BIO_NOCLOSE)
        if not bio:
            own.close()
            return None
        writer = cls(transport, sslobj, ptr, own)
        lib.BIO_up_ref(wbio)  # ours to give back: SSL_set0_wbio drops the SSL's reference
        writer._old_wbio = wbio
        lib.SSL_set0_wbio(ptr, bio)
        return writer

    # -- writing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.detached or self.error is not None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writelines((data,))

    def writelines(self, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        """``parts`` in order, as :func:`records` cuts them."""
        if self.is_closing():
            return
        for data in records(parts):
            self._queue.append(data)
            self._size += len(data)
        self._send()

    def _send(self) -> None:
        # OpenSSL writes each 16 KiB record with a write of its own; corked, the kernel
        # sends them in full-sized segments (a fourth of the packets, and of the reader's
        # wake-ups, on loopback), uncorked as soon as this batch is out.
        cork = self._size > RECORD
        if cork:
            self._cork(1)
        try:
            self._send_queue()
        finally:
            if cork:
                self._cork(0)

    def _cork(self, on: int) -> None:
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, on)

    def _send_queue(self) -> None:
        queue = self._queue
        while queue:
            data = queue[0]
            try:
                # An SSL_write cut short by a full socket must be repeated with the same
                # buffer: it stays first in the queue until it went out whole.
                self._sslobj.write(data)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                self._watch(True)
                return
            except (ssl.SSLError, OSError) as e:
                self._fail(e)
                return
            queue.popleft()
            self._size -= len(data)
        self._watch(False)
        self._wake()

    def _watch(self, on: bool) -> None:
        if on and not self._watching:
            self._loop.add_writer(self._sock.fileno(), self._send)
            self._watching = True
        elif not on and self._watching:
            self._loop.remove_writer(self._sock.fileno())
            self._watching = False

    def _fail(self, e: BaseException) -> None:
        self.error = e
        self._queue.clear()
        self._size = 0
        self._watch(False)
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def get_write_buffer_size(self) -> int:
        return self._size

    async def drain(self, below: int = HIGH_WATER) -> None:
        while self._size > below and self.error is None:
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await waiter
        if self.error is not None:
            raise ConnectionResetError(f"connection lost: {self.error}")

    # -- giving the connection back

    async def detach(self, timeout: float = 5.0) -> bool:
        """Send what is queued (for at most ``timeout`` seconds), then give the connection
        back to the loop's TLS layer. ``False`` when bytes were left unsent: the caller
        must abort the connection (its TLS stream is cut in the middle of a record)."""
        if not self.detached and self.error is None and self._queue:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.drain(0), timeout)
        return self.detach_now()

    def detach_now(self) -> bool:
        """:meth:`detach` without waiting (the connection's handler is over)."""
        if self.detached:
            return True
        self.detached = True
        complete = not self._queue and self.error is None
        self._queue.clear()
        self._size = 0
        self._watch(False)
        self._wake()
        lib = libssl()
        if lib is not None:
            lib.SSL_set0_wbio(self._ssl, self._old_wbio)  # frees the socket BIO
        self._sock.close()
        return complete

"""Connections into a pod's network namespace, for ``kubectl port-forward``.

The CRI's ``PortForward``: containerd (``internal/cri/server/sandbox_portforward_linux.go``)
enters the sandbox's network namespace and dials ``localhost:<port>``. A network namespace
belongs to a thread, so we do the same from a thread of our own: ``setns`` into the pod's
namespace, connect, and ``setns`` back. The socket stays
in the namespace it was created in.

What the pod sends is read by a thread of its own too (:class:`_PodReader`): a blocking
``recv`` of up to a MiB straight into the chunk handed on (no copy out of a loop's buffer),
beside the event loop, which frames and encrypts it for the client on the other core.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import threading
from typing import cast

from pyk8s.client.httpstream import chunks

CLONE_NEWNET = 0x40000000
_RECV = 1024 * 1024  # nginx fills it: a fourth of the per-chunk work of 256 KiB
_IDLE = 1.0  # how often a reading thread looks whether its connection was closed


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _go_error(e: OSError) -> str:
    """Go's text for a failed connect: ``connect: connection refused``."""
    if isinstance(e, TimeoutError):
        return "i/o timeout"
    text = os.strerror(e.errno) if e.errno else str(e)
    return "connect: " + text[:1].lower() + text[1:]


def _dial(port: int, timeout: float) -> socket.socket:
    """containerd's order: IPv4 localhost first, then IPv6 (Go's Happy Eyeballs would dial
    from another thread, outside the namespace)."""
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e4:
        err4 = f"dial tcp4 127.0.0.1:{port}: {_go_error(e4)}"
        try:
            return socket.create_connection(("::1", port), timeout=timeout)
        except OSError as e6:
            err6 = f"dial tcp6 [::1]:{port}: {_go_error(e6)}"
            raise DialError(f"IPv4: {err4} IPv6 {err6} ") from e6


class DialError(OSError):
    pass


def connect_in_netns(netns_path: str, port: int, timeout: float) -> socket.socket:
    """Blocking: a TCP connection to ``localhost:port`` inside ``netns_path`` ("" = host)."""
    if not netns_path:
        return _dial(port, timeout)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            return _dial(port, timeout)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


async def open_connection(
    netns_path: str, port: int, timeout: float = 10.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    # A thread of its own, not the shared pool: a thread that could not switch back to the
    # host's namespace must never run anyone else's work.
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def deliver(result: socket.socket | BaseException) -> None:
        if done.cancelled():
            if isinstance(result, socket.socket):
                result.close()
        elif isinstance(result, BaseException):
            done.set_exception(result)
        else:
            done.set_result(result)

    def work() -> None:
        result: socket.socket | BaseException
        try:
            result = connect_in_netns(netns_path, port, timeout)
        except BaseException as e:
            result = e
        loop.call_soon_threadsafe(deliver, result)

    threading.Thread(target=work, name=f"port-forward-{port}", daemon=True).start()
    sock = await done
    sock.setblocking(False)
    # the chunks as received, not copied twice (the relay reads them whole); up to 2 MiB
    # wait before the reading thread pauses
    reader = chunks.ChunkReader(limit=1 << 20)
    protocol = _Protocol(reader)
    try:
        transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
        protocol.start_reading(transport, sock)
    except BaseException:
        sock.close()
        raise
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class _PodReader:
    """Reads a connected socket in a thread and feeds a :class:`chunks.ChunkReader` on the
    loop (as its transport: the reader's flow control pauses and resumes the thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self._loop = loop
        # A socket object of its own (the loop's transport owns the other); a timeout keeps
        # the shared descriptor non-blocking, as the loop needs it.
        self._sock = sock.dup()
        self._sock.settimeout(_IDLE)
        self._may_read = threading.Event()
        self._may_read.set()
        self._stopped = False

    def start(self, reader: chunks.ChunkReader) -> None:
        threading.Thread(target=self._run, args=(reader,), name="port-forward-read",
                         daemon=True).start()  # fmt: skip

    def pause_reading(self) -> None:
        self._may_read.clear()

    def resume_reading(self) -> None:
        self._may_read.set()

    def stop(self) -> None:
        """The connection was closed: the thread ends (``shutdown`` wakes its ``recv``)."""
        self._stopped = True
        self._may_read.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _run(self, reader: chunks.ChunkReader) -> None:
        deliver = self._loop.call_soon_threadsafe
        try:
            while not self._stopped:
                if not self._may_read.wait(_IDLE):
                    continue
                try:
                    data = self._sock.recv(_RECV)
                except TimeoutError:
                    continue
                except OSError as e:
                    if not self._stopped:
                        deliver(reader.set_exception, e)
                    return
                if not data:
                    break
                deliver(reader.feed_data, data)
            if not self._stopped:
                deliver(reader.feed_eof)
        except RuntimeError:  # the loop is closed: nobody is left to read
            pass
        finally:
            self._sock.close()


class _Protocol(asyncio.StreamReaderProtocol):
    """The loop's side of a pod connection: writes, and its end; reads come from a
    :class:`_PodReader`."""

    def __init__(self, reader: chunks.ChunkReader) -> None:
        super().__init__(reader)
        self._chunks = reader
        self._pod_reader: _PodReader | None = None

    def start_reading(self, transport: asyncio.BaseTransport, sock: socket.socket) -> None:
        cast(asyncio.ReadTransport, transport).pause_reading()
        self._pod_reader = _PodReader(asyncio.get_running_loop(), sock)
        self._chunks.set_transport(cast(asyncio.BaseTransport, self._pod_reader))
        self._pod_reader.start(self._chunks)

    def data_received(self, data: bytes) -> None:  # only before start_reading
        self._chunks.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._pod_reader is not None:
            self._pod_reader.stop()
        super().connection_lost(exc)

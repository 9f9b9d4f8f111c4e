"""Connections into a pod's network namespace, for ``kubectl port-forward``.

The CRI's ``PortForward``: containerd (``internal/cri/server/sandbox_portforward_linux.go``)
enters the sandbox's network namespace and dials ``localhost:<port>``. A network namespace
belongs to a thread, so we do the same from a thread of our own: ``setns`` into the pod's
namespace, connect, and ``setns`` back. The socket stays
in the namespace it was created in.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading

from pyk8s.client.httpstream import chunks

CLONE_NEWNET = 0x40000000


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
    # a large buffer: a forwarded download should not stall the socket every 128 KiB; the
    # chunks as received, not copied twice (the relay reads them whole)
    reader = chunks.ChunkReader(limit=1 << 20)
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
    except BaseException:
        sock.close()
        raise
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

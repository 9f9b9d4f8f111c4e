"""An upgraded TLS connection written straight into its socket (``tlssocket``), on uvloop
as ``pyk8s server`` runs, against a blocking TLS client: every byte arrives in order, a
reader slower than the writer (a full socket, retried writes) loses nothing, the client's
bytes still arrive through the loop, the connection closes with TLS' close_notify, and no
descriptor is left behind. On asyncio's own loop nothing is taken over."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvloop
from aiohttp import web

from pyk8s.apiserver import pki
from pyk8s.apiserver.server import tls_context
from pyk8s.client.httpstream import tlssocket, upgrade

MIB = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BLOCKS = 24


def _block(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (MIB // 32)


def _client(port: int, ca: Path, slow: bool, out: dict[str, object]) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        with ctx.wrap_socket(raw) as tls:
            tls.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                        b"Upgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n")  # fmt: skip
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += tls.recv(65536)
            head, body = buf.split(b"\r\n\r\n", 1)
            out["status"] = head.split(b" ", 2)[1]
            digest = hashlib.sha256()
            got = len(body)
            digest.update(body)
            want = BLOCKS * (MIB + 3)
            while got < want:
                data = tls.recv(min(65536, want - got))
                if not data:
                    break
                got += len(data)
                digest.update(data)
                if slow and got < 8 * MIB:
                    time.sleep(0.002)
            out["digest"] = digest.hexdigest()
            tls.sendall(b"done")
            out["eof"] = tls.recv(10)  # b"" after the server's close_notify


@contextlib.asynccontextmanager
async def _serving(
    method: str, path: str, handler: Handler, server_ctx: ssl.SSLContext
) -> AsyncIterator[int]:
    """``handler`` served over TLS on a loopback port (yielded) while the block runs."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def _scenario(
    bundle: pki.Bundle, server_ctx: ssl.SSLContext, slow: bool
) -> dict[str, object]:
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        resp, conn = await upgrade.accept(request, {})
        for i in range(BLOCKS):
            await conn.writelines([b"h", b"dr", _block(i)])  # small headers, then a MiB
        seen["writer"] = request.get(upgrade._WRITER)
        seen["echo"] = await conn.read()
        await conn.close()
        return resp

    out: dict[str, object] = {}
    async with _serving("POST", "/up", handler, server_ctx) as port:
        client = threading.Thread(target=_client, args=(port, bundle.ca.cert_path, slow, out))
        client.start()
        await asyncio.to_thread(client.join, 60)
    return {**out, **seen}


def _run(
    tmp: Path,
    slow: bool,
    run: Callable[[Coroutine[Any, Any, dict[str, object]]], dict[str, object]],
) -> dict[str, object]:
    bundle = pki.ensure(tmp / "pki", service_ip="10.43.0.1")
    return run(_scenario(bundle, tls_context(bundle), slow))


def _expected() -> str:
    digest = hashlib.sha256()
    for i in range(BLOCKS):
        digest.update(b"hdr" + _block(i))
    return digest.hexdigest()


def _sockets() -> list[str]:
    """This process' open sockets (uvloop's first loop leaves a pipe of its own open)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.append(target)
    return sorted(out)


@pytest.mark.parametrize("slow", [False, True], ids=["fast-reader", "slow-reader"])
def test_written_straight_into_the_socket_on_uvloop(tmp_path: Path, slow: bool) -> None:
    if tlssocket.libssl() is None:
        pytest.skip("libssl as the ssl module loads it could not be found")
    before = _sockets()
    out = _run(tmp_path, slow, uvloop.run)
    assert out["status"] == b"101"
    assert isinstance(out["writer"], tlssocket.SocketWriter)
    assert out["digest"] == _expected()
    assert out["echo"] == b"done"
    assert out["eof"] == b""
    assert out["writer"].detached
    assert _sockets() == before


def test_asyncios_own_loop_is_written_as_before(tmp_path: Path) -> None:
    out = _run(tmp_path, False, asyncio.run)
    assert out["writer"] is None
    assert out["digest"] == _expected()
    assert out["eof"] == b""


@pytest.mark.parametrize(
    "sizes",
    [
        [10, 8, 4 * MIB],  # a WebSocket message of one SPDY frame
        [10, 8, MIB, 8, MIB, 8, 1000],  # several frames in one message
        [3, 5, 7],
        [tlssocket.RECORD, 1, tlssocket.RECORD - 1, 2 * tlssocket.RECORD + 5, 0, 9],
        [MIB + 1],
    ],
)
def test_records_are_full_but_the_last_and_large_parts_are_not_copied(sizes: list[int]) -> None:
    parts = [os.urandom(n) for n in sizes]
    out = tlssocket.records(parts)
    assert b"".join(bytes(b) for b in out) == b"".join(parts)
    assert all(len(b) % tlssocket.RECORD == 0 for b in out[:-1])
    copied = sum(len(b) for b in out if isinstance(b, bytes))
    assert copied <= (2 * len(parts) + 1) * tlssocket.RECORD


async def _websocket_scenario(
    bundle: pki.Bundle, server_ctx: ssl.SSLContext, stall: bool
) -> dict[str, object]:
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = upgrade.WebSocketTransport(ws, request)
        # read while writing, as a relay does: the client's ping is answered meanwhile
        echo = asyncio.create_task(conn.read())
        for i in range(BLOCKS):
            await conn.writelines([b"hdr", _block(i)])
        seen["writer"] = request.get(upgrade._WRITER)
        seen["echo"] = await echo
        await conn.close()
        return ws

    client_ctx = ssl.create_default_context(cafile=str(bundle.ca.cert_path))
    client_ctx.check_hostname = False
    digest = hashlib.sha256()
    async with (
        _serving("GET", "/ws", handler, server_ctx) as port,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"wss://127.0.0.1:{port}/ws", ssl=client_ctx, max_msg_size=0) as ws,
    ):
        if stall:
            # The server's writes wait on a full socket when this ping arrives: aiohttp's
            # pong must queue behind them, not cut into the pending TLS write.
            await asyncio.sleep(0.5)
            await ws.ping(b"are you stuck?")
        got = 0
        while got < BLOCKS * (MIB + 3):
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            digest.update(msg.data)
            got += len(msg.data)
        await ws.ping(b"still there?")
        await ws.send_bytes(b"done")
        closing = await ws.receive()
        seen["client_close"] = (closing.type, ws.close_code)
    return {**seen, "digest": digest.hexdigest()}


@pytest.mark.parametrize("stall", [False, True], ids=["reading", "stalled-then-ping"])
def test_websocket_frames_of_aiohttp_follow_the_socket_writer(tmp_path: Path, stall: bool) -> None:
    if tlssocket.libssl() is None:
        pytest.skip("libssl as the ssl module loads it could not be found")
    bundle = pki.ensure(tmp_path / "pki", service_ip="10.43.0.1")
    before = _sockets()
    out = uvloop.run(_websocket_scenario(bundle, tls_context(bundle), stall))
    assert isinstance(out["writer"], tlssocket.SocketWriter)
    assert out["writer"].detached
    assert out["digest"] == _expected()
    assert out["echo"] == b"done"
    assert out["client_close"] == (aiohttp.WSMsgType.CLOSE, 1000)
    assert _sockets() == before

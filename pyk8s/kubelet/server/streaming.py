"""``exec`` and ``attach`` over WebSocket with the ``channel.k8s.io`` framing.

Mirrors ``pkg/kubelet/cri/streaming/remotecommand`` (``ServeExec``, ``ServeAttach``) with the
WebSocket transport of ``k8s.io/apimachinery/pkg/util/httpstream/wsstream`` and
``staging/src/k8s.io/apiserver/pkg/util/remotecommand`` (``v4.channel.k8s.io``,
``v5.channel.k8s.io``): every binary message starts with its channel byte - 0 stdin,
1 stdout, 2 stderr, 3 the final ``Status`` (JSON), 4 terminal resize (``{"Width", "Height"}``);
v5 adds 255, "close this channel" (kubectl's stdin EOF). Upstream the kubelet speaks v4 and
the API server's ``StreamTranslatorHandler`` (``apiserver/pkg/util/proxy``) serves v5 over
SPDY to it; so under v5 the final ``Status`` is the translator's (the exit code reported
anew, a kubelet InternalError wrapped in one more). ``v4.base64.channel.k8s.io`` (for
clients that can only send text, such as browsers) carries the same in text messages: the
channel as an ASCII digit, then the data in base64. Clients that ask for SPDY (kubectl
before 1.30, or with ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``) get ``httpstream.go``'s
protocol ``v4.channel.k8s.io``: one SPDY stream per channel, named by its ``streamType``
header, the resize stream carrying concatenated JSON sizes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from pyk8s.client.httpstream import spdy, upgrade
from pyk8s.kubelet.runtime.interface import ExecSession
from pyk8s.kubelet.runtime.sessions import ExecStartError

BASE64 = "v4.base64.channel.k8s.io"
V5 = "v5.channel.k8s.io"
PROTOCOLS = (V5, "v4.channel.k8s.io", BASE64)
# Over SPDY v4 is the newest (its error stream carries a JSON Status, as v5's channel does).
SPDY_PROTOCOLS = ("v4.channel.k8s.io",)
SPDY_STREAM_TIMEOUT = 30.0
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def payload(msg: aiohttp.WSMessage) -> bytes:
    """A message's bytes: binary, or text (wsstream reads both alike; the Python client
    writes stdin as text)."""
    if msg.type == aiohttp.WSMsgType.BINARY:
        return bytes(msg.data)
    if msg.type == aiohttp.WSMsgType.TEXT:
        return str(msg.data).encode()
    return b""


def _truthy(value: str | None) -> bool:
    return value in ("1", "true", "True")


def status(exit_code: int, command: list[str], *, translated: bool = False) -> dict[str, Any]:
    """The ``Status`` written on the error channel when the process ends: ``ServeExec``'s
    around containerd's ``error executing command [argv], exit code N`` (Go prints a
    ``[]string`` as ``[a b c]``); under v5 what the API server's ``StreamTranslatorHandler``
    writes (it reads the kubelet's status through SPDY and reports the exit code anew)."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    cause = (
        f"command terminated with exit code {exit_code}"
        if translated
        else f"error executing command [{' '.join(command)}], exit code {exit_code}"
    )
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {cause}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def internal_error(message: str, *, translated: bool = False) -> dict[str, Any]:
    """``apierrors.NewInternalError``: what ``ServeExec``/``ServeAttach`` write when the
    session fails for another reason than the command's exit. Under v5 the translator
    wraps the kubelet's message once more (so kubectl 1.30+ prints "Internal error
    occurred: Internal error occurred: ...", as against a real cluster)."""
    if translated:
        message = f"Internal error occurred: {message}"
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


class Channels:
    """wsstream's codecs: a channel byte then the data (binary), or under
    ``v4.base64.channel.k8s.io`` a text message of the channel as an ASCII digit then the
    data in base64."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.base64 = ws.ws_protocol == BASE64

    async def send(self, channel: int, data: bytes) -> None:
        if self.base64:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes([channel]) + data)

    def decode(self, msg: aiohttp.WSMessage) -> tuple[int, bytes] | None:
        """A message's channel and data; None for one that carries neither."""
        raw = payload(msg)
        if not raw:
            return None
        if not self.base64:
            return raw[0], raw[1:]
        try:
            return raw[0] - ord("0"), base64.b64decode(raw[1:], validate=True)
        except (binascii.Error, ValueError):
            return None


class _WebSocketIO:
    """The channels as WebSocket messages (see :class:`Channels`)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.channels = Channels(ws)

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send(self, channel: int, data: bytes) -> None:
        await self.channels.send(channel, data)

    async def receive(self, deliver: Any) -> None:
        async for msg in self.ws:
            got = self.channels.decode(msg)
            if got is not None:
                await deliver(*got)

    async def close(self) -> None:
        await self.ws.close()


class _SpdyIO:
    """The channels as SPDY streams (``streamType`` error, stdin, stdout, stderr, resize)."""

    KINDS = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}

    def __init__(self, conn: spdy.Connection, streams: dict[int, spdy.Stream]) -> None:
        self.conn = conn
        self.streams = streams

    @property
    def closed(self) -> bool:
        return self.conn.closed.is_set()

    async def send(self, channel: int, data: bytes) -> None:
        stream = self.streams.get(channel)
        if stream is not None:
            await stream.write(data)

    async def receive(self, deliver: Any) -> None:
        async def one(channel: int, stream: spdy.Stream) -> None:
            decoder = _JsonStream() if channel == RESIZE else None
            while data := await stream.read():
                if decoder is None:
                    await deliver(channel, data)
                else:
                    for obj in decoder.feed(data):
                        await deliver(RESIZE, obj)
            if channel == STDIN:
                await deliver(CLOSE, bytes([STDIN]))

        readers = [one(c, s) for c, s in self.streams.items() if c in (STDIN, RESIZE)]
        closed = asyncio.ensure_future(self.conn.closed.wait())
        try:
            await asyncio.gather(*readers)
            await closed  # inbound ends when the client goes away
        finally:
            closed.cancel()

    async def close(self) -> None:
        for stream in self.streams.values():
            stream.abandon()
            with contextlib.suppress(Exception):
                await stream.close()
        await self.conn.close()


class _JsonStream:
    """Concatenated JSON objects (the resize stream, read by Go's json.Decoder)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        depth, start = 0, 0
        for i, ch in enumerate(self._buf):
            if ch == ord("{"):
                if depth == 0:
                    start = i
                depth += 1
            elif ch == ord("}"):
                depth -= 1
                if depth == 0:
                    out.append(self._buf[start : i + 1])
                    last = i + 1
        if out:
            self._buf = self._buf[last:]
        return out


async def serve(
    request: web.Request, start: Any, command: list[str], *, attach: bool = False
) -> web.StreamResponse:
    """Upgrade (WebSocket, or SPDY as kubectl before 1.30 asks), start the session
    (``await start(stdin, tty)``), pump, report the exit. An attach reports Success whatever
    the container's exit code (``ServeAttach``: the client learns it from the pod's status)."""
    q = request.query
    want_stdin, tty = _truthy(q.get("stdin")), _truthy(q.get("tty"))
    io: _WebSocketIO | _SpdyIO
    resp: web.StreamResponse
    if upgrade.is_spdy_upgrade(request) and not upgrade.is_websocket(request):
        offered = upgrade.client_protocols(request)
        chosen = upgrade.negotiate(offered, SPDY_PROTOCOLS)
        if not chosen:
            return web.Response(
                status=403 if offered else 400,
                headers={upgrade.HEADER_ACCEPTED_PROTOCOL_VERSIONS: ", ".join(SPDY_PROTOCOLS)},
                text="unable to upgrade: unable to negotiate protocol: client supports "
                f"{offered}, server accepts {list(SPDY_PROTOCOLS)}\n",
            )
        resp, transport = await upgrade.accept(request, {upgrade.HEADER_PROTOCOL_VERSION: chosen})
        conn = spdy.Connection(transport)
        expected = {ERROR} | ({STDIN} if want_stdin else set())
        expected |= {STDOUT} if _truthy(q.get("stdout", "1")) else set()
        expected |= {STDERR} if _truthy(q.get("stderr", "1")) and not tty else set()
        expected |= {RESIZE} if tty else set()
        streams: dict[int, spdy.Stream] = {}
        ready = asyncio.Event()

        def on_stream(stream: spdy.Stream) -> str | None:
            channel = _SpdyIO.KINDS.get(stream.header("streamType"))
            if channel is None:
                return f"unexpected stream type: {stream.header('streamType')!r}"
            streams[channel] = stream
            if expected <= streams.keys():
                ready.set()
            return None

        run = asyncio.create_task(conn.run(on_stream))
        io = _SpdyIO(conn, streams)
        try:
            await asyncio.wait_for(ready.wait(), SPDY_STREAM_TIMEOUT)
        except TimeoutError:
            await io.close()
            run.cancel()
            return resp
        await _session(io, start, want_stdin, tty, command, attach)
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        return resp
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    await ws.prepare(request)
    await _session(_WebSocketIO(ws), start, want_stdin, tty, command, attach)
    return ws


async def _session(
    io: _WebSocketIO | _SpdyIO,
    start: Any,
    want_stdin: bool,
    tty: bool,
    command: list[str],
    attach: bool,
) -> None:
    translated = isinstance(io, _WebSocketIO) and io.ws.ws_protocol == V5
    # ServeExec / ServeAttach: what is not the command's exit is an InternalError
    what = "error attaching to container" if attach else "error executing command in container"
    try:
        session: ExecSession = await start(want_stdin, tty)
    except Exception as e:
        failed = internal_error(f"{what}: {e}", translated=translated)
        await io.send(ERROR, orjson.dumps(failed))
        await io.close()
        return

    async def pump(reader: asyncio.StreamReader | None, channel: int) -> None:
        if reader is None:
            return
        while chunk := await reader.read(32768):
            if not io.closed:  # once the client is gone, output is drained and dropped
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await io.send(channel, chunk)

    async def deliver(channel: int, data: bytes) -> None:
        if channel == STDIN and session.stdin is not None:
            session.stdin.write(data)
            await session.stdin.drain()
        elif channel == RESIZE:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                size = orjson.loads(data)
                await session.resize(int(size["Width"]), int(size["Height"]))
        elif channel == CLOSE and data[:1] == bytes([STDIN]) and session.stdin is not None:
            session.stdin.close()

    async def outbound() -> None:
        await asyncio.gather(pump(session.stdout, STDOUT), pump(session.stderr, STDERR))
        try:
            code = await session.wait()
        except ExecStartError as e:
            failed = internal_error(f"{what}: {e}", translated=translated)
            await io.send(ERROR, orjson.dumps(failed))
            return
        # an attach that ends (the container exited, or the runtime ended it when the
        # client's input ended) is a Success: the exit code is the pod's status to report
        if (attach or code >= 0) and not io.closed:
            ended = status(0 if attach else code, command, translated=translated)
            await io.send(ERROR, orjson.dumps(ended))

    reader_task = asyncio.create_task(io.receive(deliver))
    output_task = asyncio.create_task(outbound())
    try:
        # Either the session ends, or the client goes away first (then it is killed: a
        # client that disconnects leaves nothing running).
        await asyncio.wait({reader_task, output_task}, return_when=asyncio.FIRST_COMPLETED)
        if not output_task.done() and reader_task.done():
            with contextlib.suppress(Exception):
                await session.kill()
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(output_task), 5)
    finally:
        for task in (reader_task, output_task):
            task.cancel()
        for task in (reader_task, output_task):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await session.kill()
        await io.close()

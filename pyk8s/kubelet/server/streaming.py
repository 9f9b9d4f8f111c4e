"""``exec`` and ``attach`` over WebSocket with the ``channel.k8s.io`` framing.

Mirrors ``pkg/kubelet/cri/streaming/remotecommand`` (``ServeExec``, ``ServeAttach``) with the
WebSocket transport of ``k8s.io/apimachinery/pkg/util/httpstream/wsstream`` and
``staging/src/k8s.io/apiserver/pkg/util/remotecommand`` (``v4.channel.k8s.io``,
``v5.channel.k8s.io``): every binary message starts with its channel byte - 0 stdin,
1 stdout, 2 stderr, 3 the final ``Status`` (JSON), 4 terminal resize (``{"Width", "Height"}``);
v5 adds 255, "close this channel" (kubectl's stdin EOF). SPDY is not offered; kubectl 1.30+
speaks WebSocket first.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from pyk8s.kubelet.runtime.interface import ExecSession
from pyk8s.kubelet.runtime.sessions import ExecStartError

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
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


def status(exit_code: int, command: list[str]) -> dict[str, Any]:
    """The ``Status`` written on the error channel when the process ends."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"{command}, exit code {exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def failure(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}


async def serve(
    request: web.Request, start: Any, command: list[str], *, attach: bool = False
) -> web.WebSocketResponse:
    """Upgrade, start the session (``await start(stdin, tty)``), pump, report the exit.
    An attach reports Success whatever the container's exit code (``ServeAttach``: the
    client learns the code from the pod's status)."""
    q = request.query
    want_stdin, tty = _truthy(q.get("stdin")), _truthy(q.get("tty"))
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    await ws.prepare(request)
    try:
        session: ExecSession = await start(want_stdin, tty)
    except Exception as e:
        await ws.send_bytes(bytes([ERROR]) + orjson.dumps(failure(str(e))))
        await ws.close()
        return ws

    async def pump(reader: asyncio.StreamReader | None, channel: int) -> None:
        if reader is None:
            return
        while chunk := await reader.read(32768):
            if not ws.closed:  # once the client is gone, output is drained and dropped
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_bytes(bytes([channel]) + chunk)

    async def inbound() -> None:
        async for msg in ws:
            raw = payload(msg)
            if not raw:
                continue
            channel, data = raw[0], raw[1:]
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
            # ServeExec: an error that is not the command's exit is an InternalError
            message = f"Internal error occurred: error executing command in container: {e}"
            await ws.send_bytes(bytes([ERROR]) + orjson.dumps(failure(message)))
            return
        if code >= 0 and not ws.closed:
            result = status(0 if attach else code, command)
            await ws.send_bytes(bytes([ERROR]) + orjson.dumps(result))

    reader_task = asyncio.create_task(inbound())
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
        await ws.close()
    return ws

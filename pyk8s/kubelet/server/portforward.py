"""``kubectl port-forward`` on the kubelet: SPDY streams, or WebSocket channels.

Mirrors ``pkg/kubelet/cri/streaming/portforward``: ``httpstream.go`` (an upgraded SPDY/3.1
connection, protocol ``portforward.k8s.io``; each forwarded connection is a pair of streams
with headers ``streamType`` error/data, ``port`` and ``requestID``; the pair's port is dialled
once both arrived, failures are written on the error stream, then both streams are closed)
and ``websocket.go`` (``?port=`` repeated or comma-separated; channels 2i data and 2i+1
error per port, each opened by a frame holding the port as 2 little-endian bytes; one
connection per port). The copy follows containerd's ``portForward``: once one direction
ends, the other gets a second to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable

from aiohttp import web

from pyk8s.client.httpstream import chunks, spdy, upgrade
from pyk8s.kubelet.server import streaming

log = logging.getLogger(__name__)

PROTOCOL_V1 = "portforward.k8s.io"
WS_PROTOCOLS = ("v4.channel.k8s.io", streaming.BASE64)
STREAM_CREATION_TIMEOUT = 30.0
_READ = 256 * 1024

Forward = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
Describe = Callable[[int, Exception], str]


def parse_ports(values: list[str]) -> list[int]:
    """``NewV4Options``: every ``port`` value, comma-separated lists allowed."""
    if not values:
        raise ValueError('query parameter "port" is required')
    out = []
    for raw in values:
        if not raw:
            raise ValueError('query parameter "port" cannot be empty')
        for p in raw.split(","):
            try:
                port = int(p)
                if not 0 <= port <= 65535:
                    raise ValueError
            except ValueError:
                raise ValueError(f'unable to parse "{raw}" as a port') from None
            if port < 1:
                raise ValueError(f'port "{raw}" must be > 0')
            out.append(port)
    return out


Parts = list[bytes]


async def _copy(
    read: Callable[[], Awaitable[Parts]],
    write: Callable[[Parts], Awaitable[None]],
    done: Callable[[], Awaitable[None]] | None = None,
) -> None:
    while parts := await read():
        await write(parts)
    if done is not None:
        await done()


async def _splice(
    client_read: Callable[[], Awaitable[Parts]],
    client_write: Callable[[Parts], Awaitable[None]],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways; when one direction ends, give the other a second, then close. From
    the pod, everything received so far goes out at once (one frame of up to a MiB)."""

    async def to_pod(parts: Parts) -> None:
        writer.writelines(parts)
        await writer.drain()

    async def pod_eof() -> None:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()

    async def from_pod() -> Parts:
        try:
            if isinstance(reader, chunks.ChunkReader):
                return await reader.read_chunks(spdy.CHUNK)
            data = await reader.read(_READ)
        except ConnectionError:
            return []
        return [data] if data else []

    tasks = [
        asyncio.create_task(_copy(client_read, to_pod, pod_eof)),
        asyncio.create_task(_copy(from_pod, client_write)),
    ]
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending, timeout=1.0)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1)


class _Pair:
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.data: spdy.Stream | None = None
        self.error: spdy.Stream | None = None
        self.complete = asyncio.Event()


async def serve_spdy(
    transport: spdy.Transport,
    forward: Forward,
    describe: Describe,
    creation_timeout: float = STREAM_CREATION_TIMEOUT,
) -> None:
    """Serve one SPDY port-forward connection until the client goes away."""
    conn = spdy.Connection(transport)
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def print_error(stream: spdy.Stream | None, message: str) -> None:
        if stream is not None:
            with contextlib.suppress(ConnectionError):
                await stream.write(message.encode())

    async def monitor(pair: _Pair) -> None:
        try:
            await asyncio.wait_for(pair.complete.wait(), creation_timeout)
        except TimeoutError:
            await print_error(
                pair.error, f"(conn={id(conn):#x}, request={pair.request_id}) "
                "timed out waiting for streams"
            )  # fmt: skip
        pairs.pop(pair.request_id, None)

    async def run_pair(pair: _Pair) -> None:
        assert pair.data is not None and pair.error is not None
        data, error = pair.data, pair.error
        port = int(data.header("port"))
        try:
            try:
                reader, writer = await forward(port)
            except Exception as e:
                await print_error(error, describe(port, e))
                return
            await _splice(
                lambda: spdy.read_parts(data), data.writelines, reader, writer
            )  # fmt: skip
        finally:
            data.abandon()
            error.abandon()
            await error.close()
            await data.close()

    def on_stream(stream: spdy.Stream) -> str | None:
        port = stream.header("port")
        if not port:
            return '"port" header is required'
        try:
            if not 0 < int(port) <= 65535:
                return f'port "{port}" must be > 0'
        except ValueError:
            return f'unable to parse "{port}" as a port'
        kind = stream.header("streamType")
        if kind not in ("error", "data"):
            return (
                '"streamType" header is required' if not kind else f'invalid stream type "{kind}"'
            )
        request_id = stream.header("requestID")
        if not request_id:  # clients before 1.5 numbered their pairs by stream id
            request_id = str(stream.id if kind == "error" else stream.id - 2)
        pair = pairs.get(request_id)
        if pair is None:
            pair = pairs[request_id] = _Pair(request_id)
            spawn(monitor(pair))
        if getattr(pair, kind) is not None:
            spawn(print_error(
                pair.error, f"error processing stream for request {request_id}: "
                f"{kind} stream already assigned"))  # fmt: skip
            return None
        setattr(pair, kind, stream)
        if pair.data is not None and pair.error is not None and not pair.complete.is_set():
            pair.complete.set()
            spawn(run_pair(pair))
        return None

    try:
        await conn.run(on_stream)
    finally:
        for t in list(tasks):
            t.cancel()
        for t in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await conn.close()


async def serve_websocket(
    request: web.Request, ports: list[int], forward: Forward, describe: Describe
) -> web.WebSocketResponse:
    """The channel protocol the Python clients speak (one connection per port)."""
    ws = web.WebSocketResponse(protocols=WS_PROTOCOLS, max_msg_size=0)
    await ws.prepare(request)
    channels = streaming.Channels(ws)
    inbound: list[asyncio.Queue[Parts]] = [asyncio.Queue(maxsize=64) for _ in ports]
    for i, port in enumerate(ports):
        prefix = struct.pack("<H", port)
        await channels.send(2 * i, prefix)
        await channels.send(2 * i + 1, prefix)

    finished = [False] * len(ports)

    async def dispatch() -> None:
        try:
            async for msg in ws:
                got = channels.decode(msg)
                if got is None or not got[1] or got[0] < 0:
                    continue
                i, rest = divmod(got[0], 2)
                if rest == 0 and i < len(inbound) and not finished[i]:
                    await inbound[i].put([got[1]])
        finally:
            for q in inbound:  # the client went away: every copy to the pod ends
                while q.full():
                    q.get_nowait()
                q.put_nowait([])

    async def one(i: int, port: int) -> None:
        async def send(parts: Parts) -> None:
            await channels.send(2 * i, b"".join(parts))

        try:
            try:
                reader, writer = await forward(port)
            except Exception as e:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await channels.send(2 * i + 1, describe(port, e).encode())
                return
            await _splice(inbound[i].get, send, reader, writer)
        finally:
            finished[i] = True
            while not inbound[i].empty():
                inbound[i].get_nowait()

    reader_task = asyncio.create_task(dispatch())
    workers = [asyncio.create_task(one(i, p)) for i, p in enumerate(ports)]
    try:
        await asyncio.gather(*workers, return_exceptions=True)
    finally:
        for t in workers:
            t.cancel()
        reader_task.cancel()
        for t in [*workers, reader_task]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await ws.close()
    return ws


async def serve(request: web.Request, forward: Forward, describe: Describe) -> web.StreamResponse:
    """``ServePortForward``: WebSocket if asked for, otherwise an SPDY upgrade."""
    if upgrade.is_websocket(request):
        offered = upgrade.websocket_protocols(request)
        if upgrade.TUNNEL_PREFIX + PROTOCOL_V1 in offered:
            ws = web.WebSocketResponse(protocols=(upgrade.TUNNEL_PREFIX + PROTOCOL_V1,),
                                       max_msg_size=0)  # fmt: skip
            await ws.prepare(request)
            await serve_spdy(upgrade.WebSocketTransport(ws, request), forward, describe)
            return ws
        try:
            ports = parse_ports(request.query.getall("port", []))
        except ValueError as e:
            return web.Response(status=400, text=f"{e}\n")
        return await serve_websocket(request, ports, forward, describe)
    offered = upgrade.client_protocols(request)
    if not offered:
        return web.Response(
            status=400, text=f"unable to upgrade: {upgrade.HEADER_PROTOCOL_VERSION} is required\n"
        )
    chosen = upgrade.negotiate(offered, (PROTOCOL_V1,))
    if not chosen:
        return web.Response(
            status=403,
            headers={upgrade.HEADER_ACCEPTED_PROTOCOL_VERSIONS: PROTOCOL_V1},
            text=f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
            f"server accepts {[PROTOCOL_V1]}\n",
        )
    if not upgrade.is_spdy_upgrade(request):
        return web.Response(
            status=400, text="unable to upgrade: missing upgrade headers in request\n"
        )
    resp, transport = await upgrade.accept(request, {upgrade.HEADER_PROTOCOL_VERSION: chosen})
    await serve_spdy(transport, forward, describe)
    return resp

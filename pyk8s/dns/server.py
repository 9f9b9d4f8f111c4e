"""The cluster DNS server: UDP and TCP on asyncio, dnslib for the wire format.

Answers names of the cluster domain from a ``records.Zone`` (swapped whole when the cluster
changes) and forwards everything else to the host's resolvers from ``/etc/resolv.conf``, with a
timeout per resolver. Plays the part CoreDNS plays in a cluster (its ``kubernetes`` and
``forward`` plugins); the loop is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, cast

from dnslib import (
    AAAA,
    CNAME,
    EDNS0,
    NS,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    SRV,
    TXT,
    A,
    DNSError,
    DNSHeader,
    DNSRecord,
)

from pyk8s.dns import records

log = logging.getLogger(__name__)

UDP_LIMIT = 512  # without EDNS (RFC 1035)
ANSWER_CACHE_SIZE = 10_000
EDNS_UDP_SIZE = 1232  # what we offer: fits any path MTU (DNS flag day 2020)
Upstream = tuple[str, int]


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 53
    upstreams: tuple[Upstream, ...] | None = None  # None: the nameservers of resolv.conf
    resolv_conf: str = "/etc/resolv.conf"
    forward_timeout: float = 2.0
    tcp_idle_timeout: float = 10.0  # a TCP client silent this long is hung up on
    max_in_flight: int = 1000  # UDP queries being answered at once; more are dropped


def parse_resolv_conf(text: str) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf, in order."""
    servers = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1].split("%", 1)[0])
    return servers


def _rdata(rec: records.Record) -> object:
    data = rec.data
    if rec.type == "A":
        return A(str(data))
    if rec.type == "AAAA":
        return AAAA(str(data))
    if rec.type == "CNAME":
        return CNAME(str(data) + ".")
    if rec.type == "NS":
        return NS(str(data) + ".")
    if rec.type == "PTR":
        return PTR(str(data) + ".")
    if rec.type == "TXT":
        return TXT(str(data))
    if rec.type == "SRV" and isinstance(data, tuple):
        priority, weight, port, target = data[:4]
        return SRV(int(priority), int(weight), int(port), str(target) + ".")
    if rec.type == "SOA" and isinstance(data, tuple):
        mname, rname, serial, refresh, retry, expire, minimum = cast(records.SOAData, data)
        return SOA(mname + ".", rname + ".", (serial, refresh, retry, expire, minimum))
    raise ValueError(f"cannot encode {rec}")


def _rr(rec: records.Record, ttl: int) -> RR:
    return RR(rec.name + ".", getattr(QTYPE, rec.type), ttl=ttl, rdata=_rdata(rec))


class Server:
    """One DNS server; ``zone`` may be replaced at any time (``server.zone = new``)."""

    def __init__(self, zone: records.Zone, config: ServerConfig) -> None:
        self._zone = zone
        # Local answers by the request bytes after the ID (flags, question, EDNS) and transport:
        # a repeated question costs a dict lookup. Cleared when the zone changes.
        self._answers: dict[tuple[bytes, bool], bytes] = {}
        self.config = config
        self.upstreams: list[Upstream] = list(config.upstreams or [])
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0

    async def start(self) -> tuple[str, int]:
        """Listen on UDP and TCP (port 0: a free one, the same for both); the bound address."""
        if self.config.upstreams is None:
            self.upstreams = await self._read_resolv_conf()
        loop = asyncio.get_running_loop()
        tcp = await asyncio.start_server(self._serve_tcp, self.config.host, self.config.port)
        host, port = tcp.sockets[0].getsockname()[:2]
        try:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UDP(self), local_addr=(self.config.host, port)
            )
        except OSError:
            tcp.close()
            raise
        self._tcp, self._udp = tcp, udp
        return host, port

    async def _read_resolv_conf(self) -> list[Upstream]:
        def read() -> str:
            try:
                with open(self.config.resolv_conf) as f:
                    return f.read()
            except OSError as e:
                log.warning("no upstream resolvers: %s", e)
                return ""

        text = await asyncio.to_thread(read)
        own = {self.config.host}
        return [(ip, 53) for ip in parse_resolv_conf(text) if ip not in own]

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run one UDP answer; tracked so that ``close`` cancels what is in flight.

        Beyond ``max_in_flight`` the query is dropped, as an overloaded server does: the
        client asks again, and a flood of forwarded queries cannot exhaust us.
        """
        if len(self._tasks) >= self.config.max_in_flight:
            coro.close()
            self.dropped += 1
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(self.config.tcp_idle_timeout):
                    size = struct.unpack("!H", await reader.readexactly(2))[0]
                    data = await reader.readexactly(size)
                reply = await self.handle(data, tcp=True)
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @property
    def zone(self) -> records.Zone:
        return self._zone

    @zone.setter
    def zone(self, zone: records.Zone) -> None:
        self._zone = zone
        self._answers = {}

    def cached(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        """The reply to a question answered before from this zone, with this query's ID."""
        tail = self._answers.get((bytes(data[2:]), tcp))
        return None if tail is None else data[:2] + tail

    async def handle(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        """The reply to one query message; None when it is not worth one (garbage)."""
        if (hit := self.cached(data, tcp=tcp)) is not None:
            return hit
        answers = self._answers
        try:
            request = DNSRecord.parse(data)
        except (DNSError, struct.error, IndexError, ValueError):
            if len(data) < 12:
                return None
            header = DNSHeader(id=struct.unpack("!H", data[:2])[0], qr=1, rcode=RCODE.FORMERR)
            formerr: bytes = DNSRecord(header).pack()
            return formerr
        if request.header.qr or request.header.opcode != 0 or len(request.questions) != 1:
            reply = request.reply()
            reply.header.rcode = RCODE.NOTIMP if request.header.opcode else RCODE.FORMERR
            refused: bytes = reply.pack()
            return refused
        q = request.q
        answer = self.zone.lookup(str(q.qname), QTYPE.get(q.qtype, str(q.qtype)))
        if answer is None:
            return await self.forward(data, request, tcp=tcp)
        reply = self._reply(request, answer)
        if answer.chase is not None and not answer.answers[1:]:
            await self._chase(reply, answer.chase, q.qtype, tcp=tcp)
            return self._fit(reply, request, tcp=tcp)  # upstream data: not ours to keep
        packed = self._fit(reply, request, tcp=tcp)
        if answers is self._answers:  # the zone did not change meanwhile
            if len(answers) >= ANSWER_CACHE_SIZE:
                answers.clear()
            answers[(bytes(data[2:]), tcp)] = packed[2:]
        return packed

    def _reply(self, request: DNSRecord, answer: records.Answer) -> DNSRecord:
        reply = request.reply(ra=1, aa=1)
        reply.header.rcode = getattr(RCODE, answer.rcode)
        ttl = self.zone.config.ttl
        for rec in answer.answers:
            reply.add_answer(_rr(rec, ttl))
        for rec in answer.authority:
            reply.add_auth(_rr(rec, ttl))
        for rec in answer.additional:
            reply.add_ar(_rr(rec, ttl))
        _echo_edns(request, reply)
        return reply

    async def _chase(self, reply: DNSRecord, target: str, qtype: int, *, tcp: bool) -> None:
        """Resolve an ExternalName target upstream and append what it says."""
        query = DNSRecord.question(target, QTYPE.get(qtype, "A"))
        raw = await self.forward(query.pack(), query, tcp=tcp)
        if raw is None:
            return
        with contextlib.suppress(DNSError):
            for rr in DNSRecord.parse(raw).rr:
                reply.add_answer(rr)

    def _fit(self, reply: DNSRecord, request: DNSRecord, *, tcp: bool) -> bytes:
        packed: bytes = reply.pack()
        if tcp:
            return packed
        limit = UDP_LIMIT
        for rr in request.ar:
            if rr.rtype == QTYPE.OPT:
                limit = max(UDP_LIMIT, min(int(rr.rclass), 4096))
        if len(packed) <= limit:
            return packed
        short = request.reply(ra=1, aa=1)
        short.header.rcode = reply.header.rcode
        short.header.tc = 1
        _echo_edns(request, short)
        result: bytes = short.pack()
        return result

    async def forward(self, data: bytes, request: DNSRecord, *, tcp: bool) -> bytes | None:
        """Ask each upstream in turn; SERVFAIL when none answers in time."""
        for upstream in self.upstreams:
            try:
                async with asyncio.timeout(self.config.forward_timeout):
                    if tcp:
                        return await _ask_tcp(upstream, data)
                    return await _ask_udp(upstream, data)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as e:
                log.debug("upstream %s:%d failed: %r", *upstream, e)
        reply = request.reply(ra=1, aa=0)
        reply.header.rcode = RCODE.SERVFAIL
        packed: bytes = reply.pack()
        return packed


def _echo_edns(request: DNSRecord, reply: DNSRecord) -> None:
    """A query with EDNS gets EDNS back (RFC 6891), offering the usual safe UDP size."""
    if any(rr.rtype == QTYPE.OPT for rr in request.ar):
        reply.add_ar(EDNS0(udp_len=EDNS_UDP_SIZE))


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        hit = self.server.cached(data)
        if hit is not None and self.transport is not None:
            self.transport.sendto(hit, addr)
        else:
            self.server._spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.handle(data)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class _Reply(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes) -> None:
        self.query_id = query_id
        self.done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data[:2] == self.query_id and not self.done.done():
            self.done.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


async def _ask_udp(upstream: Upstream, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Reply(data[:2]), remote_addr=upstream
    )
    try:
        transport.sendto(data)
        return await protocol.done
    finally:
        transport.close()


async def _ask_tcp(upstream: Upstream, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*upstream)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        size = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(size)
    finally:
        writer.close()


async def serve(zone: records.Zone, config: ServerConfig) -> Server:
    """Start a server and return it (call ``close`` to stop)."""
    server = Server(zone, config)
    await server.start()
    return server

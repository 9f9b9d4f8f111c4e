"""The DNS server on a free loopback port, asked by dnslib and by dig (pyk8s/dns/server.py)."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from pyk8s.dns import records, server

SERVICES = [
    {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.43.0.20", "ports": [{"name": "http", "port": 80}]},
    },
    {
        "metadata": {"name": "out", "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": "www.example.test"},
    },
    {
        "metadata": {"name": "many", "namespace": "default"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
    },
]
MANY = [
    {
        "metadata": {
            "name": "many-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "many"},
        },
        "addressType": "IPv4",
        "ports": [{"port": 80}],
        "endpoints": [{"addresses": [f"10.42.0.{i}"]} for i in range(1, 61)],
    }
]


def cluster_zone(services: list[dict[str, Any]] = SERVICES) -> records.Zone:
    return records.build(services, MANY, [], records.DNSConfig(ttl=7))


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, int]]:
    """Another server of ours, authoritative for example.test, standing in for the host's."""
    zone = records.build(
        [{"metadata": {"name": "www", "namespace": "x"}, "spec": {"clusterIP": "192.0.2.80"}}],
        [],
        [],
        records.DNSConfig(domain="example.test"),
    )
    # Make "www.example.test" itself an address, as a real upstream would answer.
    zone.add("www.example.test", "A", "192.0.2.80")
    zone.seal()
    s = await server.serve(zone, server.ServerConfig(host="127.0.0.1", port=0, upstreams=()))
    try:
        yield s._tcp.sockets[0].getsockname()[:2]  # type: ignore[union-attr]
    finally:
        await s.close()


@pytest.fixture
async def dns(upstream: tuple[str, int]) -> AsyncIterator[tuple[server.Server, int]]:
    cfg = server.ServerConfig(host="127.0.0.1", port=0, upstreams=(upstream,), forward_timeout=1.0)
    s = server.Server(cluster_zone(), cfg)
    _, port = await s.start()
    try:
        yield s, port
    finally:
        await s.close()


async def ask(port: int, name: str, qtype: str = "A", *, tcp: bool = False) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    raw = await asyncio.to_thread(q.send, "127.0.0.1", port, tcp=tcp, timeout=5)
    return DNSRecord.parse(raw)


def rdata(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_cluster_names(dns: tuple[server.Server, int], tcp: bool) -> None:
    _, port = dns
    a = await ask(port, "web.default.svc.cluster.local", tcp=tcp)
    assert (a.header.rcode, a.header.aa, rdata(a)) == (RCODE.NOERROR, 1, ["10.43.0.20"])
    assert a.rr[0].ttl == 7
    srv = await ask(port, "_http._tcp.web.default.svc.cluster.local", "SRV", tcp=tcp)
    assert rdata(srv) == ["0 100 80 web.default.svc.cluster.local."]
    missing = await ask(port, "nope.default.svc.cluster.local", tcp=tcp)
    assert missing.header.rcode == RCODE.NXDOMAIN
    assert [QTYPE[rr.rtype] for rr in missing.auth] == ["SOA"]
    nodata = await ask(port, "web.default.svc.cluster.local", "AAAA", tcp=tcp)
    assert (nodata.header.rcode, nodata.rr) == (RCODE.NOERROR, [])
    ptr = await ask(port, "20.0.43.10.in-addr.arpa", "PTR", tcp=tcp)
    assert rdata(ptr) == ["web.default.svc.cluster.local."]


async def test_forwarding_and_externalname_chase(dns: tuple[server.Server, int]) -> None:
    _, port = dns
    fwd = await ask(port, "www.example.test")
    assert (fwd.header.rcode, rdata(fwd)) == (RCODE.NOERROR, ["192.0.2.80"])
    chased = await ask(port, "out.default.svc.cluster.local")
    assert rdata(chased) == ["192.0.2.80", "www.example.test."]
    fwd_tcp = await ask(port, "www.example.test", tcp=True)
    assert rdata(fwd_tcp) == ["192.0.2.80"]


async def test_dead_upstream_is_servfail_after_the_timeout() -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    sink.bind(("127.0.0.1", 0))
    try:
        cfg = server.ServerConfig(
            host="127.0.0.1", port=0, upstreams=(sink.getsockname(),), forward_timeout=0.3
        )
        s = server.Server(cluster_zone(), cfg)
        _, port = await s.start()
        try:
            started = asyncio.get_running_loop().time()
            reply = await ask(port, "www.example.test")
            assert reply.header.rcode == RCODE.SERVFAIL
            assert asyncio.get_running_loop().time() - started < 2
        finally:
            await s.close()
    finally:
        sink.close()


async def test_big_answer_is_truncated_over_udp_and_whole_over_tcp(
    dns: tuple[server.Server, int],
) -> None:
    _, port = dns
    udp = await ask(port, "many.default.svc.cluster.local")
    assert (udp.header.tc, udp.rr) == (1, [])
    tcp = await ask(port, "many.default.svc.cluster.local", tcp=True)
    assert len(tcp.rr) == 60


async def test_zone_is_swapped_whole(dns: tuple[server.Server, int]) -> None:
    s, port = dns
    moved = [{**SERVICES[0], "spec": {"clusterIP": "10.43.0.99", "ports": []}}]
    s.zone = cluster_zone(moved)
    assert rdata(await ask(port, "web.default.svc.cluster.local")) == ["10.43.0.99"]


async def test_garbage_gets_formerr_or_nothing(dns: tuple[server.Server, int]) -> None:
    s, _ = dns
    assert await s.handle(b"\x00") is None
    reply = await s.handle(b"\x12\x34" + b"\xff" * 20)
    assert reply is not None
    parsed = DNSRecord.parse(reply)
    assert (parsed.header.id, parsed.header.rcode) == (0x1234, RCODE.FORMERR)


def test_parse_resolv_conf() -> None:
    text = "# comment\nnameserver 10.0.0.2\nsearch x\nnameserver fe80::1%eth0 # here\n"
    assert server.parse_resolv_conf(text) == ["10.0.0.2", "fe80::1"]


async def dig(port: int, *args: str) -> str:
    if shutil.which("dig") is None:
        pytest.skip("needs dig (bind9-dnsutils in hack/system-packages.txt)")
    proc = await asyncio.create_subprocess_exec(
        "dig",
        "@127.0.0.1",
        "-p",
        str(port),
        "+time=3",
        "+tries=1",
        *args,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return out.decode()


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
async def test_dig(dns: tuple[server.Server, int], transport: str) -> None:
    _, port = dns
    short = await dig(port, transport, "+short", "web.default.svc.cluster.local")
    assert short.split() == ["10.43.0.20"]
    srv = await dig(port, transport, "+short", "SRV", "_http._tcp.web.default.svc.cluster.local")
    assert srv.split() == ["0", "100", "80", "web.default.svc.cluster.local."]
    nx = await dig(port, transport, "nope.default.svc.cluster.local")
    assert "status: NXDOMAIN" in nx and "flags: qr aa rd ra" in nx
    nodata = await dig(port, transport, "AAAA", "web.default.svc.cluster.local")
    assert "status: NOERROR" in nodata and "ANSWER: 0" in nodata
    ptr = await dig(port, transport, "+short", "-x", "10.43.0.20")
    assert ptr.split() == ["web.default.svc.cluster.local."]
    fwd = await dig(port, transport, "+short", "www.example.test")
    assert fwd.split() == ["192.0.2.80"]
    edns = await dig(port, transport, "web.default.svc.cluster.local")  # dig sends EDNS
    assert "OPT PSEUDOSECTION" in edns and "udp: 1232" in edns, edns


async def test_dig_retries_a_truncated_answer_over_tcp(dns: tuple[server.Server, int]) -> None:
    _, port = dns
    out = await dig(port, "+short", "many.default.svc.cluster.local")
    assert len(out.split()) == 60


async def test_repeated_questions_are_answered_from_the_cache_with_their_own_id(
    dns: tuple[server.Server, int],
) -> None:
    s, _ = dns
    q1 = DNSRecord.question("web.default.svc.cluster.local")
    q2 = DNSRecord.question("web.default.svc.cluster.local")
    q2.header.id = q1.header.id ^ 1
    first = await s.handle(q1.pack())
    assert s.cached(q2.pack()) is not None
    second = DNSRecord.parse(await s.handle(q2.pack()))  # type: ignore[arg-type]
    assert second.header.id == q2.header.id
    assert rdata(second) == rdata(DNSRecord.parse(first))  # type: ignore[arg-type]
    s.zone = cluster_zone([])
    assert s.cached(q2.pack()) is None  # a new zone empties the cache
    gone = DNSRecord.parse(await s.handle(q2.pack()))  # type: ignore[arg-type]
    assert gone.header.rcode == RCODE.NXDOMAIN


async def test_idle_tcp_clients_are_hung_up_on() -> None:
    cfg = server.ServerConfig(host="127.0.0.1", port=0, upstreams=(), tcp_idle_timeout=0.2)
    s = server.Server(cluster_zone(), cfg)
    _, port = await s.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed by the server, not by us
        writer.close()
    finally:
        await s.close()


async def test_queries_beyond_the_in_flight_limit_are_dropped() -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # an upstream that never answers
    sink.bind(("127.0.0.1", 0))
    cfg = server.ServerConfig(
        host="127.0.0.1",
        port=0,
        upstreams=(sink.getsockname(),),
        forward_timeout=5,
        max_in_flight=3,
    )
    s = server.Server(cluster_zone(), cfg)
    _, port = await s.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        await ask(port, "web.default.svc.cluster.local")  # answered, so now cached
        for i in range(5):
            client.sendto(DNSRecord.question(f"q{i}.example.test").pack(), ("127.0.0.1", port))
        async with asyncio.timeout(5):
            while s.dropped < 2:
                await asyncio.sleep(0.01)
        assert len(s._tasks) == 3
        # Cluster names answered before are still answered at once, from the cache.
        reply = await ask(port, "web.default.svc.cluster.local")
        assert rdata(reply) == ["10.43.0.20"]
    finally:
        client.close()
        await s.close()
        sink.close()

"""The network benchmark of issue 11: service programming, data path through a ClusterIP, DNS.

One run, three parts:

1. ``programming``: a Service (or an endpoint) changes in the API -> its rule is in the kernel.
   The wire-format fake API of the client tests feeds the real informers, the proxy component
   and the iptables proxier in a network namespace holding 200 other Services; the clock runs
   from the API write until ``iptables-save`` in that namespace shows the rule. p50/p99.
2. ``datapath``: TCP from a client pod to a server pod through the ClusterIP beside the same
   to the pod IP directly: bulk throughput (one connection, 3 s) and request rate (a new
   connection per HTTP/1.0 request, 3 s); the median of 7 alternating rounds each (the
   machines are shared: single runs swing by 2x); ratio ClusterIP / pod IP.
3. ``dns``: our server beside Debian's ``dnsmasq`` serving the same 500 Service A records,
   both asked by ``dnsperf`` with the same query file: queries per second with 100 in flight,
   and p50/p99 latency at a fixed 2,000 queries per second.

Parts 1 and 2 need root (network namespaces); they are skipped with a message otherwise.
Writes ``bench/results/network.json`` and the ``network`` section of ``bench/RESULTS.md``.
Run: ``make bench`` or ``.venv/bin/python bench/network.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere

import uvloop  # noqa: E402

from pyk8s.client import kubeconfig, rest  # noqa: E402
from pyk8s.client.informers import factory  # noqa: E402
from pyk8s.dns import records  # noqa: E402
from pyk8s.dns import server as dns_server  # noqa: E402
from pyk8s.proxy import server as proxy_server  # noqa: E402
from pyk8s.proxy.config import ProxyConfig  # noqa: E402
from pyk8s.proxy.iptables import proxier  # noqa: E402
from tests.support import netns  # noqa: E402
from tests.unit.client.fakeapi import FakeApi, serving  # noqa: E402

SVC = "/api/v1/services"
ES = "/apis/discovery.k8s.io/v1/endpointslices"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def service(name: str, ip: str, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "bench"},
        "spec": {"clusterIP": ip, "ports": ports or [{"name": "http", "port": 80}]},
    }


def endpoint_slice(name: str, ips: list[str], ports: list[dict[str, Any]] | None = None) -> Any:
    return {
        "metadata": {
            "name": f"{name}-1",
            "namespace": "bench",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "nodeName": "node"} for ip in ips],
    }


# -- 1. programming latency ----------------------------------------------------------------


async def programming(topo: netns.Topology, rounds: int, background: int) -> dict[str, Any]:
    config = ProxyConfig(node_name="node", chain_prefix="PKBN", cluster_cidr="10.42.0.0/16")
    provider = proxier.Proxier(config, netns=topo.node)
    await provider.setup()
    api = FakeApi()
    for i in range(background):
        name = f"bg{i}"
        api.put(SVC, service(name, f"10.43.{10 + i // 250}.{i % 250 + 1}"))
        api.put(
            ES,
            endpoint_slice(
                name,
                [
                    f"10.42.{1 + i // 125}.{(2 * i) % 250 + 1}",
                    f"10.42.{1 + i // 125}.{(2 * i) % 250 + 2}",
                ],
            ),
        )

    service_ms: list[float] = []
    endpoint_ms: list[float] = []
    async with (
        serving(api) as url,
        rest.Client(kubeconfig.Config(url)) as client,
        factory.SharedInformerFactory(client) as informers,
    ):
        ps = proxy_server.ProxyServer(
            provider,
            informers.for_resource(proxy_server.SERVICES),
            informers.for_resource(proxy_server.ENDPOINT_SLICES),
            config,
        )
        informers.start()
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(ps.run(ready))
        try:
            await asyncio.wait_for(ready.wait(), 60)
            for i in range(rounds):
                name, ip = f"new{i}", f"10.43.5.{i + 1}"
                await asyncio.sleep(0.2)  # let the previous sync settle: one change at a time
                async with probe(topo, ip, "pa") as answered:
                    written = time.monotonic()
                    api.put(SVC, service(name, ip))
                    api.put(ES, endpoint_slice(name, ["10.42.0.2"]))
                    service_ms.append(1000 * (await answered - written))
                await asyncio.sleep(0.2)
                async with probe(topo, ip, "pb") as answered:
                    written = time.monotonic()
                    api.put(ES, endpoint_slice(name, ["10.42.0.3"]), event="MODIFIED")
                    endpoint_ms.append(1000 * (await answered - written))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await provider.cleanup()
    syncs = ps.runner.runs + 1
    return {
        "programming_service_p50_ms": round(statistics.median(service_ms), 1),
        "programming_service_p99_ms": round(pct(service_ms, 0.99), 1),
        "programming_endpoint_p50_ms": round(statistics.median(endpoint_ms), 1),
        "programming_endpoint_p99_ms": round(pct(endpoint_ms, 0.99), 1),
        "programming_rounds": rounds,
        "programming_background_services": background,
        "programming_syncs": syncs,
    }


# Asks ``http://ip/`` from a pod every millisecond until ``want`` answers; prints when
# (CLOCK_MONOTONIC, which every process on the machine shares).
PROBE = """
import socket, sys, time
ip, want = sys.argv[1], sys.argv[2]
print("ready", flush=True)
while True:
    try:
        with socket.create_connection((ip, 80), timeout=0.5) as s:
            s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        if data.endswith(want.encode()):
            print(time.monotonic(), flush=True)
            break
    except OSError:
        pass
    time.sleep(0.001)
"""


@contextlib.asynccontextmanager
async def probe(topo: netns.Topology, ip: str, want: str) -> AsyncIterator[Any]:
    """Start a probe in the client pod; yields an awaitable of when ``want`` first answered."""
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        topo.ns["pc"],
        sys.executable,
        "-I",
        "-S",
        "-c",
        PROBE,
        ip,
        want,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        assert (await proc.stdout.readline()).strip() == b"ready"

        async def answered() -> float:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            return float(line)

        yield answered()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


# -- 2. data path ---------------------------------------------------------------------------

SINK = """
import socket, sys, threading
srv = socket.create_server((sys.argv[1], int(sys.argv[2])), backlog=128)
def serve(conn):
    total = 0
    with conn:
        while chunk := conn.recv(1 << 20):
            total += len(chunk)
        conn.sendall(str(total).encode())
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

BULK = """
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
chunk = b"x" * (1 << 22)
with socket.create_connection((host, port)) as s:
    end = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    total = int(s.recv(64))
    print(total / (time.perf_counter() - started))
"""

RATE = """
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
done = 0
end = time.perf_counter() + seconds
started = time.perf_counter()
while time.perf_counter() < end:
    with socket.create_connection((host, port)) as s:
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        while s.recv(65536):
            pass
    done += 1
print(done / (time.perf_counter() - started))
"""


async def _in_ns(ns: str, script: str, *args: str) -> float:
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        ns,
        sys.executable,
        "-I",
        "-S",
        "-c",
        script,
        *args,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"client in {ns} failed")
    return float(out.decode().strip())


async def datapath(topo: netns.Topology, seconds: float, rounds: int = 7) -> dict[str, Any]:
    config = ProxyConfig(node_name="node", chain_prefix="PKBD", cluster_cidr="10.42.0.0/16")
    provider = proxier.Proxier(config, netns=topo.node)
    await provider.setup()
    ports = [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "sink", "port": 9000, "targetPort": 9000},
    ]
    es_ports = [
        {"name": "http", "port": 8080, "protocol": "TCP"},
        {"name": "sink", "port": 9000, "protocol": "TCP"},
    ]
    sink = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        topo.ns["pa"],
        sys.executable,
        "-I",
        "-S",
        "-c",
        SINK,
        netns.PODS["pa"],
        "9000",
    )
    pc, cip, pod = topo.ns["pc"], "10.43.0.10", netns.PODS["pa"]
    runs: dict[str, list[float]] = {}
    try:
        await provider.sync(
            [service("bench", cip, ports)], [endpoint_slice("bench", [pod], es_ports)]
        )
        await asyncio.sleep(0.5)
        for _ in range(rounds):
            for label, host, port_bulk, port_http in (
                ("clusterip", cip, "9000", "80"),
                ("podip", pod, "9000", "8080"),
            ):
                bulk = await _in_ns(pc, BULK, host, port_bulk, str(seconds))
                rate = await _in_ns(pc, RATE, host, port_http, str(seconds))
                runs.setdefault(f"{label}_bulk", []).append(bulk)
                runs.setdefault(f"{label}_rate", []).append(rate)
    finally:
        sink.kill()
        await sink.wait()
        await provider.cleanup()
    best = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "tcp_rounds": rounds,
        "tcp_bulk_clusterip_mbit_s": round(best["clusterip_bulk"] * 8 / 1e6),
        "tcp_bulk_podip_mbit_s": round(best["podip_bulk"] * 8 / 1e6),
        "tcp_bulk_ratio": round(best["clusterip_bulk"] / best["podip_bulk"], 3),
        "tcp_requests_clusterip_per_s": round(best["clusterip_rate"]),
        "tcp_requests_podip_per_s": round(best["podip_rate"]),
        "tcp_requests_ratio": round(best["clusterip_rate"] / best["podip_rate"], 3),
    }


# -- 3. DNS ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def dnsperf(port: int, queries: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "dnsperf",
        "-s",
        "127.0.0.1",
        "-p",
        str(port),
        "-d",
        str(queries),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    return out.decode()


async def measure_dns(port: int, queries: Path, seconds: float) -> dict[str, float]:
    await dnsperf(port, queries, "-l", "1", "-q", "100")  # warm up
    out = await dnsperf(port, queries, "-l", str(seconds), "-q", "100")
    qps = next(
        float(line.split(":")[1]) for line in out.splitlines() if "Queries per second" in line
    )
    lost = next(line.split(":")[1].strip() for line in out.splitlines() if "Queries lost" in line)
    verbose = await dnsperf(port, queries, "-l", str(seconds), "-Q", "2000", "-v")
    latencies = [
        float(line.split()[-1]) * 1000 for line in verbose.splitlines() if line.startswith("> ")
    ]
    return {
        "qps": qps,
        "p50": statistics.median(latencies),
        "p99": pct(latencies, 0.99),
        "lost": float(lost.split()[0]),
    }


async def dns(count: int, seconds: float, tmp: Path) -> dict[str, Any]:
    services = [service(f"svc{i}", f"10.43.{i // 250}.{i % 250 + 1}") for i in range(count)]
    zone = records.build(services, [], [], records.DNSConfig())
    names = [f"svc{i}.bench.svc.cluster.local" for i in range(count)]
    queries = tmp / "queries.txt"
    random.Random(11).shuffle(names)
    queries.write_text("".join(f"{n} A\n" for n in names))
    hosts = tmp / "hosts"
    hosts.write_text(
        "".join(
            f"10.43.{i // 250}.{i % 250 + 1} svc{i}.bench.svc.cluster.local\n" for i in range(count)
        )
    )

    ours_port = free_port()
    ours = dns_server.Server(
        zone, dns_server.ServerConfig(host="127.0.0.1", port=ours_port, upstreams=())
    )
    await ours.start()
    try:
        mine = await measure_dns(ours_port, queries, seconds)
    finally:
        await ours.close()

    ref_port = free_port()
    dnsmasq = await asyncio.create_subprocess_exec(
        "dnsmasq",
        "-k",
        "--no-resolv",
        "--no-hosts",
        f"--addn-hosts={hosts}",
        f"--port={ref_port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--local=/cluster.local/",
        "--pid-file=",
        "--log-facility=/dev/null",
        "--user=root",
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(0.5)
        ref = await measure_dns(ref_port, queries, seconds)
    finally:
        dnsmasq.terminate()
        await dnsmasq.wait()
    proc = await asyncio.create_subprocess_exec(
        "dnsmasq", "--version", stdout=asyncio.subprocess.PIPE
    )
    version = (await proc.communicate())[0].decode().split(" ")[2]
    return {
        "dns_records": count,
        "dns_qps_ours": round(mine["qps"]),
        "dns_qps_dnsmasq": round(ref["qps"]),
        "dns_qps_ratio": round(mine["qps"] / ref["qps"], 3),
        "dns_p50_ms_ours": round(mine["p50"], 3),
        "dns_p99_ms_ours": round(mine["p99"], 3),
        "dns_p50_ms_dnsmasq": round(ref["p50"], 3),
        "dns_p99_ms_dnsmasq": round(ref["p99"], 3),
        "dns_p99_ratio": round(mine["p99"] / ref["p99"], 3),
        "dns_lost_ours": mine["lost"],
        "dns_lost_dnsmasq": ref["lost"],
        "dnsmasq_version": version,
    }


# -- report ----------------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]
    return (
        f"{cpu}, {os.cpu_count()} cpus (load average {load:.1f} at the start: the machine is "
        f"shared), Linux {platform.release()}, Python {platform.python_version()} (uvloop)"
    )


def report(results: dict[str, Any], notes: list[str]) -> None:
    r = results
    lines = ["## network: service programming, data path through a ClusterIP, cluster DNS", ""]
    lines.append(f"{r['machine']}; `make bench` (bench/network.py).")
    lines.append("")
    lines.append("| measure | ours | reference | ratio | target (issue 11) |")
    lines.append("| --- | ---: | ---: | ---: | --- |")
    if "programming_service_p50_ms" in r:
        bg = r["programming_background_services"]
        lines.append(
            f"| Service created -> rule in kernel, p50 / p99 ms ({bg} other Services) | "
            f"{r['programming_service_p50_ms']} / {r['programming_service_p99_ms']} "
            "| | | < 1000 |"
        )
        lines.append(
            f"| endpoint changed -> rule in kernel, p50 / p99 ms | "
            f"{r['programming_endpoint_p50_ms']} / {r['programming_endpoint_p99_ms']} "
            "| | | < 1000 |"
        )
    if "tcp_bulk_ratio" in r:
        lines.append(
            f"| TCP bulk, Mbit/s: ClusterIP vs pod IP | {r['tcp_bulk_clusterip_mbit_s']:,} | "
            f"{r['tcp_bulk_podip_mbit_s']:,} | {r['tcp_bulk_ratio']:.2f}x | >= 0.9x |"
        )
        lines.append(
            f"| TCP requests/s (new connection each): ClusterIP vs pod IP | "
            f"{r['tcp_requests_clusterip_per_s']:,} | {r['tcp_requests_podip_per_s']:,} | "
            f"{r['tcp_requests_ratio']:.2f}x | >= 0.9x |"
        )
    if "dns_qps_ratio" in r:
        lines.append(
            f"| DNS queries/s, 100 in flight: ours vs dnsmasq {r['dnsmasq_version']} | "
            f"{r['dns_qps_ours']:,} | {r['dns_qps_dnsmasq']:,} | {r['dns_qps_ratio']:.2f}x | |"
        )
        lines.append(
            f"| DNS p50 / p99 ms at 2,000 queries/s | {r['dns_p50_ms_ours']} / "
            f"{r['dns_p99_ms_ours']} | {r['dns_p50_ms_dnsmasq']} / {r['dns_p99_ms_dnsmasq']} | "
            f"{r['dns_p99_ratio']:.2f}x (p99) | |"
        )
    if "tcp_bulk_ratio" in r:
        notes.append(
            "Through a ClusterIP, every packet of a pod-to-pod flow on one node goes up through "
            "the node's IP stack (DNAT, routing, conntrack) and back over the bridge; to a pod "
            "IP it is bridged once. One Python sender per run on a loaded 2-core machine: single "
            "bulk runs swing between 0.6x and 1.4x, hence the median of 7 rounds."
        )
    if "dns_qps_ratio" in r:
        notes.append(
            "DNS: our server answers a question it has answered from the current zone with the "
            "stored reply (only the ID changes); dnsmasq serves the same names from a hosts "
            "file. Same query file and the same dnsperf for both."
        )
    lines.extend(["", "\n\n".join(notes), ""] if notes else [""])
    section = "\n".join(lines)
    print(section)
    md = HERE / "RESULTS.md"
    text = md.read_text() if md.exists() else "# Benchmark results\n\n"
    start = text.find("## network:")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


async def main_async(args: argparse.Namespace) -> None:
    out = HERE / "results" / "network.json"
    if args.report_only:
        report(json.loads(out.read_text()), [])
        return
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {}
    if parts != {"dns", "datapath", "programming"} and out.exists():
        results = json.loads(out.read_text())  # a partial run updates the last full one
    results["machine"] = machine()
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "dns" not in parts:
            pass
        elif shutil.which("dnsperf") and shutil.which("dnsmasq"):
            print("dns ...", flush=True)
            results.update(await dns(args.dns_records, args.seconds, Path(tmp)))
        else:
            notes.append("DNS part skipped: needs dnsperf and dnsmasq (make deps).")
        if not parts & {"datapath", "programming"}:
            pass
        elif (why := netns.missing()) is None:
            topo = netns.Topology()
            try:
                topo.up()
                await netns.wait_for_backends(topo)
                if "datapath" in parts:
                    print("datapath ...", flush=True)
                    results.update(await datapath(topo, args.seconds))
                if "programming" in parts:
                    print("programming ...", flush=True)
                    results.update(await programming(topo, args.rounds, args.background))
            finally:
                topo.down()
        else:
            notes.append(f"Programming and data-path parts skipped: {why}.")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    report(results, notes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="length of each timed run")
    p.add_argument("--rounds", type=int, default=30, help="programming changes to time")
    p.add_argument("--background", type=int, default=200, help="other Services present")
    p.add_argument("--dns-records", type=int, default=500)
    p.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md from the json")
    p.add_argument(
        "--parts", default="dns,datapath,programming", help="which parts to run (comma list)"
    )
    args = p.parse_args()
    uvloop.run(main_async(args))


if __name__ == "__main__":
    main()

"""Real resolvers against our DNS server, as a pod sees it: busybox nslookup and glibc.

The server runs inside a network namespace this test creates, on 127.0.0.1:53, and the
namespace gets a pod's resolv.conf (``ip netns exec`` mounts ``/etc/netns/<ns>/resolv.conf``):
``search <ns>.svc.cluster.local svc.cluster.local cluster.local`` and ``ndots:5``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]

SERVICES: list[dict[str, Any]] = [
    {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.43.0.20", "ports": [{"name": "http", "port": 80}]},
    },
    {
        "metadata": {"name": "out", "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": "www.example.com"},
    },
    {
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]},
    },
]
SLICES: list[dict[str, Any]] = [
    {
        "metadata": {
            "name": "db-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "db"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "pg", "port": 5432}],
        "endpoints": [{"addresses": ["10.42.0.5"], "hostname": "db-0"}],
    },
]

SERVE = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from pyk8s.dns import records, server
services, slices = json.loads(sys.argv[2])
async def main():
    zone = records.build(services, slices, [], records.DNSConfig())
    s = server.Server(zone, server.ServerConfig(host="127.0.0.1", port=53, upstreams=()))
    await s.start()
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def pod_ns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    for tool in ("ip", "busybox", "getent"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (hack/system-packages.txt)")
    ns = f"pyk8s-dns{secrets.token_hex(3)}"
    etc = Path("/etc/netns") / ns
    subprocess.run(["ip", "netns", "add", ns], check=True)
    server: subprocess.Popen[str] | None = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text(
            "nameserver 127.0.0.1\n"
            "search default.svc.cluster.local svc.cluster.local cluster.local\n"
            "options ndots:5\n"
        )
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                "-c",
                SERVE,
                str(ROOT),
                json.dumps([SERVICES, SLICES]),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        yield ns
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(etc, ignore_errors=True)


async def run_in(ns: str, *argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        ns,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["web.default.svc.cluster.local"], "Address: 10.43.0.20", id="a"),
        pytest.param(
            ["-type=SRV", "_http._tcp.web.default.svc.cluster.local"],
            "service = 0 100 80 web.default.svc.cluster.local",
            id="srv",
        ),
        pytest.param(["db.default.svc.cluster.local"], "Address: 10.42.0.5", id="headless"),
        pytest.param(["db-0.db.default.svc.cluster.local"], "Address: 10.42.0.5", id="hostname"),
        pytest.param(["10-42-0-9.default.pod.cluster.local"], "Address: 10.42.0.9", id="pod"),
        pytest.param(
            ["-type=PTR", "20.0.43.10.in-addr.arpa"],
            "name = web.default.svc.cluster.local",
            id="ptr",
        ),
        pytest.param(
            ["-type=CNAME", "out.default.svc.cluster.local"],
            "canonical name = www.example.com",
            id="externalname",
        ),
        pytest.param(["nope.default.svc.cluster.local"], "NXDOMAIN", id="nxdomain"),
    ],
)
async def test_busybox_nslookup(pod_ns: str, args: list[str], expected: str) -> None:
    _, out = await run_in(pod_ns, "busybox", "nslookup", *args, "127.0.0.1")
    assert expected in out, out


@pytest.mark.parametrize(
    "name",
    ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local"],
)
async def test_glibc_search_path(pod_ns: str, name: str) -> None:
    """Short, namespaced and fully qualified names resolve through the pod's search list."""
    code, out = await run_in(pod_ns, "getent", "hosts", name)
    assert code == 0, out
    assert out.split()[:2] == ["10.43.0.20", "web.default.svc.cluster.local"]


async def test_glibc_unknown_name_fails(pod_ns: str) -> None:
    code, _ = await run_in(pod_ns, "getent", "hosts", "nope")
    assert code == 2  # not found

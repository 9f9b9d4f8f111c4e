"""Network namespaces for proxy tests and benchmarks: a node, three pods and an outside host.

    ext (192.168.77.2) --veth-- node (192.168.77.1; br0 10.42.0.1/24) --bridge-- pa, pb, pc

``node`` is where rules are applied (it routes, with a default route via ``ext``); ``pa`` and
``pb`` run a tiny HTTP server on :8080 that answers its own name; ``pc`` is a client pod;
``ext`` a machine outside the cluster. Names carry a random tag, so runs never collide, and
``down`` removes everything ``up`` made.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys

PODS = {"pa": "10.42.0.2", "pb": "10.42.0.3", "pc": "10.42.0.4"}


# A tiny HTTP/1.0 server answering its name, and the same over UDP on the same port.
# (http.server looks its own address up in DNS at start: seconds without a resolver.)
SERVER = """
import socketserver, sys, threading
body = sys.argv[3].encode()
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while self.rfile.readline() not in (b"\\r\\n", b"\\n", b""):
            pass
        head = b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body)
        self.wfile.write(head + body)
class Datagram(socketserver.BaseRequestHandler):
    def handle(self):
        self.request[1].sendto(body, self.client_address)
address = (sys.argv[1], int(sys.argv[2]))
udp = socketserver.ThreadingUDPServer(address, Datagram)
threading.Thread(target=udp.serve_forever, daemon=True).start()
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(address, Handler).serve_forever()
"""


def missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces and iptables)"
    for tool in ("ip", "iptables-save", "iptables-restore"):
        if shutil.which(tool) is None:
            return f"needs {tool} (hack/system-packages.txt)"
    return None


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


class Topology:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.ns = {name: f"pyk8s-t{tag}-{name}" for name in ("node", "ext", *PODS)}
        self.servers: list[subprocess.Popen[bytes]] = []

    @property
    def node(self) -> str:
        return self.ns["node"]

    def up(self) -> None:
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        node = self.node
        sh("ip", "-n", node, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", node, "addr", "add", "10.42.0.1/24", "dev", "br0")
        sh("ip", "-n", node, "link", "set", "br0", "up")
        for pod, ip in PODS.items():
            ns = self.ns[pod]
            sh(
                "ip",
                "-n",
                node,
                "link",
                "add",
                f"v{pod}",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            )
            sh("ip", "-n", node, "link", "set", f"v{pod}", "master", "br0", "up")
            # As the kubelet does: a pod reaching itself through a Service comes back in
            # through the port it left by.
            sh("ip", "-n", node, "link", "set", f"v{pod}", "type", "bridge_slave", "hairpin", "on")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "route", "add", "default", "via", "10.42.0.1")
        ext = self.ns["ext"]
        sh(
            "ip",
            "-n",
            node,
            "link",
            "add",
            "vext",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ext,
        )
        sh("ip", "-n", node, "addr", "add", "192.168.77.1/24", "dev", "vext")
        sh("ip", "-n", node, "link", "set", "vext", "up")
        sh("ip", "-n", ext, "addr", "add", "192.168.77.2/24", "dev", "eth0")
        sh("ip", "-n", ext, "link", "set", "eth0", "up")
        # A default route, as a real node has: service IPs are not on any link.
        sh("ip", "-n", node, "route", "add", "default", "via", "192.168.77.2")
        # "The rest of the network" answers for the service range itself, so a connection to
        # a ClusterIP that has no rule yet is refused at once instead of timing out.
        sh("ip", "-n", ext, "route", "add", "local", "10.43.0.0/16", "dev", "lo")
        sh("ip", "-n", ext, "route", "add", "10.42.0.0/16", "via", "192.168.77.1")
        sh("ip", "netns", "exec", node, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        for pod in ("pa", "pb"):
            self.servers.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        self.ns[pod],
                        sys.executable,
                        "-I",
                        "-S",
                        "-c",
                        SERVER,
                        PODS[pod],
                        "8080",
                        pod,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def down(self) -> None:
        for server in self.servers:
            server.kill()
            server.wait()
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


# A minimal HTTP/1.0 GET over a raw socket: starts fast, prints the body or the error.
CLIENT = """
import socket, sys
host, port, timeout, count = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
for _ in range(count):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        print(data.split(b"\\r\\n\\r\\n", 1)[1].decode(), flush=True)
    except OSError as e:
        print(f"error: {e}", flush=True)
"""


async def fetch_many(ns: str, url: str, count: int, timeout: float = 3) -> list[str]:
    """GET ``http://host[:port]/`` ``count`` times, a new connection each, from inside ``ns``."""
    host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
    proc = await asyncio.create_subprocess_exec(
        *("ip", "netns", "exec", ns, sys.executable, "-I", "-S", "-c", CLIENT),
        *(host, port or "80", str(timeout), str(count)),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return out.decode().splitlines()


async def fetch(ns: str, url: str, timeout: float = 3) -> str:
    """GET ``url`` once from inside ``ns``: the body, or ``error: ...``."""
    (body,) = await fetch_many(ns, url, 1, timeout)
    return body


async def wait_for_backends(t: Topology) -> None:
    for pod in ("pa", "pb"):
        for _ in range(100):
            if await fetch(t.node, f"http://{PODS[pod]}:8080/", timeout=1) == pod:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"backend {pod} never answered")

"""``kubectl port-forward`` (SPDY tunnelled in WebSocket, and plain SPDY) and the Python
client's WebSocket port-forward, to nginx in a pod."""

from __future__ import annotations

import concurrent.futures
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.streaming.conftest import VERSIONS, Streaming, kubectl_binary

pytestmark = pytest.mark.e2e


@contextmanager
def forwarding(
    s: Streaming, version: str, target: str, env: dict[str, str] | None = None
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``kubectl port-forward pod/web :<target>``: the local port kubectl chose."""
    proc = subprocess.Popen(
        s.argv(version, "port-forward", "pod/web", f":{target}", "--address", "127.0.0.1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
        assert m, f"kubectl said {line!r}; stderr {proc.stderr.read() if proc.stderr else ''}"
        yield int(m.group(1)), proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20) as r:
        assert r.status == 200
        body: bytes = r.read()
        return body


def _fetch_concurrently(port: int, n: int = 8) -> list[bytes]:
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: _get(port), range(n)))


@pytest.mark.parametrize("version", VERSIONS)
def test_port_forward_to_nginx_over_websocket_tunnel(streaming: Streaming, version: str) -> None:
    with forwarding(streaming, version, "80") as (port, _):
        pages = _fetch_concurrently(port)
    assert all(b"Welcome to nginx!" in p for p in pages)
    assert len({len(p) for p in pages}) == 1


def test_port_forward_over_plain_spdy(streaming: Streaming) -> None:
    """What kubectl before 1.31 does, and 1.33 with the WebSocket dialer turned off."""
    env = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
    with forwarding(streaming, "1.33", "80", env) as (port, _):
        assert all(b"Welcome to nginx!" in p for p in _fetch_concurrently(port, 4))
    if kubectl_binary("1.30") is not None:
        with forwarding(streaming, "1.30", "80") as (port, _):
            assert b"Welcome to nginx!" in _get(port)


SEQ_LINES = 1_000_000  # `seq 1 N`: 6.9 MB, many data frames of up to a MiB each


@pytest.fixture(scope="module")
def large_file(streaming: Streaming) -> bytes:
    """A file of known content in nginx's document root (Debian's or the upstream image's)."""
    streaming.kubectl("1.33", "exec", "web", "--", "sh", "-c",
                      "for d in /var/www/html /usr/share/nginx/html; do [ -d $d ] && "
                      f"seq 1 {SEQ_LINES} > $d/seq.txt; done; true")  # fmt: skip
    return "".join(f"{i}\n" for i in range(1, SEQ_LINES + 1)).encode()


@pytest.mark.parametrize("websockets", ["true", "false"])
def test_port_forward_carries_a_large_download_intact(
    streaming: Streaming, large_file: bytes, websockets: str
) -> None:
    env = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets}
    with (
        forwarding(streaming, "1.33", "80", env) as (port, _),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/seq.txt", timeout=60) as r,
    ):
        body = r.read()
    assert len(body) == len(large_file)
    assert body == large_file


@pytest.mark.parametrize("version", VERSIONS)
def test_port_forward_to_a_closed_port_reports_upstreams_error(
    streaming: Streaming, version: str
) -> None:
    with forwarding(streaming, version, "81") as (port, proc):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            conn.settimeout(20)
            assert conn.recv(100) == b""  # closed, not hanging
        proc.wait(20)  # kubectl gives up on the forward, as against a real cluster
        # klog quotes the message: its inner quotes come escaped
        err = (proc.stderr.read() if proc.stderr else "").replace('\\"', '"')
    assert proc.returncode == 1
    assert re.search(
        r"an error occurred forwarding \d+ -> 81: error forwarding port 81 to pod \S+, uid : "
        r'failed to execute portforward in network namespace "\S+": failed to connect to '
        r'localhost:81 inside namespace "\S+", IPv4: dial tcp4 127\.0\.0\.1:81: connect: '
        r"connection refused IPv6 dial tcp6 \[::1\]:81: connect: connection refused",
        err,
    ), err
    assert "lost connection to pod" in err


def test_python_client_port_forward(streaming: Streaming) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    api = client.CoreV1Api(config.new_client_from_config(str(streaming.kubeconfig)))
    pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="80,81")
    try:
        sock = pf.socket(80)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK")
        assert b"Welcome to nginx!" in data
        assert pf.socket(81).recv(10) == b""
        deadline = time.monotonic() + 10
        while pf.error(81) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "failed to connect to localhost:81 inside namespace" in (pf.error(81) or "")
        assert pf.error(80) is None
    finally:
        pf.close()


def test_port_forward_over_base64_channels(streaming: Streaming) -> None:
    import base64
    import struct

    from tests.e2e.streaming.test_exec import _base64_socket

    ws = _base64_socket(streaming, "/api/v1/namespaces/default/pods/web/portforward?ports=80")
    try:
        assert ws.subprotocol == "v4.base64.channel.k8s.io"
        # each channel opens with the port, little-endian, in base64 like any data
        opened = {ws.recv(), ws.recv()}
        port = base64.b64encode(struct.pack("<H", 80)).decode()
        assert opened == {"0" + port, "1" + port}
        ws.send("0" + base64.b64encode(b"GET / HTTP/1.0\r\n\r\n").decode())
        data = b""
        while b"</html>" not in data:
            msg = ws.recv()
            assert msg and msg[0] == "0", msg
            data += base64.b64decode(msg[1:])
    finally:
        ws.close()
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"Welcome to nginx!" in data

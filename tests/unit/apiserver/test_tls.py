"""The API server's TLS: the cipher suite kubectl's Go TLS stack asks for first is the one
used (kube-apiserver, a Go server, agrees with Go clients on AES-128-GCM)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from pyk8s.apiserver import pki
from pyk8s.apiserver.server import tls_context

GO_CLIENT_ORDER = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"


def _negotiated(ctx: ssl.SSLContext, client_suites: str) -> str:
    """The TLS 1.3 suite ``openssl s_client`` (offering ``client_suites`` in that order)
    gets from a server using ``ctx``."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    chosen: list[str] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            cipher = tls.cipher()
            chosen.append(cipher[0] if cipher else "")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3",
             "-ciphersuites", client_suites],
            input=b"", capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        t.join(10)
    finally:
        listener.close()
    assert chosen, "the handshake did not complete"
    return chosen[0]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> pki.Bundle:
    return pki.ensure(Path(tmp_path_factory.mktemp("pki")), service_ip="10.43.0.1")


def test_the_clients_preferred_suite_wins(bundle: pki.Bundle) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command (hack/system-packages.txt)")
    ctx = tls_context(bundle)
    assert _negotiated(ctx, GO_CLIENT_ORDER) == "TLS_AES_128_GCM_SHA256"
    # a client that prefers ChaCha20 (no AES hardware) gets it, as from Go's servers
    chacha_first = "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
    assert _negotiated(ctx, chacha_first) == "TLS_CHACHA20_POLY1305_SHA256"

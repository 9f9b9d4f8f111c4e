"""A real, throw-away etcd (Debian's ``etcd-server``) on free loopback ports.

Used by the storage tests and ``bench/storage.py``. The process dies with the
thread that started it (PR_SET_PDEATHSIG), so a killed test run leaves no etcd
behind: start it from a thread that outlives it (the main thread).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.support.ports import free_port


def _die_with_parent() -> list[str]:
    """A command prefix that kills etcd when the thread that started it goes away.

    util-linux ``setpriv`` sets PR_SET_PDEATHSIG and execs; no ``preexec_fn``,
    which would fork a process that runs gRPC's threads (and their fork hooks)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _free_port() -> int:
    return free_port()


def binary() -> str | None:
    return shutil.which("etcd")


def etcdctl() -> str | None:
    return shutil.which("etcdctl")


@dataclass(frozen=True)
class TLS:
    """PEM files: etcd serves ``https`` with ``cert``/``key`` and requires client
    certificates signed by ``ca``; ``client_cert``/``client_key`` are one such."""

    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


class EtcdServer:
    """``with EtcdServer() as etcd: etcd.endpoint`` -> ``http://127.0.0.1:PORT``."""

    def __init__(self, data_dir: Path | None = None, *, tls: TLS | None = None) -> None:
        self.tls = tls
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="pyk8s-etcd-"))
        self.client_port = 0
        self.peer_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = self.data_dir / "etcd.log"

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    def start(self, timeout: float = 30.0) -> EtcdServer:
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.client_port, self.peer_port = _free_port(), _free_port()
            if self._launch(timeout):
                return self
        raise RuntimeError(f"etcd did not become healthy; log: {self._log.read_text()[-2000:]}")

    def restart(self, timeout: float = 30.0) -> None:
        """Stop etcd and start it again on the same ports and data."""
        self._kill()
        if not self._launch(timeout):
            raise RuntimeError(f"etcd did not come back; log: {self._log.read_text()[-2000:]}")

    def _launch(self, timeout: float) -> bool:
        exe = binary()
        if exe is None:
            raise FileNotFoundError("etcd is not installed (Debian package etcd-server)")
        peer = f"http://127.0.0.1:{self.peer_port}"
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *_die_with_parent(),
                    exe,
                    "--name=pyk8s-test",
                    f"--data-dir={self.data_dir / 'data'}",
                    f"--listen-client-urls={self.endpoint}",
                    f"--advertise-client-urls={self.endpoint}",
                    f"--listen-peer-urls={peer}",
                    f"--initial-advertise-peer-urls={peer}",
                    f"--initial-cluster=pyk8s-test={peer}",
                    "--initial-cluster-state=new",
                    "--logger=zap",
                    "--log-level=warn",
                    *self._tls_flags(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if self._wait_healthy(timeout):
            return True
        self._kill()
        return False

    def _tls_flags(self) -> list[str]:
        if self.tls is None:
            return []
        return [
            f"--cert-file={self.tls.cert}",
            f"--key-file={self.tls.key}",
            f"--trusted-ca-file={self.tls.ca}",
            "--client-cert-auth",
        ]

    def _wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(
                    f"{self.endpoint}/health", timeout=1, context=self._ssl_context()
                ) as r:
                    if b'"true"' in r.read():
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        ctx = ssl.create_default_context(cafile=str(self.tls.ca))
        ctx.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        return ctx

    def _kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self._kill()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EtcdServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

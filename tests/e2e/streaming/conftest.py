"""A real ``pyk8s server`` (API server, kubelet, runc) with an nginx and a busybox pod, for
the streaming subresources driven by the real kubectl and the ``kubernetes`` Python client.

``Streaming.kubectl(version, ...)`` runs ``kubectl.<version>``; ``pty_run`` drives one
through a pseudo-terminal as a person at a terminal would."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import random
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from pyk8s.proxy.iptables import proxier
from tests.e2e.apiserver.conftest import _wait_ready, free_port, kubectl_binary
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.scheduler.conftest import _stop, wait_for
from tests.support import images

VERSIONS = ("1.33", "1.32")


def kubectl_path(version: str) -> str:
    binary = kubectl_binary(version)
    if binary is None:
        pytest.skip(f"kubectl.{version} is not installed")
    return binary


@dataclass
class Streaming:
    data_dir: Path
    kubeconfig: Path
    port: int

    def argv(self, version: str, *args: str) -> list[str]:
        return [kubectl_path(version), "--kubeconfig", str(self.kubeconfig),
                "--cache-dir", str(self.data_dir / f"kubectl-cache-{version}"), *args]  # fmt: skip

    def kubectl(
        self, version: str, *args: str, input: str | None = None, check: bool = True,
        env: dict[str, str] | None = None, timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        res = subprocess.run(
            self.argv(version, *args), capture_output=True, text=True, input=input,
            timeout=timeout, check=False, env={**os.environ, **(env or {})},
        )  # fmt: skip
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{res.stderr}")
        return res

    def apply(self, *docs: dict[str, Any]) -> None:
        self.kubectl("1.33", "apply", "--validate=false", "-f", "-",
                     input=yaml.safe_dump_all(docs))  # fmt: skip

    def pod(self, name: str) -> dict[str, Any]:
        res = self.kubectl("1.33", "get", "pod", name, "-o", "yaml", check=False)
        return yaml.safe_load(res.stdout) if res.returncode == 0 else {}

    def wait_running(self, name: str, timeout: float = 90) -> dict[str, Any]:
        wait_for(f"{name} to run",
                 lambda: (self.pod(name).get("status") or {}).get("phase") == "Running",
                 timeout=timeout)  # fmt: skip
        return self.pod(name)


class Terminal:
    """A kubectl on a pseudo-terminal: ``expect`` output, ``send`` keys, ``resize``."""

    def __init__(
        self, argv: list[str], rows: int = 40, cols: int = 100, env: dict[str, str] | None = None
    ) -> None:
        environ = {**os.environ, **(env or {})}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.execve(argv[0], argv, environ)
        self.resize(rows, cols, signal_child=False)
        self.output = b""
        self.code: int | None = None

    def resize(self, rows: int, cols: int, signal_child: bool = True) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        if signal_child:
            os.kill(self.pid, signal.SIGWINCH)

    def _read(self, timeout: float) -> bool:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return False
        self.output += data
        return bool(data)

    def expect(self, text: bytes, timeout: float = 30) -> None:
        start = len(self.output)
        end = time.monotonic() + timeout
        while text not in self.output[start - 200 if start > 200 else 0 :]:
            if time.monotonic() > end or not self._read(0.2):
                if text in self.output:
                    return
                raise AssertionError(f"{text!r} not seen; terminal shows {self.output!r}")

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 30) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                with contextlib.suppress(OSError):
                    while self._read(0.05):
                        pass
                self.code = os.waitstatus_to_exitcode(status)
                os.close(self.fd)
                return self.code
            self._read(0.1)
        self.kill()
        raise AssertionError(f"kubectl did not exit; terminal shows {self.output!r}")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _start(data: Path) -> tuple[Streaming, subprocess.Popen[bytes]]:
    """``pyk8s server`` on address ranges of its own, picked at random (and picked again if
    another cluster on this machine holds them), so it may run beside other test clusters."""
    rng = random.Random()
    for _attempt in range(5):
        octet = rng.randrange(100, 250, 2)
        ports = 36000 + rng.randrange(0, 40) * 100
        port = free_port()
        argv = [
            sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
            "--https-port", str(port), "--bind-address", "127.0.0.1",
            "--kubelet-port", str(free_port()), "--cluster-dns-port", str(free_port()),
            "--cluster-cidr", f"10.{octet}.0.0/16", "--service-cidr", f"10.{octet + 1}.0.0/16",
            "--service-node-port-range", f"{ports}-{ports + 99}",
        ]  # fmt: skip
        with (data / "server.log").open("ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(port, data / "server" / "tls" / "ca.crt", proc, time.monotonic() + 60)
        except RuntimeError:
            if "clash with what is running here" in (data / "server.log").read_text():
                continue
            _stop(proc)
            raise
        return Streaming(data, data / "kubeconfig.yaml", port), proc
    raise RuntimeError("no free address ranges for a test cluster")


@pytest.fixture(scope="package")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streaming]:
    _require_host()
    kubectl_path("1.33")
    data = tmp_path_factory.mktemp("pyk8s-streaming")
    imports = data / "images" / "import"
    imports.mkdir(parents=True)
    for image in ("busybox", "nginx"):
        (imports / f"{image}.tar").symlink_to(images.bootstrapped(image))
    s, proc = _start(data)
    try:
        s.apply(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "nginx", "image": "nginx"}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell"},
             "spec": {"terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "sh", "image": "busybox",
                                      "command": ["sleep", "3600"]}]}},
        )  # fmt: skip
        s.wait_running("web")
        s.wait_running("shell")
        yield s
    finally:
        _stop(proc)
        prefix = naming.prefix_for(data)
        asyncio.run(killall.killall(prefix, data))
        left = killall.leftovers(prefix, data)
        asyncio.run(proxier.cleanup(chain_prefix_for(prefix)))
    assert left == [], f"left on the host after killall: {left}"

"""A real ``pyk8s apiserver`` process on free ports (SQLite, its default store) and the
real kubectl binaries (``kubectl.1.33``, ``kubectl.1.32``) pointed at it."""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ports import free_port

VERSIONS = ("1.33", "1.32")


def kubectl_binary(version: str) -> str | None:
    found = shutil.which("kubectl")
    if found:
        candidate = Path(os.path.realpath(found)).parent / f"kubectl.{version}"
        if candidate.exists():
            return str(candidate)
    return shutil.which(f"kubectl.{version}")


@dataclass
class Server:
    data_dir: Path
    port: int
    kubeconfig: Path
    cache_dir: Path
    proc: subprocess.Popen[bytes]

    def kubectl(
        self,
        version: str,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[str]:
        binary = kubectl_binary(version)
        if binary is None:
            pytest.skip(f"kubectl.{version} is not installed")
        cmd = [
            binary,
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.cache_dir / version),
            *args,
        ]
        res = subprocess.run(
            cmd, capture_output=True, text=True, input=input, timeout=timeout, check=False
        )
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({res.returncode}):\n{res.stderr}")
        return res


def _wait_ready(port: int, ca: Path, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pyk8s apiserver exited with {proc.returncode}")
        if ca.exists():
            try:
                ctx = ssl.create_default_context(cafile=str(ca))
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=2
                ) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError("pyk8s apiserver did not become ready")


@contextlib.contextmanager
def running(
    data: Path,
    port: int | None = None,
    *,
    command: str = "apiserver",
    extra_args: Sequence[str] = (),
) -> Iterator[Server]:
    """``pyk8s apiserver`` (or ``command``) on ``data`` until the block ends. The API server
    alone runs without the ServiceAccount admission plugin, as upstream's integration tests
    and kubectl test suite run theirs: nothing would make the accounts it requires."""
    port = port or free_port()
    if command == "apiserver":
        extra_args = ("--disable-admission-plugins", "ServiceAccount", *extra_args)
    with (data / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyk8s",
                command,
                "--data-dir",
                str(data),
                "--https-port",
                str(port),
                "--bind-address",
                "127.0.0.1",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(port, data / "server" / "tls" / "ca.crt", proc, time.monotonic() + 30)
            yield Server(data, port, data / "kubeconfig.yaml", data / "cache", proc)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if kubectl_binary("1.33") is None:
        pytest.skip("kubectl.1.33 is not installed")
    with running(tmp_path_factory.mktemp("pyk8s")) as s:
        yield s

"""Debian's ``docker-registry`` (distribution 2.8) on loopback, with htpasswd or token auth."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.images.conftest import need_tools
from tests.support.ports import free_port

USER, PASSWORD = "alice", "s3cret"


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@contextlib.contextmanager
def docker_registry(
    tmp: Path,
    auth: str = "htpasswd",
    token: dict[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[Registry]:
    need_tools("docker-registry", "htpasswd")
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    if auth == "htpasswd":
        line = subprocess.run(
            ["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True
        ).stdout.strip()
        (tmp / "htpasswd").write_text(line + "\n")
        auth_cfg = f"  htpasswd: {{realm: test-realm, path: {tmp / 'htpasswd'}}}\n"
    elif auth == "token":
        assert token is not None
        auth_cfg = (
            "  token:\n"
            f"    realm: {token['realm']}\n"
            f"    service: {token['service']}\n"
            f"    issuer: {token['issuer']}\n"
            f"    rootcertbundle: {token['rootcertbundle']}\n"
        )
    else:
        auth_cfg = ""
    config = (
        "version: 0.1\n"
        "log: {level: info}\n"
        f"storage:\n  filesystem: {{rootdirectory: {tmp / 'data'}}}\n  delete: {{enabled: true}}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + (f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else "")
        + (f"auth:\n{auth_cfg}" if auth_cfg else "")
    )
    (tmp / "config.yml").write_text(config)
    log = tmp / "registry.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(tmp / "config.yml")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if tls:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for credentials
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry did not start:\n{log.read_text()}"
                    ) from None
                time.sleep(0.05)
        yield Registry(f"127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

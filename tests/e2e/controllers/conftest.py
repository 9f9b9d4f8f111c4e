"""A real ``pyk8s server`` (API server, controllers, scheduler; no node agent) and kubectl 1.33."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.e2e.apiserver.conftest import Server, _wait_ready, free_port, kubectl_binary

T = TypeVar("T")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if kubectl_binary("1.33") is None:
        pytest.skip("kubectl.1.33 is not installed")
    data = tmp_path_factory.mktemp("pyk8s-server")
    port = free_port()
    with (data / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyk8s",
                "server",
                "--disable-agent",
                "--data-dir",
                str(data),
                "--https-port",
                str(port),
                "--bind-address",
                "127.0.0.1",
                "--disable-agent",
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


def kubectl(cluster: Server, *args: str, check: bool = True, timeout: float = 60) -> str:
    return cluster.kubectl("1.33", *args, check=check, timeout=timeout).stdout


def get_json(cluster: Server, *args: str) -> Any:
    return json.loads(kubectl(cluster, "get", *args, "-o", "json"))


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.2)


@contextlib.contextmanager
def kubelet_stand_in(cluster: Server, namespace: str = "default") -> Iterator[None]:
    """No kubelet runs in these tests: mark pods Running and Ready as one would."""
    stop = threading.Event()
    done: set[str] = set()

    def loop() -> None:
        while not stop.is_set():
            res = cluster.kubectl("1.33", "get", "pods", "-n", namespace, "-o", "json", check=False)
            if res.returncode == 0:
                for pod in json.loads(res.stdout)["items"]:
                    md = pod["metadata"]
                    if md["uid"] in done or md.get("deletionTimestamp"):
                        continue
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    patch = {
                        "status": {
                            "phase": "Running",
                            "conditions": [
                                {"type": "Ready", "status": "True", "lastTransitionTime": now}
                            ],
                        }
                    }
                    r = cluster.kubectl(
                        "1.33",
                        "patch",
                        "pod",
                        md["name"],
                        "-n",
                        namespace,
                        "--subresource=status",
                        "--type=merge",
                        "-p",
                        json.dumps(patch),
                        check=False,
                    )
                    if r.returncode == 0:
                        done.add(md["uid"])
            stop.wait(0.3)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def log_tail(cluster: Server) -> str:
    return Path(cluster.data_dir / "server.log").read_text()[-3000:]

"""A real ``pyk8s server`` process (API server, controllers and scheduler; no kubelet),
Nodes created by hand with capacity, labels and taints, and the real kubectl.

``Cluster.scheduler`` starts a second ``pyk8s scheduler`` process against it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.e2e.apiserver.conftest import _wait_ready, free_port, kubectl_binary

T = TypeVar("T")
KUBECTL = "1.33"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Cluster:
    data_dir: Path
    kubeconfig: Path

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        binary = kubectl_binary(KUBECTL)
        assert binary is not None
        res = subprocess.run(
            [
                binary,
                "--kubeconfig",
                str(self.kubeconfig),
                "--cache-dir",
                str(self.data_dir / "kubectl-cache"),
                *args,
            ],
            capture_output=True,
            text=True,
            input=input,
            timeout=30,
            check=False,
        )
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{res.stderr}")
        return res

    def apply(self, *docs: dict[str, Any]) -> None:
        # --validate=false: the server does not serve /openapi yet.
        self.kubectl("create", "--validate=false", "-f", "-", input=yaml.safe_dump_all(docs))

    def delete_pods(self, *names: str, ns: str = "default") -> None:
        """Gone at once: there is no kubelet to confirm a graceful deletion."""
        self.kubectl(
            "delete", "pods", "-n", ns, *names, "--force", "--grace-period=0", "--ignore-not-found"
        )

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    @contextlib.contextmanager
    def scheduler(self, *args: str, log_name: str = "scheduler.log") -> Iterator[Path]:
        """``pyk8s scheduler ARGS`` until the block ends; yields its log file."""
        log_path = self.data_dir / log_name
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pyk8s",
                    "scheduler",
                    f"--kubeconfig={self.kubeconfig}",
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                yield log_path
            finally:
                _stop(proc)


@contextlib.contextmanager
def kept_ready(cluster: Cluster, names: list[str], period: float = 10) -> Iterator[None]:
    """Post the nodes' Ready condition every ``period`` seconds, as their kubelets would:
    without it the node lifecycle controller finds hand-made nodes silent 50 s on and
    taints them unreachable, and a slow run's later tests would meet that taint."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(period):
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            ready = {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now,
            }
            patch = json.dumps({"status": {"conditions": [ready]}})
            for name in names:
                if stop.is_set():
                    return
                cluster.kubectl(
                    "patch", "node", name, "--subresource=status", "-p", patch, check=False
                )

    thread = threading.Thread(target=beat, name="node heartbeats", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def node(
    name: str,
    cpu: str,
    memory: str = "8Gi",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A Node as a kubelet would register it: capacity, allocatable, Ready."""
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
        },
    }


def pod(name: str, cpu: str = "", **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "nginx"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    data = tmp_path_factory.mktemp("pyk8s-sched")
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
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(port, data / "server" / "tls" / "ca.crt", proc, time.monotonic() + 30)
            yield Cluster(data, data / "kubeconfig.yaml")
        finally:
            _stop(proc)

"""``pyk8s server`` runs the scheduler as a supervised child process: the child schedules
pods, is started again when it is killed, and no child outlives the server, whether the
server is stopped (SIGTERM) or killed (SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.apiserver.conftest import _wait_ready, free_port, kubectl_binary
from tests.e2e.scheduler.conftest import KUBECTL, Cluster, node, pod, wait_for

pytestmark = pytest.mark.e2e


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    return out


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except FileNotFoundError:
        return []


def scheduler_child(server: int) -> int | None:
    for c in children(server):
        if "scheduler" in cmdline(c):
            return c
    return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def server(data: Path, *extra: str) -> Iterator[tuple[Cluster, subprocess.Popen[bytes]]]:
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    port = free_port()
    with (data / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "pyk8s", "server", "--disable-agent"),
                *("--data-dir", str(data), "--https-port", str(port)),
                *("--bind-address", "127.0.0.1", *extra),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(port, data / "server" / "tls" / "ca.crt", proc, time.monotonic() + 30)
            yield Cluster(data, data / "kubeconfig.yaml"), proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def bound(cluster: Cluster, name: str) -> str:
    return str(cluster.get("pod", name)["spec"].get("nodeName") or "")


def test_the_scheduler_child_schedules_is_restarted_and_stops_with_the_server(
    tmp_path: Path,
) -> None:
    with server(tmp_path) as (cluster, proc):
        first = wait_for("the scheduler child", lambda: scheduler_child(proc.pid))
        # its own identity, as kubeadm's scheduler.conf: system:kube-scheduler, not the admin
        own = f"--kubeconfig={tmp_path / 'server' / 'cred' / 'scheduler.kubeconfig'}"
        assert own in cmdline(first)
        cluster.apply(node("child-node", "4"), pod("before", cpu="100m"))
        assert wait_for("pod before bound", lambda: bound(cluster, "before"), 30) == "child-node"

        os.kill(first, signal.SIGKILL)
        second = wait_for(
            "a new scheduler child",
            lambda: (c := scheduler_child(proc.pid)) is not None and c != first and c,
        )
        assert not alive(first)
        cluster.apply(pod("after", cpu="100m"))
        # the killed child held the Lease: the new one takes it once it expires (15 s)
        assert wait_for("pod after bound", lambda: bound(cluster, "after"), 60) == "child-node"
        log = (tmp_path / "server.log").read_text()
        assert "[scheduler] " in log and "scheduler exited with code -9" in log

        proc.terminate()
        assert proc.wait(20) == 0
        assert not alive(second), "the scheduler child outlived the server"


def test_a_killed_server_leaves_no_scheduler_child(tmp_path: Path) -> None:
    with server(tmp_path) as (_, proc):
        child = wait_for("the scheduler child", lambda: scheduler_child(proc.pid))
        proc.kill()
        proc.wait()
        wait_for("the orphaned scheduler to exit", lambda: not alive(child), 15)


def test_in_process_components_start_no_child(tmp_path: Path) -> None:
    with server(tmp_path, "--in-process-components") as (cluster, proc):
        cluster.apply(node("inproc-node", "4"), pod("inproc", cpu="100m"))
        assert wait_for("pod bound", lambda: bound(cluster, "inproc"), 30) == "inproc-node"
        assert scheduler_child(proc.pid) is None

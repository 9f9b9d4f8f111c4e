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
from tests.support import etcdserver

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


def lease_holder(cluster: Cluster) -> str:
    res = cluster.kubectl("get", "lease", "-n", "kube-system", "kube-scheduler", check=False)
    if res.returncode != 0:
        return ""
    return str(
        cluster.get("lease", "-n", "kube-system", "kube-scheduler")["spec"]["holderIdentity"]
    )


def leads(data: Path) -> bool:
    log = (data / "server.log").read_text()
    return "[scheduler] " in log and "successfully acquired lease kube-system/kube-scheduler" in log


def test_two_servers_on_etcd_elect_one_scheduler_child_and_fail_over(tmp_path: Path) -> None:
    """Several servers (HA on etcd): every server's scheduler child stands for the one
    Lease; when the leader's server stops, another server's child takes over."""
    if etcdserver.binary() is None:
        pytest.skip("etcd is not installed (Debian etcd-server)")
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    for d in (a_dir, b_dir, tmp_path / "etcd"):
        d.mkdir()
    with etcdserver.EtcdServer(tmp_path / "etcd") as etcd:
        store = ("--datastore-endpoint", etcd.endpoint)
        with server(a_dir, *store) as (a, proc_a), server(b_dir, *store) as (b, proc_b):
            child_a = wait_for("server a's scheduler", lambda: scheduler_child(proc_a.pid))
            child_b = wait_for("server b's scheduler", lambda: scheduler_child(proc_b.pid))
            holder = wait_for("a scheduler to lead", lambda: lease_holder(b), 30)
            a.apply(node("ha-node", "4"), pod("ha-before", cpu="100m"))
            assert wait_for("ha-before bound", lambda: bound(b, "ha-before"), 30) == "ha-node"
            # both children run; exactly one leads, the other stands by
            assert alive(child_a) and alive(child_b)
            assert leads(a_dir) != leads(b_dir)
            leader_proc, other = (proc_a, b) if leads(a_dir) else (proc_b, a)

            leader_proc.terminate()
            assert leader_proc.wait(20) == 0
            other.apply(pod("ha-after", cpu="100m"))
            assert wait_for("ha-after bound", lambda: bound(other, "ha-after"), 60) == "ha-node"
            assert lease_holder(other) not in ("", holder)

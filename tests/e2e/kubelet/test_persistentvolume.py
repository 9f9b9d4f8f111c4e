"""The seed's PersistentVolume lesson against a real ``pyk8s server`` with its node agent,
driven with the real kubectl 1.33: a hostPath volume and a claim are bound by the
PersistentVolume controller, a busybox pod writes through the claim into the host
directory, and deleting the claim (once its pod is gone: pvc-protection) releases (Retain)
or deletes (Delete) the volume."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyk8s.kubelet.runtime import killall, naming
from pyk8s.proxy.config import chain_prefix_for
from pyk8s.proxy.iptables import proxier
from tests.e2e.apiserver.conftest import free_port, kubectl_binary
from tests.e2e.cluster.conftest import free_ranges
from tests.e2e.kubelet.conftest import _require_host
from tests.e2e.kubelet.test_kubectl import KubeletCluster
from tests.e2e.scheduler.conftest import KUBECTL, wait_for
from tests.support import images

pytestmark = pytest.mark.e2e

PV_YAML = """\
apiVersion: v1
kind: PersistentVolume
metadata:
  name: {name}

spec:
  accessModes:

    - ReadWriteOnce
  capacity:
    storage: 1Gi
  persistentVolumeReclaimPolicy: {policy}
  hostPath:
    path: {path}
"""

PVC_YAML = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {name}
spec:
  accessModes:
    - ReadWriteOnce

  resources:
    requests:
      storage: 500Mi
"""

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: mypod
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: myfrontend
      image: busybox
      command: ["sh", "-c", "echo written by mypod > /var/www/html/index.html; sleep 3600"]
      volumeMounts:
      - mountPath: "/var/www/html"
        name: mypd
  volumes:
    - name: mypd
      persistentVolumeClaim:
        claimName: myclaim
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletCluster]:
    """A server with its node agent, on address ranges no other cluster here holds."""
    _require_host()
    if kubectl_binary(KUBECTL) is None:
        pytest.skip(f"kubectl.{KUBECTL} is not installed")
    data = tmp_path_factory.mktemp("pyk8s-pv")
    imports = data / "images" / "import"
    imports.mkdir(parents=True)
    (imports / "busybox.tar").symlink_to(images.bootstrapped("busybox"))
    c: KubeletCluster | None = None
    try:
        for _attempt in range(5):
            # a random pick among the free ones: another run may be choosing right now
            ranges = random.choice(free_ranges(5, start=160))
            port = free_port()
            argv = [
                sys.executable, "-m", "pyk8s", "server", "--data-dir", str(data),
                "--https-port", str(port), "--bind-address", "127.0.0.1",
                "--kubelet-port", str(free_port()), "--cluster-dns-port", str(free_port()),
                *ranges.flags(),
            ]  # fmt: skip
            c = KubeletCluster(data, data / "kubeconfig.yaml", argv=argv, port=port)
            try:
                c.start()
                break
            except RuntimeError:
                c.stop()
                if "clash with what is running here" not in (data / "server.log").read_text():
                    raise
        else:
            raise RuntimeError("no free address ranges for a test cluster")
        yield c
    finally:
        if c is not None:
            c.stop()
        prefix = naming.prefix_for(data)
        asyncio.run(killall.killall(prefix, data))
        left = killall.leftovers(prefix, data)
        asyncio.run(proxier.cleanup(chain_prefix_for(prefix)))
    assert left == [], f"left on the host after killall: {left}"


def _get(c: KubeletCluster, *args: str) -> Any:
    res = c.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


def _phase(c: KubeletCluster, kind: str, name: str) -> str:
    obj = _get(c, kind, name)
    return str(((obj or {}).get("status") or {}).get("phase") or "")


def _create(c: KubeletCluster, tmp: Path, name: str, text: str) -> str:
    f = tmp / name
    f.write_text(text)
    return c.kubectl("create", "-f", str(f)).stdout


def _row(c: KubeletCluster, *args: str) -> list[str]:
    lines = c.kubectl("get", *args).stdout.splitlines()
    assert len(lines) == 2, lines
    return lines[1].split()


def test_seed_volume_claim_and_pod(cluster: KubeletCluster, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    try:
        out = _create(cluster, tmp_path, "pv-definition.yaml",
                      PV_YAML.format(name="pv-vol1", policy="Retain", path=data))  # fmt: skip
        assert out == "persistentvolume/pv-vol1 created\n"
        wait_for("pv-vol1 Available", lambda: _phase(cluster, "pv", "pv-vol1") == "Available",
                 timeout=60)  # fmt: skip
        out = _create(cluster, tmp_path, "pvc-definition.yaml", PVC_YAML.format(name="myclaim"))
        assert out == "persistentvolumeclaim/myclaim created\n"
        _create(cluster, tmp_path, "pod-definition.yaml", POD_YAML)
        wait_for("myclaim Bound", lambda: _phase(cluster, "pvc", "myclaim") == "Bound",
                 timeout=60)  # fmt: skip
        # kubectl get persistentvolumeclaim: NAME STATUS VOLUME CAPACITY ACCESS MODES ...
        assert _row(cluster, "persistentvolumeclaim")[:5] == [
            "myclaim", "Bound", "pv-vol1", "1Gi", "RWO",
        ]  # fmt: skip
        # kubectl get persistentvolume: NAME CAPACITY ACCESS RECLAIM STATUS CLAIM ...
        assert _row(cluster, "persistentvolume")[:6] == [
            "pv-vol1", "1Gi", "RWO", "Retain", "Bound", "default/myclaim",
        ]  # fmt: skip
        pv = _get(cluster, "pv", "pv-vol1")
        assert pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
        pvc = _get(cluster, "pvc", "myclaim")
        assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
        assert pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        assert pvc["status"]["capacity"] == {"storage": "1Gi"}

        index = data / "index.html"
        wait_for("the pod to write into the volume", index.exists, timeout=90)
        wait_for("the whole line", lambda: index.read_text() == "written by mypod\n", timeout=30)
        wait_for("mypod Running", lambda: _phase(cluster, "pod", "mypod") == "Running",
                 timeout=60)  # fmt: skip
        res = cluster.kubectl("exec", "mypod", "--", "cat", "/var/www/html/index.html")
        assert res.stdout == "written by mypod\n"

        # in use: the claim waits for its pod (kubernetes.io/pvc-protection)
        out = cluster.kubectl("delete", "persistentvolumeclaim", "myclaim", "--wait=false").stdout
        assert out == 'persistentvolumeclaim "myclaim" deleted\n'
        assert _row(cluster, "pvc")[:3] == ["myclaim", "Terminating", "pv-vol1"]
        assert _phase(cluster, "pv", "pv-vol1") == "Bound"
        cluster.kubectl("delete", "pod", "mypod", "--timeout=60s")
        wait_for("myclaim to be gone", lambda: _get(cluster, "pvc", "myclaim") is None,
                 timeout=60)  # fmt: skip
        wait_for("pv-vol1 Released", lambda: _phase(cluster, "pv", "pv-vol1") == "Released",
                 timeout=60)  # fmt: skip
        assert _row(cluster, "pv")[:6] == [
            "pv-vol1", "1Gi", "RWO", "Retain", "Released", "default/myclaim",
        ]  # fmt: skip
        assert index.read_text() == "written by mypod\n"  # Retain keeps the data
    finally:
        cluster.kubectl("delete", "pod", "mypod", "--ignore-not-found", "--timeout=60s",
                        check=False)  # fmt: skip
        cluster.kubectl("delete", "pvc", "myclaim", "--ignore-not-found", check=False)
        cluster.kubectl("delete", "pv", "pv-vol1", "--ignore-not-found", check=False)


def test_claim_waits_for_a_volume_then_delete_policy(
    cluster: KubeletCluster,
    tmp_path: Path,
) -> None:
    # upstream's hostPath deleter only removes directories under /tmp/
    data = Path(tempfile.mkdtemp(prefix="pyk8s-pv-", dir="/tmp"))
    (data / "old").write_text("x")
    try:
        _create(cluster, tmp_path, "pvc.yaml", PVC_YAML.format(name="early"))

        def failed_binding() -> bool:
            res = cluster.kubectl("describe", "pvc", "early", check=False)
            return "no persistent volumes available for this claim and no storage class is set" \
                in res.stdout  # fmt: skip

        wait_for("a FailedBinding event", failed_binding, timeout=60)
        assert _phase(cluster, "pvc", "early") == "Pending"
        _create(cluster, tmp_path, "pv.yaml",
                PV_YAML.format(name="scratch", policy="Delete", path=data))  # fmt: skip
        wait_for("early Bound", lambda: _phase(cluster, "pvc", "early") == "Bound", timeout=60)
        assert _get(cluster, "pvc", "early")["spec"]["volumeName"] == "scratch"
        cluster.kubectl("delete", "pvc", "early")
        wait_for("the scratch volume to be deleted", lambda: _get(cluster, "pv", "scratch") is None,
                 timeout=60)  # fmt: skip
        assert not data.exists()  # a hostPath under /tmp is deleted with its volume
    finally:
        cluster.kubectl("delete", "pvc", "early", "--ignore-not-found", check=False)
        cluster.kubectl("delete", "pv", "scratch", "--ignore-not-found", check=False)
        shutil.rmtree(data, ignore_errors=True)

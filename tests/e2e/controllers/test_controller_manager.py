"""``pyk8s controller-manager`` alone, joined by kubeconfig to a ``pyk8s apiserver``
that runs no controllers of its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.apiserver.conftest import Server, kubectl_binary, running
from tests.e2e.controllers.conftest import get_json, kubectl, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def apiserver_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if kubectl_binary("1.33") is None:
        pytest.skip("kubectl.1.33 is not installed")
    with running(tmp_path_factory.mktemp("pyk8s-apiserver")) as s:
        yield s


def test_standalone_controller_manager(apiserver_only: Server, tmp_path: Path) -> None:
    s = apiserver_only
    kubectl(s, "create", "namespace", "before")
    # No controllers yet: nothing creates the default ServiceAccount.
    assert s.kubectl("1.33", "get", "sa", "default", "-n", "before", check=False).returncode != 0
    with (tmp_path / "cm.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyk8s",
                "controller-manager",
                "--kubeconfig",
                str(s.kubeconfig),
                "--controllers=*,-garbagecollector",
                "--controllers=-endpointslice",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: (
                    s.kubectl(
                        "1.33", "get", "sa", "default", "-n", "before", check=False
                    ).returncode
                    == 0
                ),
                what="default ServiceAccount",
            )
            kubectl(s, "create", "deployment", "solo", "--image=nginx", "--replicas=2")
            wait_for(
                lambda: len(get_json(s, "pods", "-l", "app=solo")["items"]) == 2, what="2 pods"
            )
            lease = get_json(s, "lease", "kube-controller-manager", "-n", "kube-system")
            assert lease["spec"]["holderIdentity"]
        finally:
            proc.terminate()
            proc.wait(20)
    out = (tmp_path / "cm.log").read_text()
    line = out.split("controller-manager: starting ", 1)[1].splitlines()[0]
    started = set(line.split(", "))
    assert "replicaset-controller" in started
    assert "garbage-collector-controller" not in started
    assert "endpointslice-controller" not in started


def test_unknown_controller_is_refused(apiserver_only: Server) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyk8s",
            "controller-manager",
            "--kubeconfig",
            str(apiserver_only.kubeconfig),
            "--controllers=*,-nosuch",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode != 0
    assert "nosuch" in res.stderr

"""Custom resources survive a restart of ``pyk8s apiserver`` (SQLite) and are served as soon
as it reports ready: the CRDs are read before readiness, as upstream's crdHandler waits for
its informer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.apiserver.conftest import kubectl_binary, running
from tests.e2e.controllers.test_customresources import CRD, crontab


def test_custom_resources_survive_a_restart(tmp_path: Path) -> None:
    if kubectl_binary("1.33") is None:
        pytest.skip("kubectl.1.33 is not installed")
    with running(tmp_path) as s:
        s.kubectl("1.33", "apply", "-f", "-", input=CRD)
        s.kubectl("1.33", "wait", "--for", "condition=established",
                  "crd/crontabs.stable.example.com", "--timeout=30s")  # fmt: skip
        s.kubectl("1.33", "apply", "-f", "-", input=crontab("kept"))
    with running(tmp_path) as s:
        out = s.kubectl("1.33", "get", "crontabs", "-o", "name").stdout
        assert out.strip() == "crontab.stable.example.com/kept"
        got = s.kubectl("1.33", "get", "ct", "kept", "-o", "jsonpath={.spec.image}").stdout
        assert got == "busybox"

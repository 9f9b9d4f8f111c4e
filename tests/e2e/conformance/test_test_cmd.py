"""Upstream's kubectl suite (``test/cmd`` of Debian's kubernetes 1.20.2 source, fetched and
cached at run time): every function in ``conformance/allow-list.txt`` passes against a fresh
``pyk8s server`` (no kubelet, a fake Node), driven by the real ``kubectl.1.32``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import harness

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="session")
def tree() -> Iterator[Path]:
    if harness.kubectl_binary() is None:
        pytest.skip(f"kubectl.{harness.KUBECTL_VERSION} is not installed")
    if missing := harness.missing_tools():
        pytest.skip(f"missing on PATH: {' '.join(missing)}")
    try:
        path = harness.source_tree()
    except subprocess.CalledProcessError as e:
        pytest.skip(f"could not get Debian's kubernetes source package: {e.stderr[-2000:]}")
    yield path
    harness.tidy(path)


def test_allow_list_names_upstream_functions(tree: Path) -> None:
    upstream = harness.functions(tree)
    assert len(upstream) > 60
    listed = harness.allow_list() + list(harness.expected_failures())
    assert [s for s in listed if s not in upstream] == []
    assert set(harness.allow_list()).isdisjoint(harness.expected_failures())


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stem", harness.allow_list())
def test_function(stem: str, tree: Path, tmp_path: Path) -> None:
    kubectl = harness.kubectl_binary()
    assert kubectl is not None
    outcome = harness.run_function(tree, stem, tmp_path / stem, kubectl=kubectl, timeout=240)
    if outcome.status != harness.PASS:
        tail = "\n".join(outcome.log.read_text(errors="replace").splitlines()[-60:])
        server_log = (tmp_path / stem / "server.log").read_text(errors="replace")[-3000:]
        pytest.fail(
            f"run_{stem}_tests: {outcome.detail}\n--- test-cmd output (tail) ---\n{tail}"
            f"\n--- server log (tail) ---\n{server_log}"
        )

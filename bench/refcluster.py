"""The reference control plane for benchmarks: kube-apiserver v1.20.2 + etcd on loopback.

``started()`` is a context manager that yields the reference's kubeconfig path: the one
``REF_KUBECONFIG`` names when set (a cluster someone started), else a cluster it starts itself
with ``bench/reference/start-ref-cluster.sh`` from the binaries ``hack/build-reference.sh``
cached, and stops afterwards; None when neither is available (the benchmark then prints
pyk8s' columns alone).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCRIPTS = HERE / "reference"


def binaries() -> Path | None:
    """The directory with the cached reference binaries, or None when not built."""
    found = subprocess.run(
        [str(REPO / "hack" / "build-reference.sh"), "--check"],
        check=False,
        capture_output=True,
        text=True,
    )
    return Path(found.stdout.strip()) if found.returncode == 0 else None


@contextlib.contextmanager
def cluster(run_dir: Path, **env: str) -> Iterator[Path]:
    """Start a reference cluster in ``run_dir`` (extra ``REF_*`` settings in ``env``); yields
    its kubeconfig; stops it (and only it) on exit."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("the reference is not built (make reference)")
    full = {**os.environ, "REF_BIN": str(bin_dir), "REF_DIR": str(run_dir), **env}
    try:
        subprocess.run(
            [str(SCRIPTS / "start-ref-cluster.sh")], env=full, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        yield run_dir / "kubeconfig"
    finally:
        subprocess.run(
            [str(SCRIPTS / "stop-ref-cluster.sh")], env={**full, "REF_WIPE": "1"},
            check=False, stderr=subprocess.DEVNULL,
        )  # fmt: skip


@contextlib.contextmanager
def started() -> Iterator[Path | None]:
    given = os.environ.get("REF_KUBECONFIG")
    if given:
        yield Path(given)
        return
    if binaries() is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="pyk8s-ref-") as d, cluster(Path(d)) as kc:
        yield kc

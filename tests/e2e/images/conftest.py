"""Fixtures for the image tests: real images (tests/support/images.py), a fresh store,
and running a command in an image on a real overlayfs mount."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pyk8s.images import store as store_mod
from tests.support import images


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, mknod, overlayfs mounts)")


def need_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(
            f"missing {', '.join(missing)} (installed by make deps from hack/system-packages.txt)"
        )


@pytest.fixture(scope="session")
def image_tarball() -> Callable[[str], Path]:
    """``image_tarball("busybox")``: an exported tarball of a bootstrapped image (cached)."""

    def get(name: str) -> Path:
        need_root()
        need_tools("debootstrap", "apt-get", "dpkg-deb", "unshare")
        return images.bootstrapped(name)

    return get


@pytest.fixture
def store(tmp_path: Path) -> store_mod.Store:
    return store_mod.Store(tmp_path / "data" / "images")


def run_in_image(
    store: store_mod.Store,
    image: store_mod.Image,
    tmp: Path,
    script: str,
    *,
    net: bool = False,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Mount ``image`` as overlayfs in a private mount namespace and run ``script`` there.

    ``$ROOT`` in the script is the merged root; every mount (and, with ``net``, the network
    namespace) ends with the process.
    """
    lowers = ":".join(str(p) for p in store.lower_dirs(image))
    work = tmp / "ctr"
    for d in ("upper", "work", "merged"):
        (work / d).mkdir(parents=True, exist_ok=True)
    merged = work / "merged"
    opts = f"lowerdir={lowers},upperdir={work / 'upper'},workdir={work / 'work'}"
    prelude = (
        "set -e\n"
        f"ROOT={shlex.quote(str(merged))}\n"
        f'mount -t overlay overlay -o {shlex.quote(opts)} "$ROOT"\n'
        'mount -t proc proc "$ROOT/proc"\n'
        'mount --rbind /dev "$ROOT/dev"\n'
    )
    if net:
        prelude += "ip link set lo up\n"
    cmd = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child"]
    if net:
        cmd.append("--net")
    return subprocess.run(
        [*cmd, "sh", "-c", prelude + script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

"""Real images for the image tests, made by ``pyk8s image bootstrap`` once and cached.

The cache (a store plus one exported tarball per image) lives outside the repository, in
``/var/cache/pyk8s-test-images`` (root) or ``~/.cache/pyk8s-test-images``, or where
``PYK8S_TEST_IMAGE_CACHE`` says, so CI makes each image once. Bump ``CACHE_VERSION`` when
bootstrap changes what it makes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyk8s.images import archive, bootstrap
from pyk8s.images import store as store_mod

CACHE_VERSION = "1"


def cache_root() -> Path:
    env = os.environ.get("PYK8S_TEST_IMAGE_CACHE")
    if env:
        base = Path(env)
    elif os.geteuid() == 0:
        base = Path("/var/cache/pyk8s-test-images")
    else:
        base = Path.home() / ".cache" / "pyk8s-test-images"
    return base / f"v{CACHE_VERSION}"


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, mknod, overlayfs mounts)")


def need_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(
            f"missing {', '.join(missing)} (installed by make deps from hack/system-packages.txt)"
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def image_tarball() -> Callable[[str], Path]:
    """``image_tarball("busybox")``: an exported tarball of a bootstrapped image (cached)."""

    def get(name: str) -> Path:
        need_root()
        need_tools("debootstrap", "apt-get", "dpkg-deb", "unshare")
        root = cache_root()
        tar = root / f"{name}.tar"
        with _locked(root / "lock"):
            if not tar.exists():
                store = store_mod.Store(root / "store")
                image = bootstrap.bootstrap(store, name, lambda line: None)
                names = store.resolve(image.target).names
                archive.export_archive(store, list(names), tar)
        return tar

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

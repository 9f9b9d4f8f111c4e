"""Real images for any test: ``bootstrapped("busybox")`` is a tarball of the image that
``pyk8s image bootstrap`` makes, built once and cached outside the repository, in
``/var/cache/pyk8s-test-images`` (root), ``~/.cache/pyk8s-test-images``, or where
``PYK8S_TEST_IMAGE_CACHE`` says; import it into a test's store with
``archive.import_archive(store, bootstrapped("nginx"))`` or ``pyk8s image import``.
Bump ``CACHE_VERSION`` when bootstrap changes what it makes. Needs root and Debian's mirror
the first time (minutes for debian-based images; seconds afterwards).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from pyk8s.images import archive, bootstrap
from pyk8s.images import store as store_mod

CACHE_VERSION = "1"
NAMES = ("busybox", "debian", "debian-slim", "nginx", "python")


def cache_root() -> Path:
    env = os.environ.get("PYK8S_TEST_IMAGE_CACHE")
    if env:
        base = Path(env)
    elif os.geteuid() == 0:
        base = Path("/var/cache/pyk8s-test-images")
    else:
        base = Path.home() / ".cache" / "pyk8s-test-images"
    return base / f"v{CACHE_VERSION}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def bootstrapped(name: str) -> Path:
    """The tarball of bootstrapped image ``name`` (one of ``NAMES``), made if missing."""
    root = cache_root()
    tar = root / f"{name}.tar"
    with _locked(root / "lock"):
        if not tar.exists():
            store = store_mod.Store(root / "store")
            image = bootstrap.bootstrap(store, name, lambda line: None)
            names = store.resolve(image.target).names
            archive.export_archive(store, list(names), tar)
    return tar

"""Bootstrapped images are real: their programs run on an overlayfs of their layers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pyk8s.images import archive
from pyk8s.images import store as store_mod
from tests.e2e.images.conftest import run_in_image

# The first run makes the images (debootstrap, apt-get): minutes, once; later runs import
# them from the cache in seconds.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


def test_busybox(
    image_tarball: Callable[[str], Path], store: store_mod.Store, tmp_path: Path
) -> None:
    archive.import_archive(store, image_tarball("busybox"))
    image = store.resolve("busybox")
    assert image.config["config"]["Cmd"] == ["sh"]
    assert {"docker.io/library/busybox:latest", "docker.io/library/busybox:1.37"} <= set(
        image.names
    )
    p = run_in_image(
        store,
        image,
        tmp_path,
        'chroot "$ROOT" /bin/sh -c "busybox | head -1; ls /bin | wc -l; id -un"\n'
        # bookworm's busybox 1.35 crashes on wget -T; 1.37 reports the refused connection.
        'chroot "$ROOT" /bin/wget -T 2 -q -O- http://127.0.0.1:9/ 2>&1 || echo "wget exit $?"\n',
        net=True,
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("BusyBox v1.37"), p.stdout
    assert int(lines[1]) > 250  # every applet linked
    assert lines[2] == "root"
    assert "refused" in p.stdout and "wget exit 1" in p.stdout, p.stdout


def test_nginx_serves_the_welcome_page(
    image_tarball: Callable[[str], Path], store: store_mod.Store, tmp_path: Path
) -> None:
    archive.import_archive(store, image_tarball("nginx"))
    image = store.resolve("nginx:latest")
    cfg = image.config["config"]
    assert cfg["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}}
    assert len(image.diff_ids) == 2  # debian + the nginx layer
    fetch = (
        "import urllib.request,time\n"
        "for i in range(100):\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://127.0.0.1/').read().decode()); break\n"
        "    except OSError: time.sleep(0.1)\n"
    )
    p = run_in_image(
        store,
        image,
        tmp_path,
        "chroot \"$ROOT\" nginx -g 'daemon off;' &\n"
        f"python3 -c {__import__('shlex').quote(fetch)}\n",
        net=True,
    )
    assert p.returncode == 0, p.stderr
    assert "Welcome to nginx!" in p.stdout


def test_python_and_debian(
    image_tarball: Callable[[str], Path], store: store_mod.Store, tmp_path: Path
) -> None:
    archive.import_archive(store, image_tarball("python"))
    archive.import_archive(store, image_tarball("debian"))
    debian = store.resolve("debian:bookworm")
    python = store.resolve("python:3")
    assert python.diff_ids[0] == debian.diff_ids[0]  # the base layer is shared
    assert len(list(store.layers_dir.iterdir())) == 2
    p = run_in_image(
        store,
        python,
        tmp_path,
        'chroot "$ROOT" python3 -c "import sys; print(sys.version_info[0])"\n'
        'chroot "$ROOT" python -c "print(6*7)"\n'
        'chroot "$ROOT" cat /etc/debian_version\n'
        'chroot "$ROOT" sh -c "ls /var/lib/apt/lists | grep -c _ || true"\n',
    )
    assert p.returncode == 0, p.stderr
    major, answer, version, lists = p.stdout.splitlines()
    assert (major, answer, lists) == ("3", "42", "0")
    assert version.startswith("12.")


def test_debian_slim(
    image_tarball: Callable[[str], Path], store: store_mod.Store, tmp_path: Path
) -> None:
    archive.import_archive(store, image_tarball("debian-slim"))
    archive.import_archive(store, image_tarball("debian"))
    slim, full = store.resolve("debian:bookworm-slim"), store.resolve("debian:bookworm")
    assert store.image_size(slim) < store.image_size(full) * 0.9
    assert slim.config["config"]["Cmd"] == ["bash"]
    p = run_in_image(
        store,
        slim,
        tmp_path,
        'chroot "$ROOT" sh -c "ls /usr/share/man | wc -l; ls /usr/share/doc/bash; '
        'cat /etc/dpkg/dpkg.cfg.d/docker | head -1; apt-get --version | head -1"\n',
    )
    assert p.returncode == 0, p.stderr
    man, doc, exclude, apt = p.stdout.splitlines()
    assert (man, doc) == ("0", "copyright")
    assert exclude == "path-exclude /usr/share/doc/*"
    assert apt.startswith("apt ")

"""Our tarballs against an independent implementation: skopeo reads what we export, and we
import what skopeo writes (OCI layout and docker-archive)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pyk8s.images import archive
from pyk8s.images import store as store_mod
from tests.e2e.images.conftest import need_tools

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def skopeo(*args: str) -> str:
    p = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_skopeo_reads_our_export_and_we_read_its_archives(
    image_tarball: Callable[[str], Path], store: store_mod.Store, tmp_path: Path
) -> None:
    need_tools("skopeo")
    archive.import_archive(store, image_tarball("busybox"))
    image = store.resolve("busybox:latest")
    ours = tmp_path / "ours.tar"
    archive.export_archive(store, ["busybox:latest"], ours)

    raw = skopeo("inspect", "--raw", "oci-archive:" + str(ours))
    assert json.loads(raw) == image.manifest.raw
    cfg = json.loads(skopeo("inspect", "--config", "docker-archive:" + str(ours)))
    assert cfg["rootfs"]["diff_ids"] == image.diff_ids

    docker_tar, oci_tar = tmp_path / "docker.tar", tmp_path / "oci.tar"
    skopeo("copy", "oci-archive:" + str(ours), f"docker-archive:{docker_tar}:example.com/bb:copied")
    skopeo("copy", "docker-archive:" + str(ours), f"oci-archive:{oci_tar}:localhost/bb:oci")
    other = store_mod.Store(tmp_path / "other")
    [from_docker] = archive.import_archive(other, docker_tar)
    [from_oci] = archive.import_archive(other, oci_tar)
    assert from_docker.names == ("example.com/bb:copied",)
    assert from_oci.names == ("localhost/bb:oci",)
    for imp in (from_docker, from_oci):
        assert imp.image.diff_ids == image.diff_ids
        assert imp.image.config["config"]["Cmd"] == ["sh"]
    assert other.resolve("example.com/bb:copied").diff_ids == image.diff_ids

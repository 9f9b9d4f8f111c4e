"""A full disk fails an import or a pull cleanly: a clear error, no image, no temp files."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyk8s import cli
from pyk8s.images import archive
from pyk8s.images import store as store_mod
from tests.e2e.images.conftest import need_root

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    need_root()
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_import_on_a_full_disk(
    tiny_disk: Path, image_tarball: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    tar = image_tarball("debian")  # ~47 MB: cannot fit in 8 MB
    with pytest.raises(SystemExit) as exc:
        cli.main(["image", "import", "--data-dir", str(tiny_disk), str(tar)])
    _, err = capsys.readouterr()
    assert exc.value.code == 1
    assert "no space left on device" in err
    store = store_mod.Store(tiny_disk / "images")
    assert store.refs() == {}
    assert list(store.blobs.tmp.iterdir()) == []
    assert list(store.layers_dir.iterdir()) == []
    # The disk is usable again: a small image still goes in.
    archive.import_archive(store, image_tarball("busybox"))
    assert store.resolve("busybox").id

"""Unpacked layers mount as overlayfs lower dirs: whiteouts hide, opaque dirs replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.images import archive
from pyk8s.images import store as store_mod
from tests import imagekit
from tests.e2e.images.conftest import need_root, run_in_image

pytestmark = pytest.mark.e2e


def test_whiteouts_and_opaque_dirs_in_a_real_mount(store: store_mod.Store, tmp_path: Path) -> None:
    need_root()
    built = imagekit.build_image(
        [
            {
                "proc/": "",
                "dev/": "",
                "etc/": "",
                "etc/keep": "base",
                "etc/gone": "x",
                "data/": "",
                "data/a": "a",
                "data/sub/": "",
                "data/sub/deep": "d",
                "link": "->etc/keep",
            },
            {"etc/.wh.gone": b"", "data/": "", "data/.wh..wh..opq": b"", "data/c": "c"},
            {"etc/keep": "top", "etc/.wh.link-target": b"", ".wh.link": b""},
        ]
    )
    tarball = tmp_path / "img.tar"
    imagekit.write_oci_archive(tarball, [(built, "layered:1")])
    archive.import_archive(store, tarball)
    image = store.resolve("layered:1")
    p = run_in_image(
        store,
        image,
        tmp_path,
        'cd "$ROOT"; find etc data link -print 2>/dev/null | sort; cat etc/keep; echo\n',
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["data", "data/c", "etc", "etc/keep", "top"]
    # The container's writes land in its upper dir; the layers stay as they were.
    assert (store.unpack(image)[0] / "etc/gone").read_text() == "x"

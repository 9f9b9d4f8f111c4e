"""The store end to end on hand-made archives: import, resolve, tag, rm, gc, export."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from pyk8s.images import archive, layers, manifest
from pyk8s.images import store as store_mod
from tests import imagekit

ROOT = os.geteuid() == 0


@pytest.fixture
def store(tmp_path: Path) -> store_mod.Store:
    return store_mod.Store(tmp_path / "store", manifest.Platform("linux", "amd64"))


def two_layers() -> imagekit.Built:
    return imagekit.build_image(
        [
            {
                "etc/": "",
                "etc/os-release": "ID=test\n",
                "bin/": "",
                "bin/tool": b"\x7fELF",
                "data/": "",
                "data/a": "a",
                "data/b": "b",
            },
            {
                "etc/os-release": "ID=test2\n",
                "bin/.wh.tool": b"",
                "data/": "",
                "data/.wh..wh..opq": b"",
                "data/c": "c",
            },
        ]
    )


def test_import_oci_archive(store: store_mod.Store, tmp_path: Path) -> None:
    built = two_layers()
    tarball = tmp_path / "img.tar"
    imagekit.write_oci_archive(tarball, [(built, "docker.io/library/app:v1")])
    [imp] = archive.import_archive(store, tarball)
    assert imp.names == ("docker.io/library/app:v1",)
    image = store.resolve("app:v1")
    assert image.manifest_digest == built.manifest
    assert image.id == built.config
    assert image.diff_ids == built.diff_ids
    assert store.resolve(built.config.removeprefix("sha256:")[:12]).id == built.config
    assert store.resolve(f"app@{built.manifest}").id == built.config
    dirs = store.unpack(image)
    assert [d.parent.name for d in dirs] == [d.removeprefix("sha256:") for d in built.diff_ids]
    assert (dirs[0] / "etc/os-release").read_text() == "ID=test\n"
    assert store.lower_dirs(image) == list(reversed(dirs))
    assert not list(store.blobs.tmp.iterdir())


@pytest.mark.skipif(not ROOT, reason="overlayfs whiteouts need root (mknod, trusted xattrs)")
def test_whiteouts_become_overlayfs_form(store: store_mod.Store, tmp_path: Path) -> None:
    built = two_layers()
    tarball = tmp_path / "img.tar"
    imagekit.write_oci_archive(tarball, [(built, "app:v1")])
    archive.import_archive(store, tarball)
    top = store.unpack(store.resolve("app:v1"))[1]
    st = os.lstat(top / "bin/tool")
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0
    assert (st.st_mode & 0o170000) == 0o020000  # character device
    assert not (top / "bin/.wh.tool").exists()
    assert os.getxattr(top / "data", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(top / "data")) == ["c"]
    assert layers.read_meta(top.parent) == layers.LayerInfo(
        built.diff_ids[1], len(built.raw_layers[1]), "overlay"
    )


def test_import_docker_save(store: store_mod.Store, tmp_path: Path) -> None:
    built = imagekit.build_image([{"hello.txt": "hi"}], compress=False)
    tarball = tmp_path / "save.tar"
    imagekit.write_docker_archive(tarball, built, ["busybox:latest", "me/tool:1"])
    [imp] = archive.import_archive(store, tarball)
    assert set(imp.names) == {"docker.io/library/busybox:latest", "docker.io/me/tool:1"}
    a, b = store.resolve("busybox"), store.resolve("me/tool:1")
    assert a.id == b.id == built.config
    assert a.manifest.media_type == manifest.DOCKER_MANIFEST
    assert [layer.media_type for layer in a.manifest.layers] == [manifest.DOCKER_LAYER]
    assert (store.unpack(a)[0] / "hello.txt").read_text() == "hi"


def test_corrupt_blob_imports_nothing(store: store_mod.Store, tmp_path: Path) -> None:
    built = two_layers()
    tarball = tmp_path / "bad.tar"
    imagekit.write_oci_archive(tarball, [(built, "app:v1")], corrupt=built.layers[1])
    with pytest.raises(archive.ArchiveError, match="does not match its content"):
        archive.import_archive(store, tarball)
    assert store.refs() == {}
    assert not list(store.blobs.tmp.iterdir())


def test_wrong_diff_id_imports_nothing(store: store_mod.Store, tmp_path: Path) -> None:
    built = imagekit.build_image([{"a": "1"}])
    other = imagekit.build_image([{"a": "2"}])
    # An image whose config claims another layer's diff_id: the blobs verify, the unpack not.
    evil = imagekit.build_image([{"a": "1"}])
    import json

    cfg = json.loads(evil.blobs.pop(evil.config))
    cfg["rootfs"]["diff_ids"] = other.diff_ids
    evil.config = evil.add(json.dumps(cfg).encode())
    doc = json.loads(evil.blobs.pop(evil.manifest))
    doc["config"]["digest"] = evil.config
    doc["config"]["size"] = len(evil.blobs[evil.config])
    evil.manifest = evil.add(json.dumps(doc).encode())
    tarball = tmp_path / "evil.tar"
    imagekit.write_oci_archive(tarball, [(evil, "evil:1")])
    with pytest.raises(layers.LayerError, match="config says"):
        archive.import_archive(store, tarball)
    assert store.refs() == {}
    assert list(store.layers_dir.iterdir()) == []
    assert built.diff_ids != other.diff_ids


def test_not_an_archive(store: store_mod.Store, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(archive.ArchiveError, match="cannot read"):
        archive.import_archive(store, junk)
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    with pytest.raises(archive.ArchiveError, match="neither an OCI layout nor a docker save"):
        archive.import_archive(store, empty)


def test_tag_rm_gc_and_usage(store: store_mod.Store, tmp_path: Path) -> None:
    base = {"base/": "", "base/big": b"x" * 10000}
    one = imagekit.build_image([base, {"one": "1"}])
    two = imagekit.build_image([base, {"two": "2"}])
    tarball = tmp_path / "two.tar"
    imagekit.write_oci_archive(tarball, [(one, "one:1"), (two, "two:1")])
    archive.import_archive(store, tarball)
    shared = one.layers[0]
    assert shared == two.layers[0]
    assert len(list(store.layers_dir.iterdir())) == 3  # the base is stored once
    usage = store.usage()
    assert (usage.images, usage.layers, usage.reclaimable_bytes) == (2, 3, 0)

    store.set_refs(["one:alias"], one.manifest, manifest.OCI_MANIFEST)
    assert store.resolve("one:alias").id == one.config
    assert store.remove_refs(["docker.io/library/one:1"]) == ["docker.io/library/one:1"]
    assert store.gc().blobs == []  # still named one:alias
    store.remove_refs(["docker.io/library/one:alias"])
    result = store.gc()
    assert set(result.blobs) == {one.manifest, one.config, one.layers[1]}
    assert result.layers == [one.diff_ids[1]]
    assert store.blobs.has(shared)
    assert store.unpack(store.resolve("two:1"))  # two still complete
    with pytest.raises(
        store_mod.ImageNotFound, match=r"'one:1' not found in the image store at .*store"
    ):
        store.resolve("one:1")


def test_export_round_trip(store: store_mod.Store, tmp_path: Path) -> None:
    built = two_layers()
    src = tmp_path / "in.tar"
    imagekit.write_oci_archive(src, [(built, "app:v1")])
    archive.import_archive(store, src)
    out = tmp_path / "out.tar"
    archive.export_archive(store, ["app:v1"], out)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {"oci-layout", "index.json", "manifest.json"} <= names
    other = store_mod.Store(tmp_path / "other", store.platform)
    [imp] = archive.import_archive(other, out)
    assert imp.names == ("docker.io/library/app:v1",)
    assert other.resolve("app:v1").manifest_digest == built.manifest


def test_index_targets_resolve_to_platform(tmp_path: Path) -> None:
    amd = imagekit.build_image([{"arch": "amd64"}])
    arm = imagekit.build_image([{"arch": "arm64"}], arch="arm64")
    import json

    idx = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": manifest.OCI_MANIFEST,
                    "digest": m.manifest,
                    "size": len(m.blobs[m.manifest]),
                    "platform": {"os": "linux", "architecture": a},
                }
                for m, a in ((amd, "amd64"), (arm, "arm64"))
            ],
        }
    ).encode()
    for plat, want in (("amd64", amd), ("arm64", arm)):
        s = store_mod.Store(tmp_path / plat, manifest.Platform("linux", plat))
        for b in (amd, arm):
            for d, data in b.blobs.items():
                s.blobs.put(data, d)
        target = s.blobs.put(idx)
        s.set_refs(["multi:1"], target, manifest.OCI_INDEX)
        image = s.resolve("multi:1")
        assert image.target == target and image.manifest_digest == want.manifest
        assert image.config["architecture"] == plat


def test_zstd_and_uncompressed_layers(store: store_mod.Store, tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("zstd") is None:
        pytest.skip("zstd missing (installed by make deps from hack/system-packages.txt)")
    built = imagekit.build_image([{"z/": "", "z/file": "zstd content"}], compress=False)
    raw = built.raw_layers[0]
    zst = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    # Rewrite the image around a zstd layer blob.
    import json

    digest = built.add(zst)
    doc = json.loads(built.blobs.pop(built.manifest))
    doc["layers"] = [{"mediaType": manifest.OCI_LAYER_ZSTD, "digest": digest, "size": len(zst)}]
    built.manifest = built.add(json.dumps(doc).encode())
    tar = tmp_path / "zstd.tar"
    imagekit.write_oci_archive(tar, [(built, "zstd:1")])
    archive.import_archive(store, tar)
    [fs] = store.unpack(store.resolve("zstd:1"))
    assert (fs / "z/file").read_text() == "zstd content"


def test_gc_waits_for_writes_in_flight(store: store_mod.Store) -> None:
    import threading

    fd = store.acquire_lease()  # an import that has stored a blob but not yet named it
    orphan = store.blobs.put(b"not yet referenced")
    done = threading.Event()
    t = threading.Thread(target=lambda: (store.gc(), done.set()))
    t.start()
    assert not done.wait(0.3)
    assert store.blobs.has(orphan)
    store.release_lease(fd)
    assert done.wait(10)
    t.join()
    assert not store.blobs.has(orphan)

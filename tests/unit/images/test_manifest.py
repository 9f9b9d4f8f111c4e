from __future__ import annotations

import json

import pytest

from pyk8s.images import manifest

D = ["sha256:" + c * 64 for c in "abcdef"]


def index(*platforms: dict[str, str]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest.DOCKER_LIST,
            "manifests": [
                {"mediaType": manifest.DOCKER_MANIFEST, "digest": D[i], "size": 10, "platform": p}
                for i, p in enumerate(platforms)
            ],
        }
    ).encode()


def test_index_picks_this_platform() -> None:
    idx = manifest.parse(
        index(
            {"os": "linux", "architecture": "arm", "variant": "v7"},
            {"os": "linux", "architecture": "amd64"},
            {"os": "windows", "architecture": "amd64"},
        )
    )
    assert isinstance(idx, manifest.Index)
    assert idx.select(manifest.Platform("linux", "amd64")).digest == D[1]
    assert idx.select(manifest.Platform("linux", "arm", "v7")).digest == D[0]
    with pytest.raises(
        manifest.ManifestError,
        match=r"no manifest for platform linux/s390x .*linux/arm/v7, linux/amd64",
    ):
        idx.select(manifest.Platform("linux", "s390x"))


def test_arm64_variant_is_optional() -> None:
    idx = manifest.parse(index({"os": "linux", "architecture": "arm64"}))
    assert isinstance(idx, manifest.Index)
    assert idx.select(manifest.Platform("linux", "arm64", "v8")).digest == D[0]


def test_exact_variant_wins() -> None:
    idx = manifest.parse(
        index(
            {"os": "linux", "architecture": "arm64"},
            {"os": "linux", "architecture": "arm64", "variant": "v8"},
        )
    )
    assert isinstance(idx, manifest.Index)
    assert idx.select(manifest.Platform("linux", "arm64", "v8")).digest == D[1]


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        pytest.param(b"[]", "not a JSON object", id="array"),
        pytest.param(b"{", "not JSON", id="broken"),
        pytest.param(b'{"schemaVersion": 1, "config": {}, "layers": []}', "schemaVersion", id="v1"),
        pytest.param(
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": manifest.OCI_MANIFEST,
                    "config": {"digest": "md5:x", "size": 1},
                    "layers": [],
                }
            ).encode(),
            "unsupported digest",
            id="md5",
        ),
        pytest.param(
            json.dumps({"schemaVersion": 2, "mediaType": "text/plain"}).encode(),
            "unsupported manifest media type",
            id="mediatype",
        ),
    ],
)
def test_bad_documents(doc: bytes, why: str) -> None:
    with pytest.raises(manifest.ManifestError, match=why):
        manifest.parse(doc)


def test_manifest_without_media_type_is_oci() -> None:
    doc = {
        "schemaVersion": 2,
        "config": {"digest": D[0], "size": 3},
        "layers": [{"digest": D[1], "size": 4}],
    }
    m = manifest.parse(json.dumps(doc).encode())
    assert isinstance(m, manifest.Manifest)
    assert m.media_type == manifest.OCI_MANIFEST
    assert [layer.digest for layer in m.layers] == [D[1]]


def test_host_platform_is_linux() -> None:
    p = manifest.host_platform()
    assert p.os == "linux" and p.architecture

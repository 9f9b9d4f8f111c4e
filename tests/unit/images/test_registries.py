from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from pyk8s.images import archive, distribution, manifest, pull, reference, registries
from pyk8s.images import store as store_mod
from tests import imagekit

DOC = {
    "mirrors": {
        "docker.io": {
            "endpoint": ["mirror.local:5000", "http://second.local/v2"],
            "rewrite": {"^library/(.*)": "mirrored/$1"},
        },
        "*": {"endpoint": ["http://catchall.local"]},
        "offline.example": {"rewrite": {"^app:.*": "app:latest"}},
    },
    "configs": {
        "mirror.local:5000": {"auth": {"auth": base64.b64encode(b"me:pw").decode()}},
        "*": {"tls": {"insecure_skip_verify": True}},
    },
}


def test_endpoints_mirrors_first_with_rewrites() -> None:
    r = registries.Registries.parse(DOC)
    eps = r.endpoints(reference.parse("nginx:1.14.2"))
    assert [(e.url, e.path, e.tag_or_digest, e.is_mirror) for e in eps] == [
        ("https://mirror.local:5000", "mirrored/nginx", "1.14.2", True),
        ("http://second.local", "mirrored/nginx", "1.14.2", True),
        ("https://registry-1.docker.io", "library/nginx", "1.14.2", False),
    ]
    other = r.endpoints(reference.parse("quay.io/org/app@sha256:" + "a" * 64))
    assert [(e.url, e.path) for e in other] == [
        ("http://catchall.local", "org/app"),
        ("https://quay.io", "org/app"),
    ]


def test_configs_auth_and_tls() -> None:
    r = registries.Registries.parse(DOC)
    assert r.config_for("mirror.local:5000").auth == registries.Auth("me", "pw")
    assert r.config_for("elsewhere:1").tls.insecure_skip_verify
    assert r.config_for("elsewhere:1").auth is None


@pytest.mark.parametrize(
    ("host", "plain"),
    [
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("[::1]:5000", True),
        ("example.com", False),
    ],
)
def test_plain_http_only_for_loopback_unless_insecure(host: str, plain: bool) -> None:
    assert registries.Registries().plain_http_allowed(host) is plain
    assert registries.Registries(insecure=True).plain_http_allowed(host)


def test_bad_files(tmp_path: Path) -> None:
    p = tmp_path / "registries.yaml"
    p.write_text("mirrors: [")
    with pytest.raises(registries.RegistriesError, match="not YAML"):
        registries.Registries.load(p)
    with pytest.raises(registries.RegistriesError, match="rewrite"):
        registries.Registries.parse({"mirrors": {"docker.io": {"rewrite": {"(": "x"}}}})
    assert registries.Registries.load(tmp_path / "missing.yaml").mirrors == {}


async def test_ensure_uses_a_local_image_through_a_rewrite(tmp_path: Path) -> None:
    store = await asyncio.to_thread(
        store_mod.Store, tmp_path / "s", manifest.Platform("linux", "amd64")
    )
    built = imagekit.build_image([{"a": "1"}])
    tar = tmp_path / "a.tar"
    await asyncio.to_thread(
        imagekit.write_oci_archive, tar, [(built, "offline.example/app:latest")]
    )
    await asyncio.to_thread(archive.import_archive, store, tar)
    config = registries.Registries.parse(DOC)
    async with distribution.Client(config) as c:
        image = await pull.ensure(store, c, "offline.example/app:1.14.2")
    assert image.id == built.config

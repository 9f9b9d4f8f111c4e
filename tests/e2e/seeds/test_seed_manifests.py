"""Every manifest in the user notes (``shared/seeds``), sent by the real kubectl 1.33 to a real
``pyk8s server`` with ``create --dry-run=server``.

Valid manifests must be accepted; the deliberately broken or outdated ones must fail with the
error a real 1.33 cluster gives (table ``EXPECTED_ERRORS`` below, one reason per entry).
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.apiserver.conftest import Server
from tests.e2e.seeds.notes import Manifest, manifests, seeds_dir

SEEDS = seeds_dir()
MANIFESTS: list[Manifest] = manifests(SEEDS) if SEEDS is not None else []
NAMESPACE = "seeds"

# Manifest id ("<file prefix>:<line of the opening fence>") -> substrings kubectl 1.33 prints on
# stderr against a real 1.33 server. Everything not listed here must be accepted.
_GONE = 'no matches for kind "{kind}" in version "{version}"'
EXPECTED_ERRORS: dict[str, list[str]] = {}


# Manifest id -> manifests created for real first, as the notes do just before it.
PREREQUISITES: dict[str, list[str]] = {
    "000:1117": ["000:1081"],  # Binding of pod "nginx": the notes create that pod just before
}


def _has_namespace(m: Manifest) -> bool:
    return any(
        isinstance(d.get("metadata"), dict) and d["metadata"].get("namespace") for d in m.docs
    )


def _ids() -> list[str]:
    return [m.id for m in MANIFESTS]


def test_seed_notes_are_present() -> None:
    if SEEDS is None:
        msg = "shared/seeds is not beside the repository (set PYK8S_SEEDS_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    assert len(MANIFESTS) > 50, f"only {len(MANIFESTS)} manifests found in {SEEDS}"


@pytest.fixture(scope="module")
def seeds_ns(cluster: Server) -> str:
    """The namespaces the notes create before using them, and the objects some manifests need
    (``PREREQUISITES``), created for real."""
    wanted = {NAMESPACE}
    for m in MANIFESTS:
        for doc in m.docs:
            meta = doc.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("namespace"), str):
                wanted.add(meta["namespace"])
    have = set(cluster.kubectl("1.33", "get", "namespaces", "-o", "name").stdout.split())
    for ns in sorted(wanted):
        if f"namespace/{ns}" not in have:
            cluster.kubectl("1.33", "create", "namespace", ns)
    by_id = {m.id: m for m in MANIFESTS}
    for needed in sorted({p for ps in PREREQUISITES.values() for p in ps}):
        cluster.kubectl("1.33", "create", "-n", NAMESPACE, "-f", "-", input=by_id[needed].text)
    return NAMESPACE


@pytest.mark.parametrize("manifest", MANIFESTS, ids=_ids())
def test_manifest_dry_run(cluster: Server, seeds_ns: str, manifest: Manifest) -> None:
    res = cluster.kubectl(
        "1.33",
        "create",
        "--dry-run=server",
        *([] if _has_namespace(manifest) else ["-n", seeds_ns]),
        "-o",
        "name",
        "-f",
        "-",
        input=manifest.text,
        check=False,
    )
    expected = EXPECTED_ERRORS.get(manifest.id)
    if expected is None:
        assert res.returncode == 0, f"{manifest.id} rejected:\n{res.stderr}"
        assert len(res.stdout.split()) == len(manifest.docs), res.stdout
    else:
        assert res.returncode != 0, f"{manifest.id} accepted, expected {expected}"
        for text in expected:
            assert text in res.stderr, f"{manifest.id}: {text!r} not in\n{res.stderr}"

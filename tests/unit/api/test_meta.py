from __future__ import annotations

import pytest

from pyk8s.api import meta


def test_generate_name() -> None:
    name = meta.generate_name("web-")
    assert name.startswith("web-") and len(name) == 9
    assert not meta.dns1123_subdomain(name)
    assert len(meta.generate_name("x" * 300)) == 253


@pytest.mark.parametrize(
    ("value", "ok"),
    [("web", True), ("web.example", True), ("Web", False), ("-a", False), ("a" * 254, False)],
)
def test_subdomain(value: str, ok: bool) -> None:
    assert (not meta.dns1123_subdomain(value)) is ok


def test_label_and_dns1035() -> None:
    assert meta.dns1123_label("a.b")
    assert meta.dns1035_label("1abc")
    assert not meta.dns1035_label("abc-1")


def test_validate_object_meta() -> None:
    errs = meta.validate_object_meta(
        {"metadata": {"labels": {"bad key": "x"}}},
        namespaced=True,
        name_validator=meta.dns1123_subdomain,
    )
    fields = sorted(e.field for e in errs)
    assert fields == ["metadata.labels", "metadata.name", "metadata.namespace"]
    assert not meta.validate_object_meta(
        {"metadata": {"generateName": "x-", "namespace": "d"}},
        namespaced=True,
        name_validator=meta.dns1123_subdomain,
    )

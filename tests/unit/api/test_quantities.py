"""Canonical quantities (``Quantity.String()``) and their rewriting through a kind's schema."""

from __future__ import annotations

import pytest

from pyk8s.api import quantities, resource
from pyk8s.apiserver.schemas import Schemas


@pytest.mark.parametrize(
    ("given", "want"),
    [
        pytest.param("0.5", "500m", id="fraction-to-milli"),
        pytest.param(0.5, "500m", id="json-float"),
        pytest.param(1, "1", id="json-int-to-string"),
        pytest.param("0.1", "100m", id="tenth"),
        pytest.param("1024Mi", "1Gi", id="binary-up"),
        pytest.param("1536Mi", "1536Mi", id="binary-kept"),
        pytest.param("0.5Gi", "512Mi", id="binary-fraction-whole"),
        pytest.param("512", "512", id="plain"),
        pytest.param("1500", "1500", id="not-a-multiple-of-1000"),
        pytest.param("2000", "2k", id="decimal-up"),
        pytest.param("5000000000", "5G", id="giga"),
        pytest.param("1e3", "1e3", id="exponent-kept"),
        pytest.param("1.5e3", "1500", id="exponent-mantissa"),
        pytest.param("12e6", "12e6", id="exponent-multiple-of-3"),
        pytest.param("100m", "100m", id="milli"),
        pytest.param("1.0000000001", "1000000001n", id="rounded-up-to-nano"),
        pytest.param("-0.5", "-500m", id="negative"),
        pytest.param("0Gi", "0", id="zero"),
    ],
)
def test_canonical(given: str | int | float, want: str) -> None:
    assert resource.canonical(given) == want


def test_canonicalize_walks_the_kind_schema() -> None:
    schemas = Schemas.load()
    if schemas is None:
        pytest.skip("kubernetes-validate is not installed")
    pod = {
        "spec": {
            "containers": [
                {"name": "c", "resources": {"limits": {"cpu": 0.5, "memory": "1024Mi"},
                                            "requests": {"cpu": "bogus"}}},
            ],
            "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "2000Mi"}}],
            "overhead": {"cpu": "0.25"},
        },
        "metadata": {"annotations": {"cpu": "0.5"}},
    }  # fmt: skip
    quantities.canonicalize(pod, schemas.for_kind("", "v1", "Pod"))
    c = pod["spec"]["containers"][0]["resources"]
    assert c == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "bogus"}}
    assert pod["spec"]["volumes"][0]["emptyDir"]["sizeLimit"] == "2000Mi"
    assert pod["spec"]["overhead"] == {"cpu": "250m"}
    assert pod["metadata"]["annotations"] == {"cpu": "0.5"}  # not a quantity field
    quota = {"spec": {"hard": {"pods": 10, "requests.memory": "2048Mi"}}}
    quantities.canonicalize(quota, schemas.for_kind("", "v1", "ResourceQuota"))
    assert quota["spec"]["hard"] == {"pods": "10", "requests.memory": "2Gi"}


def test_invalid_reports_upstreams_decoding_error() -> None:
    schemas = Schemas.load()
    if schemas is None:
        pytest.skip("kubernetes-validate schemas are not installed")
    schema = schemas.for_kind("", "v1", "Pod")
    pod = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "0.5"}}}]}}
    assert quantities.invalid(pod, schema) is None
    pod["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "abc"}
    assert quantities.invalid(pod, schema) == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )

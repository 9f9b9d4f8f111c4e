from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import strategicpatch
from pyk8s.apiserver.schemas import Schemas


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    s = Schemas.load()
    assert s is not None, "kubernetes-validate is a dependency"
    return s


def pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def test_containers_merge_by_name(schemas: Schemas) -> None:
    schema = schemas.for_kind("", "v1", "Pod")
    original = pod(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    patch = {"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}}
    got = strategicpatch.apply(original, patch, schema)
    assert got["spec"]["containers"] == [
        {"name": "a", "image": "x"},
        {"name": "b", "image": "z"},
        {"name": "c", "image": "w"},
    ]
    assert original["spec"]["containers"][1]["image"] == "y"  # input untouched


def test_directives(schemas: Schemas) -> None:
    schema = schemas.for_kind("", "v1", "Pod")
    original = pod(
        containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
        tolerations=[{"key": "k"}],
    )
    original["metadata"]["finalizers"] = ["f1", "f2"]
    patch = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]},
        "spec": {
            "containers": [{"name": "a", "$patch": "delete"}],
            "tolerations": [{"key": "other"}],  # no merge strategy: replaced
        },
    }
    got = strategicpatch.apply(original, patch, schema)
    assert got["metadata"]["finalizers"] == ["f2"]
    assert got["spec"]["containers"] == [{"name": "b", "image": "y"}]
    assert got["spec"]["tolerations"] == [{"key": "other"}]
    replaced = strategicpatch.apply(
        original, {"spec": {"$patch": "replace", "containers": []}}, schema
    )
    assert replaced["spec"] == {"containers": []}


def test_set_element_order_and_primitive_merge(schemas: Schemas) -> None:
    schema = schemas.for_kind("", "v1", "Pod")
    original = pod(containers=[{"name": "a"}, {"name": "b"}])
    original["metadata"]["finalizers"] = ["x"]
    patch = {
        "metadata": {"finalizers": ["y"]},
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "i"}],
        },
    }
    got = strategicpatch.apply(original, patch, schema)
    assert got["metadata"]["finalizers"] == ["x", "y"]
    assert got["spec"]["containers"] == [{"name": "b"}, {"name": "a", "image": "i"}]


def test_retain_keys(schemas: Schemas) -> None:
    schema = schemas.for_kind("apps", "v1", "Deployment")
    original = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    got = strategicpatch.apply(original, patch, schema)
    assert got["spec"]["strategy"] == {"type": "Recreate"}


def test_without_schema_lists_replace() -> None:
    got = strategicpatch.apply({"a": [1, 2], "m": {"x": 1}}, {"a": [3], "m": {"y": 2}}, None)
    assert got == {"a": [3], "m": {"x": 1, "y": 2}}
    with pytest.raises(strategicpatch.PatchError):
        strategicpatch.apply({}, [], None)  # type: ignore[arg-type]


MERGEPATCH_ERRORS = [
    ({"$patch": "bogus", "a": 1}, "unknown patch type: bogus in map: map[$patch:bogus a:1]", 500),
    ({"$retainKeys": "a"}, "invalid patch format of retainKeys", 400),
    ({"$setElementOrder/containers": 1}, "invalid patch format of setElementOrder list", 400),
    ({"$deleteFromPrimitiveList/args": "x"}, "invalid patch format of primitive list", 400),
]


@pytest.mark.parametrize(("patch", "message", "code"), MERGEPATCH_ERRORS)
def test_mergepatch_errors(patch: dict[str, Any], message: str, code: int) -> None:
    with pytest.raises(strategicpatch.PatchError) as e:
        strategicpatch.apply({}, patch, None)
    assert (str(e.value), e.value.code) == (message, code)

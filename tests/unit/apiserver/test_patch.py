from __future__ import annotations

import pytest

from pyk8s.api import errors
from pyk8s.apiserver.handlers import patch
from pyk8s.apiserver.schemas import Schemas


def test_merge_patch_rfc7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    got = patch.merge_patch(target, {"a": "z", "c": {"f": None}, "l": [3]})
    assert got == {"a": "z", "c": {"d": "e"}, "l": [3]}


def test_strategic_needs_a_schema() -> None:
    schemas = Schemas.load()
    assert schemas is not None
    out = patch.apply_patch(
        "application/strategic-merge-patch+json",
        {"spec": {"containers": [{"name": "a", "image": "x"}]}},
        b'{"spec":{"containers":[{"name":"b","image":"y"}]}}',
        schemas.for_kind("", "v1", "Pod"),
    )
    assert [c["name"] for c in out["spec"]["containers"]] == ["a", "b"]
    with pytest.raises(errors.UnsupportedMediaType):
        patch.apply_patch("application/strategic-merge-patch+json", {}, b"{}", None)


def test_json_patch() -> None:
    out = patch.apply_patch(
        "application/json-patch+json", {"a": [1]}, b'[{"op":"add","path":"/a/-","value":2}]'
    )
    assert out == {"a": [1, 2]}
    for ops in (b'[{"op":"remove","path":"/missing"}]', b'[{"op":"test","path":"/a","value":0}]'):
        with pytest.raises(errors.UnprocessableEntity) as e:
            patch.apply_patch("application/json-patch+json", {"a": [1]}, ops)
        # upstream's NewGenericServerResponse(422): its own words, empty details
        assert e.value.status() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server rejected our request due to an error in our request",
            "reason": "Invalid",
            "details": {},
            "code": 422,
        }

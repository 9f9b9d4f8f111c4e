"""Go decoder messages for values of the wrong JSON type (pyk8s.api.decoding)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import decoding
from pyk8s.api.strategicpatch import Schema
from pyk8s.apiserver.schemas import Schemas

SCHEMAS = Schemas.load()


def kind(group: str, name: str) -> Schema:
    assert SCHEMAS is not None
    s = SCHEMAS.for_kind(group, "v1", name)
    assert s is not None
    return s


def containers(c: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [c]}}}}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param({"spec": {"replicas": 3}}, None, id="fine"),
        pytest.param({"spec": {"replicas": None}}, None, id="null-is-fine"),
        pytest.param(
            {"spec": {"replicas": "3"}},
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas "
            "of type int32",
            id="string-into-int32",
        ),
        pytest.param(
            {"spec": {"replicas": 2.5}},
            "json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas "
            "of type int32",
            id="float-into-int32",
        ),
        pytest.param(
            {"spec": "x"},
            "json: cannot unmarshal string into Go struct field Deployment.spec of type "
            "v1.DeploymentSpec",
            id="string-into-struct",
        ),
        pytest.param(
            {"metadata": {"annotations": {"a": 1}}},
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations "
            "of type string",
            id="number-into-map-value",
        ),
        pytest.param(
            containers({"name": "c", "ports": {"containerPort": 80}}),
            "json: cannot unmarshal object into Go struct field Container.spec.template.spec."
            "containers.ports of type []v1.ContainerPort",
            id="object-into-slice",
        ),
        pytest.param(
            containers({"name": "c", "stdin": "yes"}),
            "json: cannot unmarshal string into Go struct field Container.spec.template.spec."
            "containers.stdin of type bool",
            id="string-into-bool",
        ),
        pytest.param(
            containers({"name": "c", "resources": {"limits": {"cpu": 1}}}),
            None,
            id="quantity-decodes-itself",
        ),
    ],
)
def test_unmarshal_error(obj: dict[str, Any], message: str | None) -> None:
    assert decoding.unmarshal_error(obj, kind("apps", "Deployment"), "Deployment") == message


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param({"metadata": {"labels": "x"}}, "cannot restore map from string", id="map"),
        pytest.param({"spec": {"containers": 1}}, "cannot restore slice from int64", id="slice"),
        pytest.param({"spec": []}, "cannot restore struct from: slice", id="struct"),
        pytest.param({"spec": {"hostname": 3}}, "cannot convert int64 to string", id="to-string"),
        pytest.param({"spec": {"priority": "1"}}, "unrecognized type: int32", id="to-int"),
        pytest.param({"spec": {"priority": 1.0}}, None, id="whole-float-to-int"),
        pytest.param({"spec": {"priority": 1.5}}, "cannot convert float64 to int32", id="frac"),
    ],
)
def test_converter_error(obj: dict[str, Any], message: str | None) -> None:
    assert decoding.converter_error(obj, kind("", "Pod")) == message


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param({"apiVersion": "v1", "kind": "Pod", "spec": {}}, None, id="fine"),
        pytest.param(
            {"spec": {"priority": "1"}},
            ".spec.priority: expected numeric (int or float), got string",
            id="numeric",
        ),
        pytest.param(
            {"spec": {"containerz": []}},
            ".spec.containerz: field not declared in schema",
            id="unknown",
        ),
        pytest.param({"metadata": {"labels": {"a": "b"}}}, None, id="map-entries-are-free"),
    ],
)
def test_apply_error(obj: dict[str, Any], message: str | None) -> None:
    assert decoding.apply_error(obj, kind("", "Pod")) == message


def test_go_format() -> None:
    patch = {"spec": {"replicas": 3, "paused": True, "x": [1, "a"], "n": None, "f": 1.5}}
    assert (
        decoding.go_format(patch) == "map[spec:map[f:1.5 n:<nil> paused:true replicas:3 x:[1 a]]]"
    )

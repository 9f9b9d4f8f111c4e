"""Objects shaped as Go's JSON encoding writes the built-in types (``omitempty``, pointers,
structs): what kube-apiserver stores and reads back."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import gojson
from pyk8s.api.strategicpatch import Schema
from pyk8s.apiserver import openapi_enums
from pyk8s.apiserver.schemas import Schemas


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    found = Schemas.load()
    if found is None:
        pytest.skip("kubernetes-validate schemas are not installed")
    codes = openapi_enums.load_go_fields()
    if codes is None:
        pytest.skip(f"Go field facts not built ({openapi_enums.default_path()}): make protos")
    found.set_go_fields(codes)
    return found


def kind(schemas: Schemas, group: str, version: str, name: str) -> Schema:
    found = schemas.for_kind(group, version, name)
    assert found is not None
    return found


def test_pod_drops_empty_omitempty_fields_and_keeps_pointers(schemas: Schemas) -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {}, "annotations": None, "uid": ""},
        "spec": {
            "nodeName": None,
            "hostNetwork": False,
            "terminationGracePeriodSeconds": 0,  # a pointer: 0 is a value
            "enableServiceLinks": False,  # a pointer too
            "containers": [{"name": "c", "image": "i", "args": [], "stdin": False,
                            "ports": [{"containerPort": 80, "hostPort": 0}]}],
        },
    }  # fmt: skip
    gojson.normalize(pod, kind(schemas, "", "v1", "Pod"))
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "creationTimestamp": None},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "enableServiceLinks": False,
            "containers": [
                {"name": "c", "image": "i", "ports": [{"containerPort": 80}], "resources": {}}
            ],
        },
        "status": {},
    }


def test_fields_without_omitempty_are_always_written(schemas: Schemas) -> None:
    ds: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "d", "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"template": {"metadata": {"labels": {"a": "b"}}}},
    }
    gojson.normalize(ds, kind(schemas, "apps", "v1", "DaemonSet"))
    assert ds["spec"]["template"]["metadata"] == {"labels": {"a": "b"}, "creationTimestamp": None}
    assert ds["spec"]["selector"] is None  # a pointer without omitempty
    assert ds["status"] == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }
    role: dict[str, Any] = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                            "metadata": {"name": "r"}}  # fmt: skip
    gojson.normalize(role, kind(schemas, "rbac.authorization.k8s.io", "v1", "Role"))
    assert role["rules"] is None
    svc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                           "spec": {"ports": [{"port": 80}]}}  # fmt: skip
    gojson.normalize(svc, kind(schemas, "", "v1", "Service"))
    assert svc["status"] == {"loadBalancer": {}}
    assert svc["spec"]["ports"] == [{"port": 80, "targetPort": 0}]


def test_decoding_only_drops(schemas: Schemas) -> None:
    dep: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {}},
        "spec": {"replicas": None, "paused": False, "template": {"spec": {"containers": []}}},
    }
    gojson.normalize(dep, kind(schemas, "apps", "v1", "Deployment"), fill=False)
    assert dep == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": []}}},
    }


def test_without_the_build_facts_nothing_changes() -> None:
    schemas = Schemas.load()
    if schemas is None:
        pytest.skip("kubernetes-validate schemas are not installed")
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {}},
                           "spec": {"hostNetwork": False}}  # fmt: skip
    gojson.normalize(pod, kind(schemas, "", "v1", "Pod"))
    assert pod == {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {}},
                   "spec": {"hostNetwork": False}}  # fmt: skip

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import structuredmerge as sm
from pyk8s.apiserver.schemas import Schemas

SCHEMAS = Schemas.load()


def deployment(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec}


def test_field_set_uses_list_keys_and_atomic_maps() -> None:
    assert SCHEMAS is not None
    schema = SCHEMAS.for_kind("apps", "v1", "Deployment")
    obj = deployment(
        replicas=2,
        selector={"matchLabels": {"app": "x"}},
        template={"spec": {"containers": [{"name": "a", "image": "i"}]}},
    )
    obj["metadata"]["finalizers"] = ["f1"]
    paths = sm.field_set(obj, schema)
    containers = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"))
    assert (("f", "spec"), ("f", "replicas")) in paths
    assert (("f", "spec"), ("f", "selector")) in paths  # LabelSelector is atomic
    assert (*containers, ("k", '{"name":"a"}')) in paths
    assert (*containers, ("k", '{"name":"a"}'), ("f", "image")) in paths
    assert (("f", "metadata"), ("f", "finalizers"), ("v", '"f1"')) in paths
    assert sm.from_fields_v1(sm.to_fields_v1(paths)) == paths
    fields = sm.to_fields_v1(paths)
    item = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert item == {".": {}, "f:image": {}, "f:name": {}}


def test_compare_reports_leaves_and_items() -> None:
    assert SCHEMAS is not None
    schema = SCHEMAS.for_kind("apps", "v1", "Deployment")
    old = deployment(replicas=5, template={"spec": {"containers": [{"name": "a", "image": "i"}]}})
    new = deployment(
        replicas=3,
        template={
            "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "j"}]}
        },
    )
    del new["metadata"]["name"]
    c = sm.compare(old, new, schema)
    containers = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"))
    assert c.modified == {(("f", "spec"), ("f", "replicas"))}
    assert c.added == {
        (*containers, ("k", '{"name":"b"}')),
        (*containers, ("k", '{"name":"b"}'), ("f", "name")),
        (*containers, ("k", '{"name":"b"}'), ("f", "image")),
    }
    assert c.removed == set()  # metadata.name is the server's, nobody's field
    assert sm.compare(old, old, schema).empty()


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param((("f", "spec"), ("f", "replicas")), ".spec.replicas", id="field"),
        pytest.param(
            (("f", "spec"), ("f", "containers"), ("k", '{"name":"a"}'), ("f", "image")),
            '.spec.containers[name="a"].image',
            id="key",
        ),
        pytest.param(
            (("f", "ports"), ("k", '{"containerPort":80,"protocol":"TCP"}')),
            '.ports[containerPort=80,protocol="TCP"]',
            id="two-keys",
        ),
        pytest.param(
            (("f", "metadata"), ("f", "finalizers"), ("v", '"f1"')),
            '.metadata.finalizers[="f1"]',
            id="set",
        ),
    ],
)
def test_path_string(path: sm.Path, text: str) -> None:
    assert sm.path_string(path) == text


def test_port_items_match_with_default_protocol() -> None:
    assert SCHEMAS is not None
    schema = SCHEMAS.for_kind("", "v1", "Pod")
    live = {
        "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}
    }
    applied = {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}}
    merged = sm.merge(live, applied, schema)
    assert merged["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert sm.field_set(applied, schema) <= sm.field_set(live, schema)


def test_merge_keeps_live_order_and_appends_new_items() -> None:
    assert SCHEMAS is not None
    schema = SCHEMAS.for_kind("", "v1", "Pod")
    live = {"spec": {"containers": [{"name": n} for n in ("a", "b", "c")]}}
    applied = {"spec": {"containers": [{"name": "d"}, {"name": "b", "image": "x"}]}}
    merged = sm.merge(live, applied, schema)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["a", "d", "b", "c"]
    assert merged["spec"]["containers"][2] == {"name": "b", "image": "x"}
    assert live["spec"]["containers"][1] == {"name": "b"}  # not changed in place


def test_fields_v1_marks_members_with_children() -> None:
    base = (("f", "spec"), ("f", "containers"), ("k", '{"name":"a"}'))
    fields = sm.to_fields_v1({base, (*base, ("f", "image"))})
    assert list(fields["f:spec"]["f:containers"]['k:{"name":"a"}']) == [".", "f:image"]
    assert sm.from_fields_v1(fields) == {base, (*base, ("f", "image"))}


def test_merge_and_remove() -> None:
    assert SCHEMAS is not None
    schema = SCHEMAS.for_kind("apps", "v1", "Deployment")
    live = deployment(
        template={
            "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "j"}]}
        }
    )
    applied = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "k"}]}}}}
    merged = sm.merge(live, applied, schema)
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "k"},
        {"name": "b", "image": "j"},
    ]
    path = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"),
            ("k", '{"name":"b"}'))  # fmt: skip
    sm.remove(merged, [path])
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["a"]

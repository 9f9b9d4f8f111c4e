from __future__ import annotations

from typing import Any

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


def test_conflicts_only_where_values_change() -> None:
    assert SCHEMAS is not None
    schema = SCHEMAS.for_kind("apps", "v1", "Deployment")
    live = deployment(replicas=5, template={"spec": {"containers": [{"name": "a", "image": "i"}]}})
    applied = deployment(
        replicas=3, template={"spec": {"containers": [{"name": "a", "image": "i"}]}}
    )
    paths = sm.field_set(applied, schema)
    other = sm.field_set(live, schema)
    found = sm.conflicts(live, applied, paths, [("kubectl-scale", "apps/v1", other)])
    assert [c.field() for c in found] == [".spec.replicas"]
    assert sm.conflicts(live, live, other, [("x", "apps/v1", other)]) == []


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
    sm.remove(merged, path)
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["a"]

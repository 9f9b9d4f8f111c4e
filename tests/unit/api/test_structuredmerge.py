from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- the fast paths against the plain definitions they shortcut

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "TCP"])
)
_names = st.sampled_from(["a", "b", "name", "image", "ports", "containerPort", "protocol", "x"])
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_names, inner, max_size=4)
    ),
    max_leaves=12,
)


def _pod_like() -> st.SearchStrategy[dict[str, Any]]:
    container = st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "c"])},
        optional={
            "image": _scalars,
            "command": st.lists(st.sampled_from(["sh", "-c"]), max_size=2),
            "ports": st.lists(
                st.fixed_dictionaries(
                    {"containerPort": st.integers(1, 3)},
                    optional={"protocol": st.sampled_from(["TCP", "UDP"])},
                ),
                max_size=3,
            ),
            "env": st.lists(st.fixed_dictionaries({"name": _names, "value": _scalars}), max_size=2),
            "resources": st.dictionaries(st.sampled_from(["limits", "requests"]), _values),
            "bogus": _values,
        },
    )
    return st.fixed_dictionaries(
        {"apiVersion": st.just("v1"), "kind": st.just("Pod")},
        optional={
            "metadata": st.fixed_dictionaries(
                {"name": st.just("p")},
                optional={
                    "labels": st.dictionaries(_names, st.sampled_from(["1", "2"]), max_size=3),
                    "finalizers": st.lists(st.sampled_from(["f", "g"]), max_size=3),
                    "ownerReferences": st.lists(
                        st.fixed_dictionaries({"uid": st.sampled_from(["u", "v"])}), max_size=2
                    ),
                },
            ),
            "spec": st.fixed_dictionaries(
                {},
                optional={
                    "containers": st.lists(container, max_size=3),
                    "nodeSelector": st.dictionaries(_names, _scalars, max_size=2),
                    "tolerations": st.lists(st.dictionaries(_names, _scalars), max_size=2),
                    "extra": _values,
                },
            ),
            "status": _values,
            "unknown": _values,
        },
    )


@settings(max_examples=300, deadline=None)
@given(_pod_like(), st.booleans())
def test_added_fields_v1_is_the_create_comparison(obj: dict[str, Any], typed: bool) -> None:
    schema = SCHEMAS.for_kind("", "v1", "Pod") if typed and SCHEMAS is not None else None
    slow = sm.to_fields_v1(sm.compare({}, obj, schema).changed())
    assert sm.added_fields_v1(obj, schema) == slow
    assert list(orjson.dumps(sm.added_fields_v1(obj, schema))) == list(orjson.dumps(slow))


@settings(max_examples=300, deadline=None)
@given(_pod_like(), _pod_like(), st.booleans())
def test_compare_and_insert_match_the_path_sets(
    old: dict[str, Any], new: dict[str, Any], typed: bool
) -> None:
    schema = SCHEMAS.for_kind("", "v1", "Pod") if typed and SCHEMAS is not None else None
    before = sm.compare({}, old, schema).changed()
    c = sm.compare(old, new, schema)
    # compare skips equal subtrees: the same answer as walking every leaf of them
    full = _compare_every_leaf(old, new, schema)
    assert (c.added, c.modified, c.removed) == (full.added, full.modified, full.removed)
    assert sm.compare(old, old, schema).empty()
    raw = sm.to_fields_v1(before)
    merged = sm.insert_fields_v1(raw, c.changed())
    want = sm.to_fields_v1(before | c.changed())
    assert orjson.dumps(merged) == orjson.dumps(want)
    assert orjson.dumps(raw) == orjson.dumps(sm.to_fields_v1(before))  # not changed in place


def _compare_every_leaf(lhs: Any, rhs: Any, schema: Any) -> sm.Comparison:
    """``compare`` as it was before it skipped equal subtrees (the oracle)."""

    def compare_map(
        lhs: Any, rhs: Any, schema: Any, path: Any, c: sm.Comparison, present: bool = True
    ) -> None:
        # (schemas here carry no zero-value facts: named fields are never nodes)
        for k in {**lhs, **rhs}:
            sub, prop, named = sm._child(schema, k)
            child = (*path, ("f", k))
            lv, rv = lhs.get(k, sm._MISSING), rhs.get(k, sm._MISSING)
            sm._compare(lv, rv, sub, prop, child, c, lv is not sm._MISSING)
            if not named and (isinstance(lv, dict | list) or isinstance(rv, dict | list)):
                sm._node_hook(lv, rv, child, c)

    def compare_list(
        lhs: Any, rhs: Any, schema: Any, kind: str, keys: Any, path: Any, c: sm.Comparison
    ) -> bool:
        li, ri = sm._index(lhs, kind, keys), sm._index(rhs, kind, keys)
        if li is None or ri is None:
            return False
        item_schema = sm._items(schema)
        for pe in {**li[1], **ri[1]}:
            lv, rv = li[1].get(pe, sm._MISSING), ri[1].get(pe, sm._MISSING)
            child = (*path, pe)
            if kind == "map":
                sm._compare(lv, rv, item_schema, {}, child, c, lv is not sm._MISSING)
                sm._node_hook(lv, rv, child, c)
            else:
                sm._leaf(lv, rv, child, c)
        return True

    saved = sm._compare_map, sm._compare_list
    sm._compare_map, sm._compare_list = compare_map, compare_list  # type: ignore[assignment]
    try:
        return sm.compare(lhs, rhs, schema)
    finally:
        sm._compare_map, sm._compare_list = saved


ZERO_DEFS: dict[str, Any] = {
    "Top": {
        "properties": {"spec": {"$ref": "#/$defs/Spec"}, "metadata": {"$ref": "#/$defs/Meta"}},
        sm.ZERO_KEY: ["metadata", "spec"],
    },
    "Meta": {
        "properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}},
        sm.ZERO_KEY: [],
    },
    "Spec": {
        "properties": {
            "plain": {"$ref": "#/$defs/Inner"},
            "pointer": {"$ref": "#/$defs/Inner"},
            "items": {
                "type": "array",
                "items": {"$ref": "#/$defs/Item"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            "required": {
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-list-type": "set",
            },
        },
        sm.ZERO_KEY: ["plain", "required"],
    },
    "Inner": {"properties": {"a": {"type": "string"}}, sm.ZERO_KEY: []},
    "Item": {
        "properties": {"name": {"type": "string"}, "plain": {"$ref": "#/$defs/Inner"}},
        sm.ZERO_KEY: ["name", "plain"],
    },
}


def test_added_fields_are_nodes_unless_the_go_zero_value_holds_them() -> None:
    schema = sm.Schema({"$ref": "#/$defs/Top"}, ZERO_DEFS)
    obj = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {
            "plain": {"a": "1"},
            "pointer": {"a": "2"},
            "required": ["r"],
            "items": [{"name": "n", "plain": {"a": "3"}}],
        },
    }
    want = {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:items": {
                ".": {},
                'k:{"name":"n"}': {".": {}, "f:name": {}, "f:plain": {".": {}, "f:a": {}}},
            },
            "f:plain": {"f:a": {}},
            "f:pointer": {".": {}, "f:a": {}},
            "f:required": {'v:"r"': {}},
        },
    }
    assert sm.added_fields_v1(obj, schema) == want
    # the comparison an update makes finds the same nodes, from an empty object
    assert sm.to_fields_v1(sm.compare({}, obj, schema).changed()) == want
    # a field that already existed is no new node: only what it gained is
    old = {"spec": {"pointer": {"a": "2"}}}
    grown = {"spec": {"pointer": {"a": "2"}, "plain": {"a": "1"}}}
    assert sm.compare(old, grown, schema).changed() == {(("f", "spec"), ("f", "plain"), ("f", "a"))}

"""ControllerRevision helpers: hashing, names, the template patch and its Go layout."""

from __future__ import annotations

from pyk8s.controllers import history


def test_fnv32_is_fnv1_as_go_hash_fnv_new32() -> None:
    # Reference values of the 32-bit FNV-1 (not FNV-1a) test vectors.
    assert history.fnv32(b"") == 0x811C9DC5
    assert history.fnv32(b"a") == 0x050C5D7E
    assert history.fnv32(b"foobar") == 0x31F0B262


def test_safe_encode_uses_the_alphabet_without_vowels() -> None:
    assert history.safe_encode("0123456789") == "456789bcdf"


def test_go_json_sorts_compacts_and_escapes_html() -> None:
    raw = history.go_json({"b": 1, "a": {"z": "<x&y>", "c": [1, None]}})
    assert raw == b'{"a":{"c":[1,null],"z":"\\u003cx\\u0026y\\u003e"},"b":1}'


def test_template_patch_is_what_kubectl_renders_from_the_typed_object() -> None:
    parent = {
        "metadata": {"name": "web", "uid": "u1"},
        "spec": {
            "replicas": 3,
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {}},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx", "resources": {}, "args": []}],
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {"namespaces": [], "topologyKey": "kubernetes.io/hostname"}
                            ]
                        }
                    },
                },
            },
        },
    }
    patch = history.template_patch(parent)
    assert history.go_json(patch) == (
        b'{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,'
        b'"labels":{"app":"web"}},"spec":{"affinity":{"podAntiAffinity":'
        b'{"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":'
        b'"kubernetes.io/hostname"}]}},"containers":[{"image":"nginx","name":"c",'
        b'"resources":{}}]}}}}'
    )
    restored = history.apply_template_patch({"spec": {"replicas": 5}}, patch)
    assert restored["spec"]["replicas"] == 5
    assert "$patch" not in restored["spec"]["template"]
    assert restored["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"


def test_new_revision_name_labels_and_owner() -> None:
    parent = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}
    data = {"spec": {"template": {"$patch": "replace"}}}
    cr = history.new_revision(parent, "apps/v1", "StatefulSet", {"app": "web"}, data, 4, 0)
    hash_ = history.hash_revision(data, 0)
    assert cr["metadata"]["name"] == f"web-{hash_}"
    assert cr["metadata"]["labels"] == {"app": "web", history.HASH_LABEL: hash_}
    assert cr["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert cr["revision"] == 4
    # the collision count is part of the hash, so a collision finds another name
    assert history.hash_revision(data, 1) != hash_
    assert history.revision_name("x" * 300, "h") == "x" * 223 + "-h"


def test_equal_and_sort() -> None:
    a = {"metadata": {"name": "a"}, "revision": 2, "data": {"x": 1}}
    b = {"metadata": {"name": "b"}, "revision": 1, "data": {"x": 1}}
    c = {"metadata": {"name": "c"}, "revision": 3, "data": {"x": 2}}
    assert [r["metadata"]["name"] for r in history.sort_revisions([a, c, b])] == ["b", "a", "c"]
    assert history.find_equal([a, b, c], {"data": {"x": 1}, "metadata": {}}) == [a, b]
    assert history.next_revision(history.sort_revisions([a, b, c])) == 4
    assert history.next_revision([]) == 1

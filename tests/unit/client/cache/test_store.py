from __future__ import annotations

from typing import Any

import pytest

from pyk8s.client.cache import index, store


def pod(ns: str, name: str, rv: str = "1", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": name, "resourceVersion": rv, "labels": labels},
    }


def node(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}}


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        pytest.param(pod("default", "web"), "default/web", id="namespaced"),
        pytest.param(node("n1"), "n1", id="cluster"),
        pytest.param(store.DeletedFinalStateUnknown("x/y", node("y")), "x/y", id="tombstone"),
    ],
)
def test_keys(obj: Any, key: str) -> None:
    assert store.deletion_handling_key(obj) == key


def test_key_without_name_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"metadata\.name"):
        store.meta_namespace_key({"metadata": {}})


@pytest.mark.parametrize(
    ("key", "parts"),
    [("a/b", ("a", "b")), ("b", ("", "b"))],
)
def test_split_key(key: str, parts: tuple[str, str]) -> None:
    assert store.split_key(key) == parts


def test_split_key_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="unexpected key"):
        store.split_key("a/b/c")


def test_add_update_delete_with_namespace_index() -> None:
    s = store.Store(indexers={index.NAMESPACE: index.namespace_index_func})
    s.add(pod("a", "p1"))
    s.add(pod("a", "p2"))
    s.add(pod("b", "p3"))
    assert len(s) == 3
    assert sorted(s.list_keys()) == ["a/p1", "a/p2", "b/p3"]
    assert s.index_keys(index.NAMESPACE, "a") == ["a/p1", "a/p2"]
    assert sorted(s.list_index_func_values(index.NAMESPACE)) == ["a", "b"]
    s.update(pod("a", "p1", rv="2"))
    assert s.get_by_key("a/p1")["metadata"]["resourceVersion"] == "2"  # type: ignore[index]
    assert s.delete(pod("b", "p3")) is not None
    assert s.list_index_func_values(index.NAMESPACE) == ["a"]
    assert s.by_index(index.NAMESPACE, "b") == []
    assert s.delete(pod("b", "p3")) is None  # deleting a missing object is not an error
    assert s.get(pod("a", "p2")) == pod("a", "p2")
    assert "a/p2" in s


def test_stored_objects_are_read_only() -> None:
    s = store.Store()
    original = pod("a", "p1")
    stored = s.add(original)
    with pytest.raises(TypeError):
        stored["metadata"]["labels"]["x"] = "y"  # type: ignore[index]
    original["metadata"]["name"] = "mutated-by-caller"
    assert s.get_by_key("a/p1")["metadata"]["name"] == "p1"  # type: ignore[index]


def test_index_moves_when_the_value_changes() -> None:
    def by_app(obj: Any) -> list[str]:
        return [obj["metadata"]["labels"].get("app", "")]

    s = store.Store(indexers={"app": by_app})
    s.add(pod("a", "p1", app="x"))
    s.add(pod("a", "p2", app="x"))
    s.update(pod("a", "p1", app="y"))
    assert s.index_keys("app", "x") == ["a/p2"]
    assert s.index_keys("app", "y") == ["a/p1"]
    assert [o["metadata"]["name"] for o in s.index("app", pod("z", "q", app="y"))] == ["p1"]


def test_multi_value_index() -> None:
    def by_finalizer(obj: Any) -> list[str]:
        return list(obj["metadata"].get("finalizers", []))

    s = store.Store(indexers={"fin": by_finalizer})
    o = pod("a", "p1")
    o["metadata"]["finalizers"] = ["f1", "f2"]
    s.add(o)
    assert s.index_keys("fin", "f1") == ["a/p1"]
    assert s.index_keys("fin", "f2") == ["a/p1"]
    s.delete(o)
    assert s.list_index_func_values("fin") == []


def test_replace_rebuilds_items_and_indices() -> None:
    s = store.Store(indexers={index.NAMESPACE: index.namespace_index_func})
    s.add(pod("a", "old"))
    s.replace([pod("b", "new1"), pod("b", "new2")], "42")
    assert sorted(s.list_keys()) == ["b/new1", "b/new2"]
    assert s.by_index(index.NAMESPACE, "a") == []
    assert len(s.by_index(index.NAMESPACE, "b")) == 2
    assert s.resource_version == "42"


def test_add_indexers_later_fills_from_existing_items() -> None:
    s = store.Store()
    s.add(pod("a", "p1"))
    s.add_indexers({index.NAMESPACE: index.namespace_index_func})
    assert s.index_keys(index.NAMESPACE, "a") == ["a/p1"]
    with pytest.raises(ValueError, match="conflict"):
        s.add_indexers({index.NAMESPACE: index.namespace_index_func})


def test_unknown_index_is_a_clear_error() -> None:
    s = store.Store()
    with pytest.raises(KeyError, match="does not exist"):
        s.by_index("nope", "x")
    with pytest.raises(KeyError, match="does not exist"):
        s.index("nope", pod("a", "b"))

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client.cache import index, listers, store


def pod(ns: str, name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name, "labels": labels}}


class AppIn:
    def __init__(self, *apps: str) -> None:
        self.apps = apps

    def matches(self, labels: Mapping[str, str]) -> bool:
        return labels.get("app") in self.apps


@pytest.fixture(params=[True, False], ids=["indexed", "unindexed"])
def lister(request: pytest.FixtureRequest) -> listers.Lister:
    indexers = {index.NAMESPACE: index.namespace_index_func} if request.param else None
    s = store.Store(indexers=indexers)
    s.replace(
        [
            pod("a", "web-1", app="web", tier="front"),
            pod("a", "db-1", app="db"),
            pod("b", "web-2", app="web"),
            pod("b", "bare"),
        ]
    )
    return listers.Lister(s, "pods")


def names(objs: list[Any]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param(None, ["bare", "db-1", "web-1", "web-2"], id="everything"),
        pytest.param({"app": "web"}, ["web-1", "web-2"], id="mapping"),
        pytest.param({"app": "web", "tier": "front"}, ["web-1"], id="mapping-two"),
        pytest.param({}, ["bare", "db-1", "web-1", "web-2"], id="empty-mapping"),
        pytest.param(AppIn("db", "web"), ["db-1", "web-1", "web-2"], id="selector-object"),
    ],
)
def test_list_all_namespaces(
    lister: listers.Lister, selector: listers.LabelSelector, expected: list[str]
) -> None:
    assert names(lister.list(selector)) == expected


def test_namespace_list_and_get(lister: listers.Lister) -> None:
    assert names(lister.namespace("a").list()) == ["db-1", "web-1"]
    assert names(lister.namespace("b").list({"app": "web"})) == ["web-2"]
    assert lister.namespace("a").get("db-1")["metadata"]["labels"] == {"app": "db"}
    with pytest.raises(errors.NotFound, match='pods "web-2" not found'):
        lister.namespace("a").get("web-2")


def test_cluster_scoped_get() -> None:
    s = store.Store()
    s.add({"metadata": {"name": "n1"}})
    nodes = listers.Lister(s, "nodes")
    assert nodes.get("n1")["metadata"]["name"] == "n1"
    with pytest.raises(errors.NotFound) as info:
        listers.Lister(s, "deployments", "apps").get("x")
    assert str(info.value) == 'deployments.apps "x" not found'
    assert info.value.code == 404


def test_structured_selectors_from_the_api_package(lister: listers.Lister) -> None:
    from pyk8s.api import selectors

    sel = selectors.from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}],
        }
    )
    assert names(lister.list(sel)) == ["web-1"]
    assert names(lister.namespace("b").list(selectors.parse_labels("app"))) == ["web-2"]

"""DaemonSet strategy: the template generation annotation, over memory storage."""

from __future__ import annotations

import copy

import pytest

from pyk8s.api import scheme
from pyk8s.apiserver.registry import rest
from pyk8s.apiserver.registry.apps.daemonset.strategy import TEMPLATE_GENERATION
from pyk8s.apiserver.registry.generic.store import WriteOptions
from pyk8s.storage.memory import MemoryStorage

DS = {
    "metadata": {"name": "agent"},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {"containers": [{"name": "c", "image": "agent:1"}]},
        },
    },
}


@pytest.fixture
async def daemonsets() -> rest.REST:
    r = rest.build(MemoryStorage(), scheme.DEFAULT)
    await r[("", "v1", "namespaces")].store.create("", {"metadata": {"name": "ns"}}, WriteOptions())
    return r[("apps", "v1", "daemonsets")]


def generation(obj: dict) -> tuple[str, int]:  # type: ignore[type-arg]
    md = obj["metadata"]
    return md["annotations"][TEMPLATE_GENERATION], md["generation"]


async def test_template_generation_follows_template_changes(daemonsets: rest.REST) -> None:
    store = daemonsets.store
    created = await store.create("ns", copy.deepcopy(DS), WriteOptions())
    assert generation(created) == ("1", 1)
    same = copy.deepcopy(created)
    same["metadata"]["labels"] = {"team": "x"}
    updated, _ = await store.update("ns", "agent", same, WriteOptions())
    assert generation(updated) == ("1", 1)
    changed = copy.deepcopy(updated)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    updated, _ = await store.update("ns", "agent", changed, WriteOptions())
    assert generation(updated) == ("2", 2)
    # a spec change outside the template moves the generation only
    other = copy.deepcopy(updated)
    other["spec"]["minReadySeconds"] = 5
    updated, _ = await store.update("ns", "agent", other, WriteOptions())
    assert generation(updated) == ("2", 3)

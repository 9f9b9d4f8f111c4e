from __future__ import annotations

import copy
import pickle
from typing import Any

import orjson
import pytest

from pyk8s.client.cache import frozen

POD: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
    "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
}


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda o: o.__setitem__("x", 1), id="setitem"),
        pytest.param(lambda o: o.__delitem__("metadata"), id="delitem"),
        pytest.param(lambda o: o["metadata"]["labels"].update(b="c"), id="nested-update"),
        pytest.param(lambda o: o["metadata"].setdefault("annotations", {}), id="setdefault"),
        pytest.param(lambda o: o["metadata"].pop("name"), id="pop"),
        pytest.param(lambda o: o.clear(), id="clear"),
        pytest.param(lambda o: o["metadata"]["finalizers"].append("b"), id="list-append"),
        pytest.param(lambda o: o["metadata"]["finalizers"].remove("a"), id="list-remove"),
        pytest.param(lambda o: o["spec"]["containers"][0].__setitem__("image", "x"), id="deep"),
        pytest.param(lambda o: o["spec"]["containers"].__setitem__(0, {}), id="list-setitem"),
        pytest.param(lambda o: o["spec"]["containers"].sort(), id="list-sort"),
    ],
)
def test_mutation_fails_loudly(mutate: Any) -> None:
    obj = frozen.freeze(POD)
    with pytest.raises(TypeError, match="read-only"):
        mutate(obj)
    assert obj == POD


def test_inplace_operators_fail() -> None:
    obj = frozen.freeze(POD)
    fins = obj["metadata"]["finalizers"]
    with pytest.raises(TypeError):
        fins += ["b"]
    with pytest.raises(TypeError):
        labels = obj["metadata"]["labels"]
        labels |= {"b": "c"}
    assert obj == POD


def test_freeze_leaves_the_input_alone_and_reads_like_json() -> None:
    obj = frozen.freeze(POD)
    assert isinstance(obj, dict)
    assert isinstance(obj["metadata"]["finalizers"], list)
    assert obj == POD
    assert orjson.loads(orjson.dumps(obj)) == POD
    POD_copy = copy.deepcopy(POD)
    POD_copy["metadata"]["name"] = "changed"  # the original input stays mutable
    assert obj["metadata"]["name"] == "web"


def test_deepcopy_and_thaw_give_mutable_plain_values() -> None:
    obj = frozen.freeze(POD)
    for copied in (copy.deepcopy(obj), frozen.thaw(obj)):
        assert type(copied) is dict
        assert type(copied["spec"]["containers"]) is list
        assert type(copied["spec"]["containers"][0]) is dict
        copied["metadata"]["labels"]["b"] = "c"
        copied["spec"]["containers"].append({"name": "d"})
    assert obj == POD


def test_pickle_round_trip_is_plain() -> None:
    obj = frozen.freeze(POD)
    back = pickle.loads(pickle.dumps(obj))
    assert back == POD
    back["x"] = 1


def test_freezing_frozen_is_identity() -> None:
    obj = frozen.freeze(POD)
    assert frozen.freeze(obj) is obj

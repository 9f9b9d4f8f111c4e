"""The generic store over memory storage: list fast path, graceful deletion, conflicts."""

from __future__ import annotations

import orjson
import pytest

from pyk8s.api import errors, scheme
from pyk8s.apiserver.registry import rest
from pyk8s.apiserver.registry.core.pod import storage as pod_storage
from pyk8s.apiserver.registry.generic.store import (
    DeleteOptions,
    ListOptions,
    WriteOptions,
    encode,
    splice_list_item,
)
from pyk8s.storage.memory import MemoryStorage


@pytest.fixture
async def rests() -> dict[tuple[str, str, str], rest.REST]:
    store = MemoryStorage()
    r = rest.build(store, scheme.DEFAULT)
    await r[("", "v1", "namespaces")].store.create("", {"metadata": {"name": "ns"}}, WriteOptions())
    return r


async def test_list_json_equals_decoded_list(rests: dict[tuple[str, str, str], rest.REST]) -> None:
    cms = rests[("", "v1", "configmaps")].store
    for i in range(5):
        await cms.create(
            "ns", {"metadata": {"name": f"c{i}"}, "data": {"k": str(i)}}, WriteOptions("", "m")
        )
    fast = await cms.list_json("ns", ListOptions())
    assert fast is not None
    assert orjson.loads(fast) == await cms.list("ns", ListOptions())
    paged = await cms.list_json("ns", ListOptions(limit=2))
    assert paged is not None
    doc = orjson.loads(paged)
    assert [i["metadata"]["name"] for i in doc["items"]] == ["c0", "c1"]
    assert doc["metadata"]["continue"]


async def test_get_json_equals_decoded_get(rests: dict[tuple[str, str, str], rest.REST]) -> None:
    cms = rests[("", "v1", "configmaps")].store
    await cms.create("ns", {"metadata": {"name": "c"}, "data": {"k": "v"}}, WriteOptions("", "m"))
    fast = await cms.get_json("ns", "c")
    assert fast is not None
    assert orjson.loads(fast) == await cms.get("ns", "c")
    with pytest.raises(errors.NotFound):
        await cms.get_json("ns", "missing")
    # a value not written by encode() (another layout) is left to the decoding path
    await cms.storage.create("/registry/configmaps/ns/odd", b'{"data":{},"kind":"ConfigMap"}')
    assert await cms.get_json("ns", "odd") is None


async def test_shared_list_reuses_decoded_items_until_they_change(
    rests: dict[tuple[str, str, str], rest.REST],
) -> None:
    cms = rests[("", "v1", "configmaps")].store
    for i in range(3):
        await cms.create("ns", {"metadata": {"name": f"c{i}"}, "data": {}}, WriteOptions("", "m"))
    first = await cms.list("ns", ListOptions(), shared=True)
    plain = await cms.list("ns", ListOptions())
    strip = [
        {k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in first["items"]
    ]
    assert strip == plain["items"]
    again = await cms.list("ns", ListOptions(), shared=True)
    assert all(a is b for a, b in zip(first["items"], again["items"], strict=True))
    c1 = await cms.get("ns", "c1")
    c1["data"] = {"k": "v"}
    await cms.update("ns", "c1", c1, WriteOptions("", "m"))
    after = await cms.list("ns", ListOptions(), shared=True)
    assert after["items"][1]["data"] == {"k": "v"}
    assert after["items"][1] is not first["items"][1]
    assert after["items"][0] is first["items"][0]


def test_splice_handles_empty_metadata_and_foreign_layouts() -> None:
    prefix = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{'
    value = encode({"kind": "ConfigMap", "data": {}, "metadata": {}, "apiVersion": "v1"})
    item = splice_list_item(value, prefix, 7)
    assert item is not None
    assert orjson.loads(item) == {"metadata": {"resourceVersion": "7"}, "data": {}}
    assert splice_list_item(b'{"data":{},"apiVersion":"v1"}', prefix, 7) is None


async def test_update_conflict_and_graceful_pod_delete(
    rests: dict[tuple[str, str, str], rest.REST],
) -> None:
    pods = rests[("", "v1", "pods")].store
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    created = await pods.create("ns", pod, WriteOptions())
    assert created["spec"]["schedulerName"] == "default-scheduler"  # defaulted
    same, _ = await pods.update("ns", "p", created, WriteOptions())
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # no-op
    changed = {**created, "metadata": {**created["metadata"], "labels": {"a": "b"}}}
    first, _ = await pods.update("ns", "p", changed, WriteOptions())
    with pytest.raises(errors.Conflict):
        await pods.update("ns", "p", created, WriteOptions())
    first["spec"]["nodeName"] = "n"
    with pytest.raises(errors.Invalid, match="pod updates may not change fields"):
        await pods.update("ns", "p", first, WriteOptions())
    await pod_storage.bind(pods, "ns", "p", {"target": {"kind": "Node", "name": "n"}})
    obj, deleted = await pods.delete("ns", "p", DeleteOptions())
    assert not deleted and obj["metadata"]["deletionGracePeriodSeconds"] == 30
    _, deleted = await pods.delete("ns", "p", DeleteOptions(grace_period_seconds=0))
    assert deleted
    with pytest.raises(errors.NotFound):
        await pods.get("ns", "p")


async def test_dry_run_service_create_shows_allocations_and_keeps_nothing(
    rests: dict[tuple[str, str, str], rest.REST],
) -> None:
    svcs = rests[("", "v1", "services")].store
    body = {
        "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080}]},
    }
    seen = await svcs.create("ns", orjson.loads(orjson.dumps(body)), WriteOptions(dry_run=True))
    spec = seen["spec"]
    assert spec["clusterIP"] and spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["ports"][0]["nodePort"] == 30080
    # nothing was reserved: the real create gets the same node port
    real = await svcs.create("ns", body, WriteOptions())
    assert real["spec"]["ports"][0]["nodePort"] == 30080


async def test_scheduling_gates_are_shown_and_may_only_be_removed(
    rests: dict[tuple[str, str, str], rest.REST],
) -> None:
    """``applySchedulingGatedCondition`` on create; ``ValidatePodUpdate`` lets a gated pod
    lose gates and narrow its placement, and nothing else."""
    pods = rests[("", "v1", "pods")].store
    pod = {
        "metadata": {"name": "g"},
        "spec": {
            "containers": [{"name": "c", "image": "i"}],
            "schedulingGates": [{"name": "a"}, {"name": "b"}],
            "nodeSelector": {"zone": "x"},
        },
    }
    created = await pods.create("ns", pod, WriteOptions())
    assert created["status"]["conditions"] == [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
        }
    ]
    added = {
        **created,
        "spec": {**created["spec"], "schedulingGates": [{"name": "a"}, {"name": "c"}]},
    }
    with pytest.raises(
        errors.Invalid,
        match=r"spec.schedulingGates\[1\].name: Forbidden: only deletion is allowed, "
        "but found new scheduling gate 'c'",
    ):
        await pods.update("ns", "g", added, WriteOptions())
    changed = {**created, "spec": {**created["spec"], "nodeSelector": {"zone": "y"}}}
    with pytest.raises(errors.Invalid, match=r"only additions to spec\.nodeSelector are allowed"):
        await pods.update("ns", "g", changed, WriteOptions())
    narrower = {
        **created,
        "spec": {
            **created["spec"],
            "schedulingGates": [{"name": "b"}],
            "nodeSelector": {"zone": "x", "disk": "ssd"},
        },
    }
    one_left, _ = await pods.update("ns", "g", narrower, WriteOptions())
    assert one_left["spec"]["schedulingGates"] == [{"name": "b"}]
    released = {
        **one_left,
        "spec": {k: v for k, v in one_left["spec"].items() if k != "schedulingGates"},
    }
    free, _ = await pods.update("ns", "g", released, WriteOptions())
    assert "schedulingGates" not in free["spec"]
    # no longer gated: the placement is fixed again
    moved = {**free, "spec": {**free["spec"], "nodeSelector": {"zone": "x"}}}
    with pytest.raises(errors.Invalid, match="pod updates may not change fields"):
        await pods.update("ns", "g", moved, WriteOptions())


async def test_pod_affinity_match_label_keys_join_the_selector_on_create(
    rests: dict[tuple[str, str, str], rest.REST],
) -> None:
    pods = rests[("", "v1", "pods")].store
    term = {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"app": "web"}},
        "matchLabelKeys": ["pod-template-hash", "absent"],
        "mismatchLabelKeys": ["tenant"],
    }
    pod = {
        "metadata": {
            "name": "a",
            "labels": {"app": "web", "pod-template-hash": "h1", "tenant": "t"},
        },
        "spec": {
            "containers": [{"name": "c", "image": "i"}],
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [term],
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 1, "podAffinityTerm": {**term, "labelSelector": None}}
                    ],
                }
            },
        },
    }
    created = await pods.create("ns", pod, WriteOptions())
    anti = created["spec"]["affinity"]["podAntiAffinity"]
    [required] = anti["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["labelSelector"] == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "pod-template-hash", "operator": "In", "values": ["h1"]},
            {"key": "tenant", "operator": "NotIn", "values": ["t"]},
        ],
    }
    assert required["matchLabelKeys"] == ["pod-template-hash", "absent"]
    [preferred] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["podAffinityTerm"].get("labelSelector") is None

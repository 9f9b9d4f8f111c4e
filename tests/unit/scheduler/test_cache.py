"""The scheduler cache: assumed pods, confirmation, expiry, ghosts, images, snapshots."""

from __future__ import annotations

import pytest

from pyk8s.scheduler.cache import Cache, CacheError, Snapshot, zone_interleaved, zone_key
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.conftest import FakeClock


def assigned(p: dict, n: str) -> dict:
    return {**p, "spec": {**p["spec"], "nodeName": n}}


def test_assume_confirm_and_forget() -> None:
    c = Cache()
    c.add_node(node("n1", cpu="4"))
    p = assigned(pod("p", cpu="1"), "n1")
    c.assume_pod(p)
    assert c.is_assumed_pod(p)
    assert c.nodes["n1"].requested.milli_cpu == 1000
    with pytest.raises(CacheError):
        c.assume_pod(p)
    c.add_pod(p)  # the informer confirms it
    assert not c.is_assumed_pod(p)
    assert c.nodes["n1"].requested.milli_cpu == 1000
    q = assigned(pod("q", cpu="1"), "n1")
    c.assume_pod(q)
    c.forget_pod(q)
    assert c.nodes["n1"].requested.milli_cpu == 1000
    with pytest.raises(CacheError):
        c.forget_pod(p)  # confirmed pods cannot be forgotten


def test_confirmation_on_another_node_moves_the_pod() -> None:
    c = Cache()
    c.add_node(node("n1"))
    c.add_node(node("n2"))
    p = pod("p", cpu="1")
    c.assume_pod(assigned(p, "n1"))
    c.add_pod(assigned(p, "n2"))
    assert c.nodes["n1"].pods == [] and len(c.nodes["n2"].pods) == 1


def test_assumed_pods_expire_after_binding_with_ttl(clock: FakeClock) -> None:
    c = Cache(ttl=30, clock=clock)
    c.add_node(node("n1"))
    p = assigned(pod("p", cpu="1"), "n1")
    c.assume_pod(p)
    clock.step(100)
    assert c.cleanup_assumed_pods() == []  # binding not finished: never expires
    c.finish_binding(p)
    clock.step(29)
    assert c.cleanup_assumed_pods() == []
    clock.step(2)
    assert c.cleanup_assumed_pods() == [p]
    assert c.pod_count() == 0


def test_no_ttl_means_no_expiry(clock: FakeClock) -> None:
    c = Cache(clock=clock)
    c.add_node(node("n1"))
    p = assigned(pod("p"), "n1")
    c.assume_pod(p)
    c.finish_binding(p)
    clock.step(10_000)
    assert c.cleanup_assumed_pods() == []


def test_removed_node_with_pods_is_a_ghost_until_they_go() -> None:
    c = Cache()
    n = node("n1")
    c.add_node(n)
    p = assigned(pod("p"), "n1")
    c.add_pod(p)
    c.remove_node(n)
    s = Snapshot()
    c.update_snapshot(s)
    assert s.num_nodes() == 0 and "n1" in c.nodes
    c.remove_pod(p)
    assert "n1" not in c.nodes


def test_pod_for_unknown_node_creates_a_placeholder() -> None:
    c = Cache()
    c.add_pod(assigned(pod("p", cpu="1"), "later"))
    s = Snapshot()
    c.update_snapshot(s)
    assert s.num_nodes() == 0
    c.add_node(node("later"))
    c.update_snapshot(s)
    assert s.get("later").requested.milli_cpu == 1000


def test_image_states_count_nodes() -> None:
    c = Cache()
    c.add_node(node("n1", images=[(["nginx:latest", "docker.io/library/nginx:latest"], 100)]))
    c.add_node(node("n2", images=[(["nginx:latest"], 100)]))
    assert c.image_states()["nginx:latest"].num_nodes == 2
    assert c.nodes["n1"].image_states["nginx:latest"].num_nodes == 2
    c.remove_node(node("n2"))
    assert c.image_states()["nginx:latest"].num_nodes == 1


def test_snapshot_is_incremental_and_isolated() -> None:
    c = Cache()
    for name in ("a", "b", "c"):
        c.add_node(node(name))
    s = Snapshot()
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["a", "b", "c"]
    a_before, b_before = s.get("a"), s.get("b")
    c.add_pod(assigned(pod("p", cpu="1"), "a"))
    assert s.get("a").requested.milli_cpu == 0  # the snapshot is a copy
    c.update_snapshot(s)
    assert s.get("a") is not a_before and s.get("b") is b_before
    assert s.get("a").requested.milli_cpu == 1000
    assert [n.name for n in s.list()] == ["a", "b", "c"]
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {}, "topologyKey": "zone"}
            ]
        }
    }
    c.add_pod(assigned(pod("q", affinity=anti), "b"))
    c.update_snapshot(s)
    assert [n.name for n in s.have_pods_with_required_anti_affinity()] == ["b"]
    assert [n.name for n in s.have_pods_with_affinity()] == ["b"]
    c.remove_node(node("c"))
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["a", "b"]
    with pytest.raises(KeyError):
        s.get("c")


def zoned(name: str, zone: str = "", region: str = "") -> dict:
    n = node(name)
    labels = n["metadata"].setdefault("labels", {})
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    if region:
        labels["topology.kubernetes.io/region"] = region
    return n


def test_zone_key() -> None:
    assert zone_key(zoned("a")) == ""
    assert zone_key(zoned("a", "z1")) == ":\x00:z1"
    assert zone_key(zoned("a", "z1", "r1")) == "r1:\x00:z1"
    beta = node("b")
    beta["metadata"]["labels"] = {"failure-domain.beta.kubernetes.io/zone": "old"}
    assert zone_key(beta) == ":\x00:old"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], []),
        ([("a", ""), ("b", ""), ("c", "")], ["a", "b", "c"]),
        (
            [("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A"), ("c1", "C"), ("b2", "B")],
            ["a1", "b1", "c1", "a2", "b2", "a3"],
        ),
    ],
)
def test_zone_interleaved(names: list[tuple[str, str]], expected: list[str]) -> None:
    assert zone_interleaved(names) == expected


def test_snapshot_lists_nodes_zone_by_zone_and_keeps_order_on_updates() -> None:
    c = Cache()
    for name, zone in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B")):
        c.add_node(zoned(name, zone))
    s = Snapshot()
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["a1", "b1", "a2", "b2"]
    tainted = zoned("a2", "A")
    tainted["spec"] = {"taints": [{"key": "k", "effect": "NoSchedule"}]}
    c.update_node(zoned("a2", "A"), tainted)
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["a1", "b1", "a2", "b2"]
    assert s.list()[2].taints == [{"key": "k", "effect": "NoSchedule"}]
    assert s.get("a2") is s.list()[2]
    c.update_node(zoned("a1", "A"), zoned("a1", "B"))  # a node moving zone moves in the list
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["a1", "a2", "b1", "b2"]  # B is first: a1 came first

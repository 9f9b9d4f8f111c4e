"""The fake client: API-server-like answers, recorded actions, reactors, watches."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client import clock, events, fake, leaderelection, rest
from pyk8s.client.informers import factory, shared_informer

from .informers.scripted import eventually

PODS = rest.ResourceRef("", "v1", "pods", True, "Pod")
NODES = rest.ResourceRef("", "v1", "nodes", False, "Node")
RS = rest.ResourceRef("apps", "v1", "replicasets", True, "ReplicaSet")


def pod(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {}}


async def test_crud_like_a_server() -> None:
    c = fake.Client(clock=clock.FakeClock())
    created = await c.create(PODS, pod("a", app="web"))
    meta = created["metadata"]
    assert (created["apiVersion"], created["kind"]) == ("v1", "Pod")
    assert meta["uid"] and meta["resourceVersion"] == "1" and meta["generation"] == 1
    assert meta["creationTimestamp"] == "2026-01-01T00:00:00Z"
    with pytest.raises(errors.AlreadyExists, match='pods "a" already exists'):
        await c.create(PODS, pod("a"))
    got = await c.get(PODS, "a")
    got["spec"]["nodeName"] = "n1"
    updated = await c.update(PODS, got)
    assert updated["metadata"]["generation"] == 2
    with pytest.raises(errors.Conflict, match="has been modified"):
        await c.update(PODS, got)  # stale
    status = await c.update(
        PODS, {**updated, "status": {"phase": "Running"}, "spec": {}}, subresource="status"
    )
    assert status["status"] == {"phase": "Running"}
    assert status["spec"] == {"nodeName": "n1"}  # the status subresource keeps the spec
    await c.delete(PODS, "a")
    with pytest.raises(errors.NotFound, match='pods "a" not found'):
        await c.get(PODS, "a")
    assert [a.verb for a in c.actions] == [
        "create",
        "create",
        "get",
        "update",
        "update",
        "update",
        "delete",
        "get",
    ]
    assert c.actions[0].object is not None
    assert c.actions[0].namespace == "default"


async def test_generate_name_and_required_name() -> None:
    c = fake.Client()
    obj = await c.create(PODS, {"metadata": {"generateName": "web-"}})
    assert obj["metadata"]["name"].startswith("web-")
    assert len(obj["metadata"]["name"]) == len("web-") + 5
    with pytest.raises(errors.Invalid, match="name"):
        await c.create(PODS, {"metadata": {}})


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param(None, ["a", "b", "c", "d"], id="all"),
        pytest.param("app=web", ["a", "b"], id="eq"),
        pytest.param("app==web,tier=front", ["a"], id="eq-two"),
        pytest.param("app!=web", ["c", "d"], id="neq"),
        pytest.param("app in (db, cache)", ["c"], id="in"),
        pytest.param("app notin (web)", ["c", "d"], id="notin"),
        pytest.param("tier", ["a"], id="exists"),
        pytest.param("!app", ["d"], id="not-exists"),
    ],
)
async def test_label_selectors(selector: str | None, expected: list[str]) -> None:
    c = fake.Client()
    c.add(PODS, pod("a", app="web", tier="front"))
    c.add(PODS, pod("b", app="web"))
    c.add(PODS, pod("c", app="db"))
    c.add(PODS, pod("d"))
    listed = await c.list(PODS, label_selector=selector)
    assert [o["metadata"]["name"] for o in listed["items"]] == expected


async def test_field_selectors_namespaces_and_paging() -> None:
    c = fake.Client()
    c.add(PODS, {**pod("a", ns="x"), "spec": {"nodeName": "n1"}})
    c.add(PODS, {**pod("b", ns="x"), "spec": {"nodeName": "n2"}})
    c.add(PODS, pod("c", ns="y"))
    by_node = await c.list(PODS, field_selector="spec.nodeName=n1")
    assert [o["metadata"]["name"] for o in by_node["items"]] == ["a"]
    unscheduled = await c.list(PODS, field_selector="spec.nodeName=")
    assert [o["metadata"]["name"] for o in unscheduled["items"]] == ["c"]
    assert len((await c.list(PODS, "x"))["items"]) == 2
    first = await c.list(PODS, limit=2)
    assert first["metadata"]["continue"]
    rest_ = await c.list(PODS, limit=2, continue_=first["metadata"]["continue"])
    assert [o["metadata"]["name"] for o in rest_["items"]] == ["c"]


async def test_patches() -> None:
    c = fake.Client()
    c.add(PODS, {**pod("a", app="web"), "spec": {"containers": [{"name": "c"}]}})
    merged = await c.patch(PODS, "a", {"metadata": {"labels": {"app": None, "x": "1"}}})
    assert merged["metadata"]["labels"] == {"x": "1"}
    patched = await c.patch(
        PODS,
        "a",
        [
            {"op": "add", "path": "/spec/containers/-", "value": {"name": "d"}},
            {"op": "replace", "path": "/metadata/labels/x", "value": "2"},
            {"op": "remove", "path": "/spec/containers/0"},
            {"op": "test", "path": "/metadata/labels/x", "value": "2"},
        ],
        patch_type=rest.PatchType.JSON,
    )
    assert patched["spec"]["containers"] == [{"name": "d"}]
    assert patched["metadata"]["labels"] == {"x": "2"}
    with pytest.raises(errors.Invalid):
        await c.patch(
            PODS,
            "a",
            [{"op": "test", "path": "/metadata/labels/x", "value": "9"}],
            patch_type=rest.PatchType.JSON,
        )
    with pytest.raises(errors.Invalid):
        await c.patch(
            PODS,
            "a",
            [{"op": "replace", "path": "/nope", "value": 1}],
            patch_type=rest.PatchType.JSON,
        )
    assert c.actions[-1].patch_type is rest.PatchType.JSON


async def test_finalizers_hold_a_deletion() -> None:
    c = fake.Client()
    c.add(PODS, {**pod("a"), "metadata": {**pod("a")["metadata"], "finalizers": ["x/y"]}})
    held = await c.delete(PODS, "a")
    assert held["metadata"]["deletionTimestamp"]
    obj = await c.get(PODS, "a")
    obj["metadata"]["finalizers"] = []
    await c.update(PODS, obj)
    with pytest.raises(errors.NotFound):
        await c.get(PODS, "a")


async def test_delete_preconditions_and_collection() -> None:
    c = fake.Client()
    c.add(PODS, pod("a", app="web"))
    c.add(PODS, pod("b", app="web"))
    c.add(PODS, pod("c", app="db"))
    with pytest.raises(errors.Conflict, match="Precondition"):
        await c.delete(PODS, "a", preconditions={"uid": "wrong"})
    await c.delete_collection(PODS, "default", label_selector="app=web")
    assert [o["metadata"]["name"] for o in c.objects(PODS)] == ["c"]


async def test_binding_subresource() -> None:
    c = fake.Client()
    c.add(PODS, pod("a"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "a"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
    }
    await c.create(PODS, binding, name="a", subresource="binding")
    assert (await c.get(PODS, "a"))["spec"]["nodeName"] == "n1"
    with pytest.raises(errors.Conflict, match="already assigned"):
        await c.create(PODS, binding, name="a", subresource="binding")
    assert c.actions_of("create", "pods")[0].subresource == "binding"


async def test_reactors_answer_first() -> None:
    c = fake.Client()

    def refuse(action: fake.Action) -> tuple[bool, Any]:
        raise errors.Forbidden("pods is forbidden")

    def canned(action: fake.Action) -> tuple[bool, Any]:
        return True, {"metadata": {"name": action.name, "canned": True}}

    c.prepend_reactor("create", "pods", refuse)
    c.prepend_reactor("get", "*", canned)
    with pytest.raises(errors.Forbidden):
        await c.create(PODS, pod("a"))
    assert (await c.get(NODES, "n1"))["metadata"]["canned"] is True
    assert c.objects(PODS) == []
    assert len(c.actions_of("*")) == 2
    c.clear_actions()
    assert c.actions == []


async def collect(gen: Any, n: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    async with contextlib.aclosing(gen) as events_:
        async for ev in events_:
            out.append((ev.type, ev.object["metadata"].get("name", "")))
            if len(out) == n:
                break
    return out


async def test_watch_initial_events_changes_and_bookmarks() -> None:
    c = fake.Client()
    c.add(PODS, pod("a"))
    task = asyncio.create_task(collect(c.watch(PODS), 4))
    await asyncio.sleep(0)
    await c.create(PODS, pod("b"))
    await c.create(PODS, pod("other", ns="elsewhere", x="1"))
    c.bookmark(PODS)
    await c.delete(PODS, "b")
    assert await asyncio.wait_for(task, 5) == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("ADDED", "other"),
        ("BOOKMARK", ""),
    ]
    listed = await c.list(PODS)
    rv = listed["metadata"]["resourceVersion"]
    task = asyncio.create_task(collect(c.watch(PODS, "default", resource_version=rv), 1))
    await asyncio.sleep(0)
    await c.create(PODS, pod("c"))
    assert await asyncio.wait_for(task, 5) == [("ADDED", "c")]


async def test_watch_too_old_is_gone() -> None:
    c = fake.Client()
    c.compacted_rv = 10
    with pytest.raises(errors.Gone):
        await collect(c.watch(PODS, resource_version="3"), 1)


async def test_informers_run_on_the_fake() -> None:
    c = fake.Client()
    c.add(RS, {"metadata": {"name": "web", "namespace": "default"}})
    c.add(PODS, pod("a", app="web"))
    async with factory.SharedInformerFactory(c) as informers:
        seen: list[str] = []
        informers.for_resource(PODS).add_event_handler(
            shared_informer.EventHandlerFuncs(add=lambda o: seen.append(o["metadata"]["name"]))
        )
        informers.for_resource(RS)
        informers.start()
        assert await informers.wait_for_cache_sync(timeout=5) == {PODS: True, RS: True}
        await c.create(PODS, pod("b", app="web"))
        await eventually(lambda: seen == ["a", "b"])
        assert informers.lister(RS).namespace("default").get("web")["metadata"]["name"] == "web"
    watches = c.actions_of("watch", "pods")
    assert watches and watches[0].options["resource_version"] == "2"


async def test_leader_election_and_events_on_the_fake() -> None:
    c = fake.Client(clock=clock.FakeClock())
    led = asyncio.Event()

    async def work() -> None:
        led.set()

    lock = leaderelection.LeaseLock(c, "kube-system", "kcm", "me")
    await asyncio.wait_for(leaderelection.LeaderElector(lock, work, clock=c.clock).run(), 5)
    assert led.is_set()
    [lease] = c.objects(leaderelection.LEASES)
    assert lease["spec"]["holderIdentity"] == ""  # released
    rec = events.EventRecorder(c, "ctl", "ctl-1", clock=c.clock)
    rec.event(pod("a"), events.NORMAL, "R", "A", "n")
    rec.event(pod("a"), events.NORMAL, "R", "A", "n")
    await rec.flush()
    [ev] = c.objects(events.EVENTS)
    assert ev["series"]["count"] == 2


async def test_bad_selector_is_a_bad_request() -> None:
    c = fake.Client()
    c.add(PODS, pod("a"))
    with pytest.raises(errors.BadRequest):
        await c.list(PODS, label_selector="a in (")

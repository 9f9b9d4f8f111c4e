"""What the scheduler needs from the API server: Nodes created with their status,
Events written as events.k8s.io/v1 and read as core/v1 (and back), and the
Priority admission plugin with PriorityClass validation."""

from __future__ import annotations

from typing import Any

from tests.integration.apiserver.conftest import Client

PODS = "/api/v1/namespaces/default/pods"
NODES = "/api/v1/nodes"
CORE_EVENTS = "/api/v1/namespaces/default/events"
EVENTS = "/apis/events.k8s.io/v1/namespaces/default/events"
CLASSES = "/apis/scheduling.k8s.io/v1/priorityclasses"


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def priority_class(name: str, value: int, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **extra,
    }


async def test_node_keeps_its_status_on_create_but_not_on_update(client: Client) -> None:
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {"capacity": alloc, "allocatable": alloc},
    }
    status, created = await client.post(NODES, node)
    assert status == 201
    assert created["status"]["allocatable"] == alloc
    created["status"]["allocatable"] = {"cpu": "1"}
    created["metadata"]["labels"] = {"size": "large"}
    status, updated = await client.put(NODES + "/n1", created)
    assert status == 200
    assert updated["metadata"]["labels"] == {"size": "large"}
    assert updated["status"]["allocatable"] == alloc


async def test_events_v1_and_core_events_are_one_resource(client: Client) -> None:
    await client.post(PODS, pod("web"))
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "type": "Warning",
        "reason": "FailedScheduling",
        "action": "Scheduling",
        "note": "0/1 nodes are available: 1 Insufficient cpu.",
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-host",
        "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "default"},
    }
    status, created = await client.post(EVENTS, event)
    assert status == 201, created
    assert created["note"] == event["note"] and "message" not in created
    # kubectl describe's query: core/v1, by involvedObject.
    status, listed = await client.get(
        CORE_EVENTS,
        params={"fieldSelector": "involvedObject.name=web,involvedObject.kind=Pod"},
    )
    assert status == 200
    [core] = listed["items"]
    assert core["message"] == event["note"]
    assert core["involvedObject"]["name"] == "web"
    assert core["reportingComponent"] == "default-scheduler"
    assert "regarding" not in core and "note" not in core
    # A series update through events.k8s.io shows as such in core.
    created["series"] = {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"}
    status, updated = await client.put(EVENTS + "/web.1", created)
    assert status == 200, updated
    assert updated["series"]["count"] == 2 and updated["regarding"]["name"] == "web"
    _, core = await client.get(CORE_EVENTS + "/web.1")
    assert core["series"]["count"] == 2 and core["apiVersion"] == "v1"
    # And a core event reads as events.k8s.io/v1.
    core_event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.2"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Pulled",
        "message": "pulled",
        "count": 3,
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
    }
    assert (await client.post(CORE_EVENTS, core_event))[0] == 201
    _, v1 = await client.get(EVENTS + "/web.2")
    assert v1["apiVersion"] == "events.k8s.io/v1"
    assert (v1["note"], v1["deprecatedCount"], v1["deprecatedSource"]["host"]) == (
        "pulled",
        3,
        "n1",
    )
    assert v1["regarding"]["name"] == "web"


async def test_priority_admission(client: Client) -> None:
    assert (await client.post(CLASSES, priority_class("high", 1000)))[0] == 201
    status, _ = await client.post(CLASSES, priority_class("never", 500, preemptionPolicy="Never"))
    assert status == 201
    _, high = await client.get(CLASSES + "/high")
    assert high["preemptionPolicy"] == "PreemptLowerPriority"

    _, plain = await client.post(PODS, pod("plain"))
    assert (plain["spec"]["priority"], plain["spec"]["preemptionPolicy"]) == (
        0,
        "PreemptLowerPriority",
    )
    assert "priorityClassName" not in plain["spec"]
    _, hi = await client.post(PODS, pod("hi", priorityClassName="high"))
    assert hi["spec"]["priority"] == 1000
    _, nv = await client.post(PODS, pod("nv", priorityClassName="never"))
    assert (nv["spec"]["priority"], nv["spec"]["preemptionPolicy"]) == (500, "Never")
    _, crit = await client.post(
        "/api/v1/namespaces/kube-system/pods", pod("crit", priorityClassName="system-node-critical")
    )
    assert crit["spec"]["priority"] == 2000001000

    status, err = await client.post(PODS, pod("nope", priorityClassName="nope"))
    assert (status, err["reason"]) == (403, "Forbidden")
    assert err["message"] == 'pods "nope" is forbidden: no PriorityClass with name nope was found'
    status, err = await client.post(PODS, pod("liar", priorityClassName="high", priority=5))
    assert status == 403
    assert err["message"].endswith(
        "the integer value of priority (5) must not be provided in pod spec; priority "
        "admission controller computed 1000 from the given PriorityClass name"
    )
    status, err = await client.post(
        PODS, pod("liar2", priorityClassName="never", preemptionPolicy="PreemptLowerPriority")
    )
    assert status == 403 and "the string value of PreemptionPolicy" in err["message"]

    # A global default names the class of pods without one.
    status, _ = await client.post(CLASSES, priority_class("dflt", 7, globalDefault=True))
    assert status == 201
    _, defaulted = await client.post(PODS, pod("defaulted"))
    assert (defaulted["spec"]["priority"], defaulted["spec"]["priorityClassName"]) == (7, "dflt")
    status, err = await client.post(CLASSES, priority_class("second", 8, globalDefault=True))
    assert status == 403
    assert (
        "PriorityClass dflt is already marked as default. Only one default can exist"
        in (err["message"])
    )
    # An update that omits priority keeps it.
    hi["metadata"]["labels"] = {"x": "y"}
    del hi["spec"]["priority"]
    status, updated = await client.put(PODS + "/hi", hi)
    assert status == 200, updated
    assert updated["spec"]["priority"] == 1000


async def test_priority_class_validation(client: Client) -> None:
    status, err = await client.post(CLASSES, priority_class("system-mine", 10))
    assert status == 422
    assert (
        "priority class names with 'system-' prefix are reserved for system use only"
        in (err["message"])
    )
    status, err = await client.post(CLASSES, priority_class("huge", 1000000001))
    assert status == 422
    assert "maximum allowed value of a user defined priority is 1000000000" in err["message"]
    status, pc = await client.post(CLASSES, priority_class("fixed", 10))
    pc["value"] = 11
    status, err = await client.put(CLASSES + "/fixed", pc)
    assert (
        status == 422 and "value: Forbidden: may not be changed in an update." in (err["message"])
    )

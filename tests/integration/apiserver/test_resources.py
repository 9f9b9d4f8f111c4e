"""CRUD, list, watch, Tables and Status errors over HTTPS, as clients see them."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from pyk8s.apiserver import openapi_enums
from tests.integration.apiserver.conftest import Client, Cluster

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


def pod(name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    body["spec"].update(extra)
    return body


async def test_bootstrap_objects(client: Client) -> None:
    status, body = await client.get("/api/v1/namespaces")
    names = {i["metadata"]["name"] for i in body["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    status, svc = await client.get("/api/v1/namespaces/default/services/kubernetes")
    assert status == 200
    assert svc["spec"]["clusterIP"] == "10.43.0.1" and svc["spec"]["ports"][0]["port"] == 443
    status, _ = await client.get("/api/v1/namespaces/default/endpoints/kubernetes")
    assert status == 200
    status, eps = await client.get(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"
    )
    assert status == 200 and eps["ports"][0]["name"] == "https"
    status, pc = await client.get("/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical")
    assert (status, pc["value"]) == (200, 2000001000)
    status, ns = await client.get("/api/v1/namespaces/kube-system")
    assert ns["status"]["phase"] == "Active"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "kube-system"


async def test_create_get_update_delete(client: Client) -> None:
    status, created = await client.post(CMS + "?fieldManager=tester", cm("a"))
    assert status == 201
    md = created["metadata"]
    assert md["uid"] and md["creationTimestamp"] and md["resourceVersion"]
    assert md["managedFields"][0]["manager"] == "tester"
    # data is a map added by the create: a node of its own (".") as upstream records it,
    # when the build step derived the Go zero-value facts; the empty labels are no field
    # (Go's decoding and its unstructured converter leave an empty map out)
    zero = await asyncio.to_thread(openapi_enums.load_zero_fields)
    data_node = {".": {}} if zero is not None else {}
    fields = {"f:data": {**data_node, "f:k": {}}}
    if await asyncio.to_thread(openapi_enums.load_go_fields) is None:
        fields["f:metadata"] = {"f:labels": {}}
    assert md["managedFields"][0]["fieldsV1"] == fields
    status, got = await client.get(CMS + "/a")
    assert (status, got["data"]) == (200, {"k": "v"})
    assert got["kind"] == "ConfigMap" and got["apiVersion"] == "v1"

    got["data"] = {"k": "w"}
    status, updated = await client.put(CMS + "/a", got)
    assert status == 200
    assert int(updated["metadata"]["resourceVersion"]) > int(md["resourceVersion"])

    # A stale resourceVersion loses.
    status, err = await client.put(CMS + "/a", got)
    assert status == 409
    assert err["reason"] == "Conflict"
    assert err["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )

    status, body = await client.delete(CMS + "/a")
    assert status == 200
    assert body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"] == {"name": "a", "kind": "configmaps", "uid": md["uid"]}
    status, err = await client.get(CMS + "/a")
    assert status == 404
    assert err == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "a" not found',
        "reason": "NotFound",
        "details": {"name": "a", "kind": "configmaps"},
        "code": 404,
    }


async def test_errors_have_upstream_text(client: Client) -> None:
    await client.post(CMS, cm("dup"))
    status, err = await client.post(CMS, cm("dup"))
    assert (status, err["reason"], err["message"]) == (
        409,
        "AlreadyExists",
        'configmaps "dup" already exists',
    )
    status, err = await client.post("/api/v1/namespaces/missing/configmaps", cm("x"))
    assert (status, err["message"]) == (404, 'namespaces "missing" not found')
    status, err = await client.post(CMS, {**cm("x"), "metadata": {"name": "x", "namespace": "o"}})
    assert status == 400 and "does not match the namespace" in err["message"]
    status, err = await client.post(CMS, cm("Bad_Name"))
    assert (status, err["reason"]) == (422, "Invalid")
    assert err["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid')
    assert err["details"]["causes"][0]["field"] == "metadata.name"
    status, err = await client.request("POST", CMS, raw=b"{not json")
    assert (status, err["reason"]) == (400, "BadRequest")
    status, err = await client.request("POST", CMS, raw=b"x" * (3 * 1024 * 1024 + 10))
    assert (status, err["reason"]) == (413, "RequestEntityTooLarge")
    status, err = await client.request(
        "POST",
        CMS,
        raw=b"k8s\x00garbage",
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert (status, err["reason"]) == (415, "UnsupportedMediaType")
    status, err = await client.get(PODS + "?labelSelector=a%20in%20(")
    assert status == 400


async def test_generate_name_and_yaml_body(client: Client) -> None:
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n"
    status, body = await client.request(
        "POST", CMS, raw=yaml_body, headers={"Content-Type": "application/yaml"}
    )
    assert status == 201
    name = body["metadata"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5


async def test_dry_run_creates_nothing(client: Client) -> None:
    status, body = await client.post(CMS + "?dryRun=All", cm("dry"))
    assert status == 201 and body["metadata"]["name"] == "dry"
    status, _ = await client.get(CMS + "/dry")
    assert status == 404


async def test_list_selectors_and_paging(client: Client) -> None:
    for i in range(7):
        await client.post(CMS, cm(f"p{i}", tier="a" if i % 2 else "b", idx=str(i)))
    status, body = await client.get(CMS + "?labelSelector=tier%3Da")
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["p1", "p3", "p5"]
    status, body = await client.get(CMS + "?labelSelector=tier%20notin%20(a),idx!=0")
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["p2", "p4", "p6"]
    status, body = await client.get(CMS + "?fieldSelector=metadata.name%3Dp3")
    assert [i["metadata"]["name"] for i in body["items"]] == ["p3"]
    status, body = await client.get(CMS + "?fieldSelector=data.k%3Dv")
    assert status == 400
    assert "is not a known field selector" in body["message"]

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        q = "?limit=3" + (f"&continue={token}" if token else "")
        status, body = await client.get(CMS + q)
        assert status == 200
        assert all("kind" not in i for i in body["items"])
        seen += [i["metadata"]["name"] for i in body["items"]]
        pages += 1
        token = body["metadata"].get("continue", "")
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)] and pages == 3

    # Paging with a selector still fills pages.
    status, body = await client.get(CMS + "?limit=2&labelSelector=tier%3Db")
    assert [i["metadata"]["name"] for i in body["items"]] == ["p0", "p2"]
    assert body["metadata"]["continue"]


async def test_list_resource_version_semantics(client: Client) -> None:
    _, first = await client.post(CMS, cm("v1"))
    rv = first["metadata"]["resourceVersion"]
    await client.post(CMS, cm("v2"))
    status, body = await client.get(CMS + f"?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert status == 200
    assert [i["metadata"]["name"] for i in body["items"]] == ["v1"]
    status, body = await client.get(CMS + "?resourceVersion=999999")
    assert (status, body["reason"]) == (504, "Timeout")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "resourceVersionMatch=Exact",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
            "resourceVersion is provided",
        ),
        (
            "resourceVersion=0&resourceVersionMatch=Exact",
            'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for '
            'resourceVersion "0"',
        ),
        (
            "resourceVersion=5&resourceVersionMatch=Newest",
            'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", '
            '"NotOlderThan", ""',
        ),
        (
            "sendInitialEvents=true",
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
        ),
        (
            "watch=1&resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
            "unless sendInitialEvents is provided",
        ),
        (
            "watch=1&sendInitialEvents=true",
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
            "resourceVersionMatch to NotOlderThan",
        ),
    ],
)
async def test_list_options_validated_as_upstream(client: Client, query: str, message: str) -> None:
    """``ValidateListOptions``: 422 Invalid on ``ListOptions.meta.k8s.io``, for lists,
    watches and deletecollection alike."""
    for method in ("GET", "DELETE") if "watch" not in query else ("GET",):
        status, body = await client.request(method, CMS + "?" + query)
        assert (status, body["reason"]) == (422, "Invalid")
        assert body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'


async def test_table_output(client: Client) -> None:
    await client.post(PODS, pod("t1"))
    status, table = await client.get(PODS, headers={"Accept": TABLE})
    assert status == 200 and table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]
    assert [c["priority"] for c in table["columnDefinitions"]][:5] == [0, 0, 0, 0, 0]
    row = table["rows"][0]
    assert row["cells"][:4] == ["t1", "0/1", "Pending", "0"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "t1"
    status, table = await client.get(PODS + "/t1?includeObject=Object", headers={"Accept": TABLE})
    assert table["rows"][0]["object"]["kind"] == "Pod"
    status, table = await client.get(
        "/apis/coordination.k8s.io/v1/namespaces/default/leases", headers={"Accept": TABLE}
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Holder", "Age"]


async def test_partial_object_metadata_and_406(client: Client) -> None:
    await client.post(CMS, cm("pm"))
    status, body = await client.get(
        CMS, headers={"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"}
    )
    assert status == 200 and body["kind"] == "PartialObjectMetadataList"
    assert body["items"][0]["kind"] == "PartialObjectMetadata"
    status, body = await client.get(CMS, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert (status, body["reason"]) == (406, "NotAcceptable")


async def test_status_subresource_splits_spec_and_status(client: Client) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
        "status": {"replicas": 9},
    }
    path = "/apis/apps/v1/namespaces/default/deployments"
    status, d = await client.post(path, deploy)
    # the status given is dropped; an empty one reads as {} (a struct Go always writes)
    assert status == 201 and not d.get("status") and d["metadata"]["generation"] == 1
    d["status"] = {"replicas": 3}
    d["spec"]["replicas"] = 5
    status, d2 = await client.put(path + "/d/status", d)
    assert status == 200
    assert d2["status"] == {"replicas": 3} and d2["spec"]["replicas"] == 1
    d2["spec"]["replicas"] = 4
    status, d3 = await client.put(path + "/d", d2)
    assert d3["metadata"]["generation"] == 2 and d3["status"] == {"replicas": 3}
    status, sc = await client.get(path + "/d/scale")
    assert sc["kind"] == "Scale" and sc["spec"]["replicas"] == 4
    assert sc["status"]["selector"] == "app=d"
    status, sc = await client.request(
        "PATCH",
        path + "/d/scale",
        {"spec": {"replicas": 7}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 200 and sc["spec"]["replicas"] == 7


async def test_patch_types(client: Client) -> None:
    await client.post(CMS, cm("pt", a="1"))
    status, body = await client.request(
        "PATCH",
        CMS + "/pt",
        {"metadata": {"labels": {"a": None, "b": "2"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 200 and body["metadata"]["labels"] == {"b": "2"}
    status, body = await client.request(
        "PATCH",
        CMS + "/pt",
        [{"op": "add", "path": "/data/x", "value": "y"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 200 and body["data"] == {"k": "v", "x": "y"}
    status, body = await client.request(
        "PATCH",
        CMS + "/nope",
        {"data": {}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 404


async def test_finalizers_hold_deletion(client: Client) -> None:
    obj = cm("fin")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    await client.post(CMS, obj)
    status, body = await client.delete(CMS + "/fin")
    assert status == 200 and body["metadata"]["deletionTimestamp"]
    status, got = await client.get(CMS + "/fin")
    assert status == 200
    got["metadata"]["finalizers"] = []
    status, _ = await client.put(CMS + "/fin", got)
    assert status == 200
    status, _ = await client.get(CMS + "/fin")
    assert status == 404


async def test_pod_graceful_deletion(client: Client) -> None:
    await client.post(PODS, pod("unscheduled"))
    status, body = await client.delete(PODS + "/unscheduled")
    assert status == 200 and body["kind"] == "Pod"  # pods return the deleted object
    assert (await client.get(PODS + "/unscheduled"))[0] == 404
    await client.post(PODS, pod("bound", nodeName="n1"))
    status, body = await client.delete(PODS + "/bound")
    assert body["metadata"]["deletionGracePeriodSeconds"] == 30
    status, got = await client.get(PODS + "/bound")
    assert status == 200 and got["metadata"]["deletionTimestamp"]
    status, body = await client.delete(PODS + "/bound?gracePeriodSeconds=0")
    assert (await client.get(PODS + "/bound"))[0] == 404


async def test_delete_precondition(client: Client) -> None:
    await client.post(CMS, cm("pre"))
    _, obj = await client.get(CMS + "/pre")
    md = obj["metadata"]
    status, body = await client.request("DELETE", CMS + "/pre", {"preconditions": {"uid": "nope"}})
    # rest.BeforeDelete's early check, the kind as the resource
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on ConfigMap "pre": the UID in the precondition (nope) '
        f"does not match the UID in record ({md['uid']}). The object might have been deleted "
        "and then recreated"
    )
    assert body["details"] == {"name": "pre", "kind": "ConfigMap"}
    status, body = await client.request(
        "DELETE", CMS + "/pre", {"preconditions": {"resourceVersion": "1"}}
    )
    assert status == 409
    assert body["message"] == (
        'Operation cannot be fulfilled on ConfigMap "pre": the ResourceVersion in the '
        f"precondition (1) does not match the ResourceVersion in record ({md['resourceVersion']})."
        " The object might have been modified"
    )
    await client.post(
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "metadata": {"name": "pre"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    status, body = await client.request(
        "DELETE",
        "/apis/apps/v1/namespaces/default/deployments/pre",
        {"preconditions": {"uid": "nope"}},
    )
    assert body["message"].startswith('Operation cannot be fulfilled on Deployment.apps "pre": ')
    assert (await client.get(CMS + "/pre"))[0] == 200


async def test_namespace_terminating(client: Client) -> None:
    await client.post("/api/v1/namespaces", {"metadata": {"name": "gone"}})
    status, body = await client.delete("/api/v1/namespaces/gone")
    assert status == 200 and body["status"]["phase"] == "Terminating"
    status, err = await client.post("/api/v1/namespaces/gone/configmaps", cm("x"))
    assert (status, err["reason"]) == (403, "Forbidden")
    assert "because it is being terminated" in err["message"]
    ns = body
    ns["spec"]["finalizers"] = []
    status, _ = await client.put("/api/v1/namespaces/gone/finalize", ns)
    assert status == 200
    assert (await client.get("/api/v1/namespaces/gone"))[0] == 404


async def _events(cluster: Cluster, path: str, want: int, timeout: float = 10) -> list[Any]:
    ctx = await asyncio.to_thread(cluster.ssl_context)
    import aiohttp

    out: list[Any] = []
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s,
        s.get(cluster.base + path, timeout=aiohttp.ClientTimeout(total=timeout)) as resp,
    ):
        assert resp.status == 200
        async for line in resp.content:
            out.append(orjson.loads(line))
            if len(out) >= want:
                break
    return out


async def test_watch_events(cluster: Cluster, client: Client) -> None:
    await client.post(CMS, cm("w0"))
    watcher = asyncio.create_task(_events(cluster, CMS + "?watch=true", 4))
    await asyncio.sleep(0.3)
    _, obj = await client.post(CMS, cm("w1"))
    obj["data"] = {"k": "changed"}
    await client.put(CMS + "/w1", obj)
    await client.delete(CMS + "/w1")
    events = await watcher
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w0"),
        ("ADDED", "w1"),
        ("MODIFIED", "w1"),
        ("DELETED", "w1"),
    ]
    assert events[2]["object"]["data"] == {"k": "changed"}
    assert events[1]["object"]["kind"] == "ConfigMap"


async def test_watch_from_resource_version_with_selector(cluster: Cluster, client: Client) -> None:
    _, a = await client.post(CMS, cm("s0", app="x"))
    rv = a["metadata"]["resourceVersion"]
    await client.post(CMS, cm("s1", app="y"))
    _, b = await client.post(CMS, cm("s2", app="x"))
    # s2 leaves the selection: the watcher sees it deleted.
    b["metadata"]["labels"] = {"app": "z"}
    await client.put(CMS + "/s2", b)
    events = await _events(cluster, CMS + f"?watch=1&resourceVersion={rv}&labelSelector=app%3Dx", 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "s2"),
        ("DELETED", "s2"),
    ]


async def test_watch_expired_and_bookmarks(cluster: Cluster, client: Client) -> None:
    for i in range(3):
        await client.post(CMS, cm(f"e{i}"))
    current = await cluster.storage.current_revision()
    await cluster.storage.compact(current)
    events = await _events(cluster, CMS + "?watch=1&resourceVersion=1", 1)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"
    events = await _events(
        cluster, CMS + f"?watch=1&resourceVersion={current}&allowWatchBookmarks=true", 1
    )
    assert events[0]["type"] == "BOOKMARK"
    assert events[0]["object"]["kind"] == "ConfigMap"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= current


async def test_watch_send_initial_events(cluster: Cluster, client: Client) -> None:
    await client.post(CMS, cm("i0"))
    events = await _events(
        cluster,
        CMS + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        "&allowWatchBookmarks=true",
        2,
    )
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    annotations = events[1]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}


async def test_watch_timeout_ends_stream(cluster: Cluster) -> None:
    events = await _events(cluster, CMS + "?watch=1&timeoutSeconds=1&resourceVersion=0", 100)
    assert events == []


async def test_watch_as_table(cluster: Cluster, client: Client) -> None:
    await client.post(PODS, pod("tw0"))
    await client.post(PODS, pod("tw1"))
    ctx = await asyncio.to_thread(cluster.ssl_context)
    import aiohttp

    lines = []
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s,
        s.get(cluster.base + PODS + "?watch=1", headers={"Accept": TABLE}) as resp,
    ):
        async for line in resp.content:
            lines.append(orjson.loads(line))
            if len(lines) == 2:
                break
    assert lines[0]["object"]["kind"] == "Table"
    assert len(lines[0]["object"]["columnDefinitions"]) == 9
    assert lines[1]["object"]["columnDefinitions"] is None
    assert lines[1]["object"]["rows"][0]["cells"][0] == "tw1"


async def test_pod_binding(client: Client) -> None:
    await client.post(PODS, pod("tobind"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "tobind"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    status, body = await client.post(PODS + "/tobind/binding", binding)
    assert (status, body["status"]) == (201, "Success")
    _, got = await client.get(PODS + "/tobind")
    assert got["spec"]["nodeName"] == "node-1"
    assert [c["type"] for c in got["status"]["conditions"]] == ["PodScheduled"]
    status, err = await client.post(PODS + "/tobind/binding", binding)
    assert status == 409
    assert 'pod tobind is already assigned to node "node-1"' in err["message"]
    # The legacy bindings resource does the same.
    await client.post(PODS, pod("legacy"))
    status, _ = await client.post(
        "/api/v1/namespaces/default/bindings", {**binding, "metadata": {"name": "legacy"}}
    )
    assert status == 201
    assert (await client.get(PODS + "/legacy"))[1]["spec"]["nodeName"] == "node-1"


async def test_pod_eviction_respects_budgets(client: Client) -> None:
    p = pod("evictme")
    p["metadata"]["labels"] = {"app": "guarded"}
    await client.post(PODS, p)
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "guard"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
    }
    pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
    await client.post(pdbs, pdb)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "evictme"}}
    status, err = await client.post(PODS + "/evictme/eviction", eviction)
    assert (status, err["reason"]) == (429, "TooManyRequests")
    assert err["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    await client.delete(pdbs + "/guard")
    status, body = await client.post(PODS + "/evictme/eviction", eviction)
    assert (status, body["status"]) == (201, "Success")
    assert (await client.get(PODS + "/evictme"))[0] == 404


async def test_events_are_one_store_in_two_apis(client: Client) -> None:
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "pyk8s.io/test",
        "reportingInstance": "test-1",
        "action": "Testing",
        "reason": "Tested",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "p1"},
        "note": "it works",
        "type": "Normal",
    }
    status, created = await client.post("/apis/events.k8s.io/v1/namespaces/default/events", ev)
    assert status == 201 and created["note"] == "it works"
    assert created["apiVersion"] == "events.k8s.io/v1"
    status, core = await client.get(
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dp1"
    )
    assert [e["message"] for e in core["items"]] == ["it works"]
    assert core["items"][0]["reportingComponent"] == "pyk8s.io/test"
    status, table = await client.get(
        "/apis/events.k8s.io/v1/namespaces/default/events", headers={"Accept": TABLE}
    )
    row = table["rows"][0]["cells"]
    assert row[1:4] == ["Normal", "Tested", "pod/p1"] and row[6] == "it works"


async def test_bookmarks_carry_progress_past_unmatched_events(
    cluster: Cluster, client: Client
) -> None:
    """A quiet watcher's bookmark moves on with writes it did not match (the watch cache's
    resourceVersion): an informer reconnecting from it is not sent back to a revision that
    may be compacted meanwhile."""
    _, first = await client.post(CMS, cm("b0"))
    start = first["metadata"]["resourceVersion"]
    path = CMS + f"?watch=1&resourceVersion={start}&allowWatchBookmarks=true&labelSelector=x%3Dy"
    watcher = asyncio.create_task(_events(cluster, path, 3))
    await asyncio.sleep(0.2)
    last = 0
    for i in range(3):  # in this namespace, but not selected; and in another namespace
        await client.post(CMS, cm(f"b{i + 1}"))
        _, b = await client.post("/api/v1/namespaces/kube-system/configmaps", cm(f"b{i}"))
        last = int(b["metadata"]["resourceVersion"])
    events = await watcher
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) >= last


async def test_bookmark_before_the_watch_times_out(cluster: Cluster, client: Client) -> None:
    """As upstream's cacheWatcher: with allowWatchBookmarks a watch gets a bookmark 2 s before
    its timeoutSeconds even when that comes long before the periodic one."""
    cluster.api.config.bookmark_interval = 600
    _, first = await client.post(CMS, cm("t0"))
    rv = first["metadata"]["resourceVersion"]
    path = CMS + f"?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=3"
    events = await _events(cluster, path, 1)
    assert events[0]["type"] == "BOOKMARK"
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


async def test_job_gets_a_generated_selector(client: Client) -> None:
    """``generateSelectorIfNeeded``: the template is labelled with the Job's name and uid and
    the selector matches the uid (what ``kubectl get job -o wide`` shows as SELECTOR)."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j1"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b"}]},
            }
        },
    }
    status, out = await client.post("/apis/batch/v1/namespaces/default/jobs", job)
    assert status == 201, out
    uid = out["metadata"]["uid"]
    assert out["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert out["spec"]["template"]["metadata"]["labels"] == {
        "app": "x",
        "job-name": "j1",
        "batch.kubernetes.io/job-name": "j1",
        "controller-uid": uid,
        "batch.kubernetes.io/controller-uid": uid,
    }
    manual = {**job, "metadata": {"name": "j2"}}
    manual["spec"] = {
        **job["spec"],
        "manualSelector": True,
        "selector": {"matchLabels": {"app": "x"}},
    }
    status, out = await client.post("/apis/batch/v1/namespaces/default/jobs", manual)
    assert status == 201, out
    assert out["spec"]["selector"] == {"matchLabels": {"app": "x"}}
    assert out["spec"]["template"]["metadata"]["labels"] == {"app": "x"}


async def test_new_claims_and_volumes_are_pending(client: Client) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "c1"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound"},
    }
    status, out = await client.post("/api/v1/namespaces/default/persistentvolumeclaims", claim)
    assert status == 201, out
    assert out["status"] == {"phase": "Pending"}
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "v1"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/tmp/v1"},
        },
    }
    status, out = await client.post("/api/v1/persistentvolumes", volume)
    assert status == 201, out
    # a volume also stamps its transition (LastPhaseTransitionTime, GA since 1.31)
    stamped = out["status"].pop("lastPhaseTransitionTime")
    assert stamped == out["metadata"]["creationTimestamp"] or stamped.endswith("Z")
    assert out["status"] == {"phase": "Pending"}
    _, listed = await client.get("/api/v1/persistentvolumes")
    assert [v["status"] for v in listed["items"]] == [
        {"phase": "Pending", "lastPhaseTransitionTime": stamped}
    ]


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "application/json",
            b'{"metadata":{"name":"c1"',
            "couldn't get version/kind; json parse error: unexpected end of JSON input "
            '({"metadata":{"name":"c1")',
        ),
        (
            "application/json",
            b'{"metadata" {}}',
            "couldn't get version/kind; json parse error: invalid character '{' after object "
            'key ({"metadata" {}})',
        ),
        (
            "application/json",
            b'{"a":[1 2]}',
            "couldn't get version/kind; json parse error: invalid character '2' after array "
            'element ({"a":[1 2]})',
        ),
        (
            "application/json",
            b'{"a":1}x',
            "couldn't get version/kind; json parse error: invalid character 'x' after "
            'top-level value ({"a":1}x)',
        ),
        (
            "application/json",
            b"[1]",
            "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go "
            'value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind '
            'string "json:\\"kind,omitempty\\"" } (5b315d)',
        ),
        (
            # YAML sent as JSON (kubectl create --raw -f file.yaml): hex, cut at 30 bytes
            "application/json",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
            "couldn't get version/kind; json parse error: invalid character 'a' looking for "
            "beginning of value (61706956657273696f6e3a2076310a6b696e643a20436f6e6669674d6170 ...)",
        ),
        (
            "application/json",
            b"",
            "couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)",
        ),
        (
            "application/yaml",
            b"metadata:\n  name: [c1\n",
            "yaml: line 2: did not find expected ',' or ']' "
            "(6d657461646174613a0a20206e616d653a205b63310a)",
        ),
        (
            "application/yaml",
            b'a: b\n c: "',
            "yaml: line 2: mapping values are not allowed in this context (613a20620a20633a2022)",
        ),
    ],
)
async def test_undecodable_bodies_as_upstream(
    client: Client, content_type: str, body: bytes, message: str
) -> None:
    """``transformDecodeError`` over the decoders' own words, checked against a real
    kube-apiserver with the same bodies; nothing reaches storage."""
    status, out = await client.request(
        "POST", CMS, raw=body, headers={"Content-Type": content_type}
    )
    assert (status, out["reason"]) == (400, "BadRequest")
    assert out["message"] == (
        f"the object provided is unrecognized (must be of type ConfigMap): {message}"
    )
    status, out = await client.request(
        "PUT", CMS + "/x", raw=body, headers={"Content-Type": content_type}
    )
    assert status == 400 and out["message"].startswith(
        "the object provided is unrecognized (must be of type ConfigMap): "
    )
    _, listed = await client.get(CMS)
    assert listed["items"] == []


async def test_endpoints_watch_carries_the_deprecation_warning(cluster: Cluster) -> None:
    ctx = await asyncio.to_thread(cluster.ssl_context)
    import aiohttp

    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s,
        s.get(
            cluster.base + "/api/v1/namespaces/default/endpoints?watch=1&timeoutSeconds=1"
        ) as resp,
    ):
        assert resp.status == 200
        assert resp.headers.getall("Warning") == [
            '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'
        ]
        await resp.read()


async def test_scale_subresource_as_a_table(client: Client) -> None:
    """``kubectl get deploy x --subresource=scale``: ScaleREST converts to a Table with
    ``printScale``'s columns."""
    deploy = {
        "metadata": {"name": "sc"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    path = "/apis/apps/v1/namespaces/default/deployments"
    await client.post(path, deploy)
    status, body = await client.get(path + "/sc/scale", headers={"Accept": TABLE})
    assert status == 200 and body["kind"] == "Table"
    assert [c["name"] for c in body["columnDefinitions"]] == [
        "Name",
        "Desired",
        "Available",
        "Age",
    ]
    assert body["rows"][0]["cells"][:3] == ["sc", 3, 0]
    status, body = await client.get(path + "/sc/scale")
    assert body["kind"] == "Scale" and body["spec"] == {"replicas": 3}


async def test_field_selectors_see_go_typed_values(client: Client) -> None:
    """The field sets upstream builds from typed Go fields: an unset bool is "false", an
    unset count "0"; a Job's ``status.successful`` is ``status.succeeded``; an Event's
    ``source`` is its source component; Services select on ``spec.clusterIP``/``spec.type``."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fs-node"}}
    await client.post("/api/v1/nodes", node)
    _, listed = await client.get("/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse")
    assert [n["metadata"]["name"] for n in listed["items"]] == ["fs-node"]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "fs-job"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b"}]}
            }
        },
    }
    await client.post("/apis/batch/v1/namespaces/default/jobs", job)
    _, listed = await client.get(
        "/apis/batch/v1/namespaces/default/jobs?fieldSelector=status.successful%3D0"
    )
    assert [j["metadata"]["name"] for j in listed["items"]] == ["fs-job"]
    await client.post(PODS, pod("fs-pod"))
    _, listed = await client.get(PODS + "?fieldSelector=spec.hostNetwork%3Dfalse")
    assert [p["metadata"]["name"] for p in listed["items"]] == ["fs-pod"]
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "fs-pod.1"},
        "involvedObject": {"kind": "Pod", "name": "fs-pod", "namespace": "default"},
        "reason": "Pulled",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "n1"},
    }
    await client.post("/api/v1/namespaces/default/events", event)
    _, listed = await client.get(
        "/api/v1/namespaces/default/events?fieldSelector=source%3Dkubelet,reason%3DPulled"
    )
    assert [e["metadata"]["name"] for e in listed["items"]] == ["fs-pod.1"]
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "fs-svc"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]},
    }
    _, created = await client.post("/api/v1/namespaces/default/services", svc)
    ip = created["spec"]["clusterIP"]
    _, listed = await client.get(
        f"/api/v1/namespaces/default/services?fieldSelector=spec.clusterIP%3D{ip}"
    )
    assert [s["metadata"]["name"] for s in listed["items"]] == ["fs-svc"]
    _, listed = await client.get(
        "/api/v1/namespaces/default/services?fieldSelector=spec.type%3DNodePort"
    )
    assert [s["metadata"]["name"] for s in listed["items"]] == ["fs-svc"]


async def test_events_v1_field_selectors_use_its_own_names(client: Client) -> None:
    """``AddFieldLabelConversionsForEvent``: events.k8s.io selects on ``regarding.*`` and
    ``reportingController``; the core spellings are not its labels."""
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "ev1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Pod", "name": "web-1", "namespace": "default"},
        "reason": "Started",
        "action": "Start",
        "type": "Normal",
        "reportingController": "example.com/ctl",
        "reportingInstance": "i1",
    }
    base = "/apis/events.k8s.io/v1/namespaces/default/events"
    status, out = await client.post(base, event)
    assert status == 201, out
    for selector in (
        "regarding.name%3Dweb-1,regarding.kind%3DPod",
        "reportingController%3Dexample.com%2Fctl",
        "reason%3DStarted,type%3DNormal",
    ):
        status, listed = await client.get(base + "?fieldSelector=" + selector)
        assert status == 200, listed
        assert [e["metadata"]["name"] for e in listed["items"]] == ["ev1"], selector
    _, listed = await client.get(base + "?fieldSelector=regarding.name%3Dother")
    assert listed["items"] == []
    status, out = await client.get(base + "?fieldSelector=involvedObject.name%3Dweb-1")
    assert (status, out["message"]) == (400, "field label not supported: involvedObject.name")


async def test_partial_object_metadata_shape_must_match(client: Client) -> None:
    """asPartialObjectMetadata(List): a list asked for as one object, or one object asked
    for as a list, is 406; the matching shapes are served."""
    await client.post(CMS, cm("pom"))
    one = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
    many = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    status, body = await client.get(CMS, headers={"Accept": one})
    assert (status, body["reason"]) == (406, "NotAcceptable")
    assert body["message"] == (
        "you requested PartialObjectMetadata, but the requested object is a list "
        "(*core.ConfigMapList)"
    )
    status, body = await client.get(CMS + "/pom", headers={"Accept": many})
    assert status == 406
    assert body["message"] == (
        "you requested PartialObjectMetadataList, but the requested object is not a list "
        "(*core.ConfigMap)"
    )
    status, body = await client.get(CMS, headers={"Accept": many})
    assert (status, body["kind"]) == (200, "PartialObjectMetadataList")
    status, body = await client.get(CMS + "/pom", headers={"Accept": one})
    assert (status, body["kind"]) == (200, "PartialObjectMetadata")

"""Custom resources served from CustomResourceDefinitions, over HTTPS against an in-process
API server: CRD status, routing, validation, pruning, defaulting, subresources, versions,
discovery, Table columns, OpenAPI and the cleanup finalizer."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson

from tests.integration.apiserver.conftest import Client, Cluster

GROUP = "stable.example.com"
BASE = f"/apis/{GROUP}/v1"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["cronSpec"],
            "properties": {
                "cronSpec": {
                    "type": "string",
                    "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$",
                },
                "image": {"type": "string", "default": "busybox"},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "port": {"x-kubernetes-int-or-string": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "selector": {"type": "string"},
            },
        },
    },
}


def crd(*, versions: list[str] | None = None, storage: str = "v1") -> dict[str, Any]:
    vs = []
    for v in versions or ["v1"]:
        vs.append(
            {
                "name": v,
                "served": True,
                "storage": v == storage,
                "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Image", "type": "string", "jsonPath": ".spec.image", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }
        )
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"crontabs.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": "crontabs",
                "singular": "crontab",
                "kind": "CronTab",
                "shortNames": ["ct"],
                "categories": ["all"],
            },
            "versions": vs,
        },
    }


def crontab(name: str, version: str = "v1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "CronTab",
        "metadata": {"name": name},
        "spec": {"cronSpec": "* * * * */5", **spec},
    }


async def established(client: Client, name: str = f"crontabs.{GROUP}") -> dict[str, Any]:
    for _ in range(200):
        code, body = await client.get(f"{CRDS}/{name}")
        assert code == 200, body
        conds = {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}
        if conds.get("Established", {}).get("status") == "True":
            code, _ = await client.get(f"{BASE}/crontabs")
            if code == 200:
                return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"CRD {name} not established: {body.get('status')}")


async def test_crd_status_and_crud(client: Client) -> None:
    code, body = await client.post(CRDS, crd())
    assert code == 201, body
    assert body["status"]["storedVersions"] == ["v1"]
    assert body["spec"]["names"]["listKind"] == "CronTabList"
    assert body["spec"]["conversion"] == {"strategy": "None"}
    got = await established(client)
    conds = {c["type"]: c for c in got["status"]["conditions"]}
    assert conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["Established"]["reason"] == "InitialNamesAccepted"
    assert got["status"]["acceptedNames"]["plural"] == "crontabs"
    assert got["status"]["acceptedNames"]["shortNames"] == ["ct"]

    ns = f"{BASE}/namespaces/default/crontabs"
    code, body = await client.post(ns, crontab("a", replicas=2, unknown="x"))
    assert code == 201, body
    assert body["spec"]["image"] == "busybox"  # defaulted
    assert "unknown" not in body["spec"]  # pruned
    assert body["metadata"]["generation"] == 1
    assert "status" not in body
    code, body = await client.get(f"{ns}/a")
    assert code == 200 and body["apiVersion"] == f"{GROUP}/v1" and body["kind"] == "CronTab"
    code, listing = await client.get(ns, params={"labelSelector": "x!=y"})
    assert code == 200 and listing["kind"] == "CronTabList"
    assert listing["items"][0]["apiVersion"] == f"{GROUP}/v1"  # as unstructured lists carry
    assert listing["items"][0]["kind"] == "CronTab"
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a"]
    code, listing = await client.get(
        f"{BASE}/crontabs", params={"fieldSelector": "metadata.name=zzz"}
    )
    assert code == 200 and listing["items"] == []

    # merge patch bumps generation; strategic merge patch is 415 as upstream
    code, body = await client.request(
        "PATCH", f"{ns}/a", {"spec": {"replicas": 3}},
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert code == 200, body
    assert body["spec"]["replicas"] == 3 and body["metadata"]["generation"] == 2
    code, body = await client.request(
        "PATCH", f"{ns}/a", {"spec": {"replicas": 4}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )  # fmt: skip
    assert code == 415, body
    assert body["reason"] == "UnsupportedMediaType"
    assert "application/apply-patch+yaml" in body["message"]
    code, body = await client.request(
        "PATCH", f"{ns}/a", [{"op": "add", "path": "/spec/mode", "value": "fast"}],
        headers={"Content-Type": "application/json-patch+json"},
    )  # fmt: skip
    assert code == 200 and body["spec"]["mode"] == "fast"

    # an update must name a resourceVersion
    obj = copy.deepcopy(body)
    del obj["metadata"]["resourceVersion"]
    code, body = await client.put(f"{ns}/a", obj)
    assert code == 422, body
    assert "metadata.resourceVersion" in body["message"]

    # status and scale subresources
    code, cur = await client.get(f"{ns}/a")
    cur["status"] = {"replicas": 3, "selector": "app=a"}
    cur["spec"]["replicas"] = 9
    code, body = await client.put(f"{ns}/a/status", cur)
    assert code == 200, body
    assert body["status"]["replicas"] == 3 and body["spec"]["replicas"] == 3
    code, sc = await client.get(f"{ns}/a/scale")
    assert code == 200, sc
    assert sc["kind"] == "Scale" and sc["spec"]["replicas"] == 3
    assert sc["status"] == {"replicas": 3, "selector": "app=a"}
    code, body = await client.request(
        "PATCH", f"{ns}/a/scale", {"spec": {"replicas": 5}},
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert code == 200, body
    code, body = await client.get(f"{ns}/a")
    assert body["spec"]["replicas"] == 5

    # server-side apply
    applied = crontab("b", replicas=1)
    code, body = await client.request(
        "PATCH", f"{ns}/b", raw=orjson.dumps(applied),
        headers={"Content-Type": "application/apply-patch+yaml"},
        params={"fieldManager": "tester"},
    )  # fmt: skip
    assert code == 201, body
    assert body["metadata"]["managedFields"][0]["manager"] == "tester"
    applied["spec"]["bogus"] = 1  # apply is strict: the typed patch has no such field
    applied["metadata"]["namespace"] = "default"
    code, body = await client.request(
        "PATCH", f"{ns}/b", raw=orjson.dumps(applied),
        headers={"Content-Type": "application/apply-patch+yaml"},
        params={"fieldManager": "tester"},
    )  # fmt: skip
    assert code == 500, body
    assert body["message"] == (
        "failed to create typed patch object (default/b; stable.example.com/v1, Kind=CronTab): "
        ".spec.bogus: field not declared in schema"
    )

    # Table with the CRD's columns
    code, tbl = await client.get(ns, headers=TABLE)
    assert code == 200, tbl
    assert [c["name"] for c in tbl["columnDefinitions"]] == [
        "Name", "Spec", "Replicas", "Image", "Age"
    ]  # fmt: skip
    assert tbl["columnDefinitions"][3]["priority"] == 1
    row = tbl["rows"][0]["cells"]
    assert row[:4] == ["a", "* * * * */5", 5, "busybox"]
    assert row[4].endswith("s")

    # delete
    code, body = await client.delete(f"{ns}/b")
    assert code == 200, body
    code, body = await client.delete(ns)
    assert code == 200, body
    code, listing = await client.get(ns)
    assert listing["items"] == []


async def test_validation_messages(client: Client) -> None:
    await client.post(CRDS, crd())
    await established(client)
    ns = f"{BASE}/namespaces/default/crontabs"
    bad = crontab("bad", replicas="two", mode="medium", port=1.5)
    bad["spec"]["cronSpec"] = "nope"
    code, body = await client.post(ns, bad)
    assert code == 422, body
    msg = body["message"]
    assert msg.startswith('CronTab.stable.example.com "bad" is invalid: [')
    assert (
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
        'integer: "string"' in msg
    )
    assert 'spec.mode: Unsupported value: "medium": supported values: "fast", "slow"' in msg
    assert "spec.cronSpec in body should match" in msg
    assert 'spec.port: Invalid value: "number"' in msg
    causes = {c["field"]: c["reason"] for c in body["details"]["causes"]}
    assert causes["spec.replicas"] == "FieldValueTypeInvalid"
    assert causes["spec.mode"] == "FieldValueNotSupported"

    code, body = await client.post(ns, {**crontab("big"), "spec": {"cronSpec": "* * * * *",
                                                                 "replicas": 11}})  # fmt: skip
    assert code == 422
    assert (
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
        in body["message"]
    )

    missing = crontab("m")
    del missing["spec"]["cronSpec"]
    code, body = await client.post(ns, missing)
    assert code == 422
    assert body["message"].endswith("spec.cronSpec: Required value")

    code, body = await client.post(ns, crontab("dup", tags=["a", "a"]))
    assert code == 422
    assert 'spec.tags[1]: Duplicate value: "a"' in body["message"]

    code, body = await client.post(
        ns, crontab("strict", extra=1), params={"fieldValidation": "Strict"}
    )
    assert code == 400, body
    assert 'strict decoding error: unknown field "spec.extra"' in body["message"]
    code, body = await client.post(ns, crontab("free", free={"anything": {"goes": 1}}))
    assert code == 201, body
    assert body["spec"]["free"] == {"anything": {"goes": 1}}


async def test_versions_discovery_and_openapi(client: Client) -> None:
    code, body = await client.post(CRDS, crd(versions=["v1", "v2beta1"], storage="v1"))
    assert code == 201, body
    await established(client)
    code, body = await client.post(
        f"/apis/{GROUP}/v2beta1/namespaces/default/crontabs", crontab("x", "v2beta1")
    )
    assert code == 201, body
    assert body["apiVersion"] == f"{GROUP}/v2beta1"
    code, body = await client.get(f"{BASE}/namespaces/default/crontabs/x")
    assert body["apiVersion"] == f"{GROUP}/v1"

    code, group = await client.get(f"/apis/{GROUP}")
    assert code == 200
    assert [v["version"] for v in group["versions"]] == ["v1", "v2beta1"]
    assert group["preferredVersion"]["version"] == "v1"
    code, rl = await client.get(BASE)
    names = {r["name"]: r for r in rl["resources"]}
    assert set(names) == {"crontabs", "crontabs/status", "crontabs/scale"}
    assert names["crontabs"]["shortNames"] == ["ct"]
    assert names["crontabs"]["categories"] == ["all"]
    assert names["crontabs/scale"]["group"] == "autoscaling"
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    code, agg = await client.get("/apis", headers={"Accept": aggregated})
    groups = {g["metadata"]["name"]: g for g in agg["items"]}
    assert groups[GROUP]["versions"][0]["resources"][0]["resource"] == "crontabs"

    code, root = await client.get("/openapi/v3")
    assert f"apis/{GROUP}/v1" in root["paths"]
    code, doc = await client.get(f"/openapi/v3/apis/{GROUP}/v1")
    assert code == 200
    schemas = doc["components"]["schemas"]
    d = schemas["com.example.stable.v1.CronTab"]
    assert d["properties"]["spec"]["properties"]["cronSpec"]["type"] == "string"
    assert d["x-kubernetes-group-version-kind"] == [
        {"group": GROUP, "version": "v1", "kind": "CronTab"}
    ]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    item = f"/apis/{GROUP}/v1/namespaces/{{namespace}}/crontabs/{{name}}"
    # no strategic merge patch for custom resources: kubectl apply sends a merge patch
    assert sorted(doc["paths"][item]["patch"]["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    code, v2 = await client.get("/openapi/v2")
    assert "com.example.stable.v1.CronTab" in v2["definitions"]
    assert "application/strategic-merge-patch+json" not in v2["paths"][item]["patch"]["consumes"]
    code, core = await client.get("/openapi/v3/api/v1")
    pod = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in pod["requestBody"]["content"]


async def test_name_conflict_and_cleanup(client: Client, cluster: Cluster) -> None:
    await client.post(CRDS, crd())
    await established(client)
    other = crd()
    other["metadata"]["name"] = f"crontabz.{GROUP}"
    other["spec"]["names"] = {"plural": "crontabz", "kind": "CronTab", "singular": "crontabz"}
    code, body = await client.post(CRDS, other)
    assert code == 201, body
    for _ in range(100):
        code, body = await client.get(f"{CRDS}/crontabz.{GROUP}")
        conds = {c["type"]: c for c in body["status"].get("conditions") or []}
        if "NamesAccepted" in conds:
            break
        await asyncio.sleep(0.05)
    assert conds["NamesAccepted"]["status"] == "False"
    # kind and listKind both conflict; the last check's reason stands, as upstream
    assert conds["NamesAccepted"]["reason"] == "ListKindConflict"
    assert conds["NamesAccepted"]["message"] == '"CronTabList" is already in use'
    assert conds["Established"]["status"] == "False"

    code, body = await client.post(f"{BASE}/namespaces/default/crontabs", crontab("gone"))
    assert code == 201
    code, body = await client.delete(f"{CRDS}/crontabs.{GROUP}")
    assert code == 200, body
    assert "customresourcecleanup.apiextensions.k8s.io" in body["metadata"]["finalizers"]
    for _ in range(200):
        code, body = await client.get(f"{CRDS}/crontabs.{GROUP}")
        if code == 404:
            break
        await asyncio.sleep(0.05)
    assert code == 404, body
    code, body = await client.get(f"{BASE}/namespaces/default/crontabs")
    assert code == 404
    listing = await cluster.storage.list(f"/registry/{GROUP}/crontabs/")
    assert listing.items == []  # the instances went first
    # the freed names go to the other CRD of the group
    for _ in range(100):
        code, body = await client.get(f"{CRDS}/crontabz.{GROUP}")
        conds = {c["type"]: c for c in body["status"].get("conditions") or []}
        if conds["Established"]["status"] == "True":
            break
        await asyncio.sleep(0.05)
    assert conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["Established"]["status"] == "True"


async def test_rbac(client: Client) -> None:
    await client.post(CRDS, crd())
    await established(client)
    alice = {"Authorization": "Bearer secret-token"}
    ns = f"{BASE}/namespaces/default/crontabs"
    code, body = await client.get(ns, headers=alice)
    assert code == 403, body
    assert body["message"] == (
        'crontabs.stable.example.com is forbidden: User "alice" cannot list resource '
        '"crontabs" in API group "stable.example.com" in the namespace "default"'
    )
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "crontab-reader", "namespace": "default"},
        "rules": [{"apiGroups": [GROUP], "resources": ["crontabs"], "verbs": ["get", "list"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-crontabs", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "crontab-reader"},
        "subjects": [{"kind": "User", "name": "alice"}],
    }  # fmt: skip
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
    assert (await client.post(f"{rbac}/roles", role))[0] == 201
    assert (await client.post(f"{rbac}/rolebindings", binding))[0] == 201
    for _ in range(50):
        code, body = await client.get(ns, headers=alice)
        if code == 200:
            break
        await asyncio.sleep(0.1)
    assert code == 200, body
    code, body = await client.post(ns, crontab("no"), headers=alice)
    assert code == 403, body
    code, body = await client.get(f"{ns}/a/status", headers=alice)
    assert code == 403, body  # the subresource needs its own rule


async def test_server_side_apply_merges_list_maps(client: Client) -> None:
    definition = crd()
    spec_props = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    spec_props["spec"]["properties"]["ports"] = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
        },
    }
    await client.post(CRDS, definition)
    await established(client)
    ns = f"{BASE}/namespaces/default/crontabs"

    async def apply(manager: str, ports: list[dict[str, Any]]) -> tuple[int, Any]:
        obj = crontab("ssa", ports=ports)
        return await client.request(
            "PATCH", f"{ns}/ssa", raw=orjson.dumps(obj),
            headers={"Content-Type": "application/apply-patch+yaml"},
            params={"fieldManager": manager},
        )  # fmt: skip

    code, body = await apply("one", [{"name": "http", "port": 80}])
    assert code == 201, body
    code, body = await apply("two", [{"name": "https", "port": 443}])
    assert code == 200, body  # the same cronSpec value: shared, no conflict
    assert body["spec"]["ports"] == [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
    code, body = await apply("two", [{"name": "http", "port": 8080}])
    assert code == 409, body
    assert body["details"]["causes"][0]["field"] == '.spec.ports[name="http"].port'
    code, body = await apply("one", [])
    assert code == 200, body  # one's item goes; two's stays
    assert body["spec"]["ports"] == [{"name": "https", "port": 443}]


async def test_defaults_apply_on_read(client: Client) -> None:
    await client.post(CRDS, crd())
    await established(client)
    ns = f"{BASE}/namespaces/default/crontabs"
    assert (await client.post(ns, crontab("old")))[0] == 201
    code, current = await client.get(f"{CRDS}/crontabs.{GROUP}")
    props = current["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props["properties"]["mode"]["default"] = "slow"
    code, body = await client.put(f"{CRDS}/crontabs.{GROUP}", current)
    assert code == 200, body
    for _ in range(100):
        code, obj = await client.get(f"{ns}/old")
        if obj["spec"].get("mode") == "slow":
            break
        await asyncio.sleep(0.05)
    assert obj["spec"]["mode"] == "slow"
    code, listing = await client.get(ns)
    assert listing["items"][0]["spec"]["mode"] == "slow"


async def test_selectable_fields(client: Client) -> None:
    definition = crd()
    definition["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.mode"}]
    await client.post(CRDS, definition)
    await established(client)
    ns = f"{BASE}/namespaces/default/crontabs"
    await client.post(ns, crontab("f", mode="fast"))
    await client.post(ns, crontab("s", mode="slow"))
    code, listing = await client.get(ns, params={"fieldSelector": "spec.mode=fast"})
    assert code == 200, listing
    assert [i["metadata"]["name"] for i in listing["items"]] == ["f"]
    code, listing = await client.get(ns, params={"fieldSelector": "spec.mode!=fast"})
    assert [i["metadata"]["name"] for i in listing["items"]] == ["s"]
    code, body = await client.get(ns, params={"fieldSelector": "spec.image=busybox"})
    assert code == 400
    assert body["message"] == "field label not supported: spec.image"

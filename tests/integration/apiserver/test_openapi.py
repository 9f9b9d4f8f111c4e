"""OpenAPI documents and server-side field validation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google.protobuf import message_factory

from pyk8s.apiserver import protobuf
from tests.integration.apiserver.conftest import Client

CMS = "/api/v1/namespaces/default/configmaps"


def _walk_schemas(node: Any) -> list[Any]:
    """Every value found where a schema must be (property values, items)."""
    out: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "properties" and isinstance(v, dict):
                out += list(v.values())
            if k == "items":
                out.append(v)
            out += _walk_schemas(v)
    elif isinstance(node, list):
        for v in node:
            out += _walk_schemas(v)
    return out


async def test_v3_root_and_group_version_document(client: Client) -> None:
    status, root = await client.get("/openapi/v3")
    assert status == 200
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    status, doc = await client.get(url)
    assert status == 200 and doc["openapi"].startswith("3.")
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert {"fieldValidation", "dryRun", "fieldManager"} <= {p["name"] for p in patch["parameters"]}
    schemas = doc["components"]["schemas"]
    spec = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]
    assert spec["replicas"]["type"] == "integer"
    assert spec["template"]["$ref"] == "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"
    assert all(isinstance(s, dict) for s in _walk_schemas(schemas))
    # upstream pins neither apiVersion nor kind with an enum (kubectl explain would print it)
    deploy = schemas["io.k8s.api.apps.v1.Deployment"]["properties"]
    assert "enum" not in deploy["apiVersion"] and "enum" not in deploy["kind"]
    # quantities and int-or-strings are oneOf in v3 (kubectl explain shows <Quantity>)
    status, core = await client.get(root["paths"]["api/v1"]["serverRelativeURL"])
    quantity = core["components"]["schemas"]["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]
    assert "type" not in quantity


async def test_v2_as_json_and_as_gnostic_protobuf(client: Client) -> None:
    status, doc = await client.get("/openapi/v2", headers={"Accept": "application/json"})
    assert status == 200 and doc["swagger"] == "2.0"
    assert "io.k8s.api.core.v1.Pod" in doc["definitions"]
    codec = await asyncio.to_thread(protobuf.Codec.load)
    if codec is None:
        pytest.skip(f"protobuf descriptors not built ({protobuf.default_path()}): make protos")
    accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    async with client.session.get(client.base + "/openapi/v2", headers={"Accept": accept}) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == (
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        )
        raw = await r.read()
    document = message_factory.GetMessageClass(
        codec.pool.FindMessageTypeByName("openapi.v2.Document")
    ).FromString(raw)
    named = {d.name: d.value for d in document.definitions.additional_properties}
    binding = named["io.k8s.api.core.v1.Binding"]
    ext = {e.name: e.value.yaml for e in binding.vendor_extension}
    assert "kind: Binding" in ext["x-kubernetes-group-version-kind"]
    props = {p.name for p in binding.properties.additional_properties}
    assert {"metadata", "target"} <= props
    status, body = await client.get(
        "/openapi/v2", headers={"Accept": "application/vnd.kubernetes.protobuf"}
    )
    assert (status, body["reason"]) == (406, "NotAcceptable")


async def test_field_validation_modes(client: Client) -> None:
    body = {"metadata": {"name": "fv"}, "data": {"a": "b"}, "bogus": 1}
    status, err = await client.post(CMS + "?fieldValidation=Strict", body)
    assert status == 400
    assert err["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "bogus"'
    )
    async with client.session.post(
        client.base + CMS, json=body, headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 201
        assert resp.headers.getall("Warning") == ['299 - "unknown field \\"bogus\\""']
    status, _ = await client.post(
        CMS + "?fieldValidation=Ignore", {**body, "metadata": {"name": "fv2"}}
    )
    assert status == 201
    status, err = await client.post(CMS + "?fieldValidation=Loose", body)
    assert status == 400
    # a key given twice in one object: the last wins, and strict decoding reports it
    dup = b'{"metadata":{"name":"dup"},"data":{"a":"1","a":"2"},"items":[{"x":1,"x":2}]}'
    status, err = await client.request("POST", CMS + "?fieldValidation=Strict", raw=dup)
    assert (status, err["message"]) == (
        400,
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "data.a", unknown field "items"',
    )
    async with client.session.post(
        client.base + CMS, data=dup, headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 201
        assert resp.headers.getall("Warning") == [
            '299 - "duplicate field \\"data.a\\""',
            '299 - "unknown field \\"items\\""',
        ]
        assert (await resp.json())["data"] == {"a": "2"}


async def test_enums_of_plus_enum_types_in_v3_and_v2(client: Client) -> None:
    from pyk8s.apiserver import openapi_enums

    if await asyncio.to_thread(openapi_enums.load) is None:
        pytest.skip(f"OpenAPI enums not built ({openapi_enums.default_path()}): make protos")
    _, root = await client.get("/openapi/v3")
    _, core = await client.get(root["paths"]["api/v1"]["serverRelativeURL"])
    schemas = core["components"]["schemas"]
    service_type = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["type"]
    assert service_type["enum"] == ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    paragraph = service_type["description"].split("\n\n", 1)[1]
    assert paragraph.splitlines()[:2] == [
        "Possible enum values:",
        ' - `"ClusterIP"` means a service will only be accessible inside the cluster, via the '
        "cluster IP.",
    ]
    # only fields of +enum types: a ResourceName or a list of access modes has none
    assert (
        "enum"
        not in schemas["io.k8s.api.core.v1.ContainerResizePolicy"]["properties"]["resourceName"]
    )
    assert (
        "enum"
        not in schemas["io.k8s.api.core.v1.PersistentVolumeClaimSpec"]["properties"]["accessModes"]
    )
    _, apps = await client.get(root["paths"]["apis/apps/v1"]["serverRelativeURL"])
    strategy = apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentStrategy"]
    assert strategy["properties"]["type"]["enum"] == ["Recreate", "RollingUpdate"]
    _, v2 = await client.get("/openapi/v2", headers={"Accept": "application/json"})
    policy = v2["definitions"]["io.k8s.api.core.v1.Container"]["properties"]["imagePullPolicy"]
    assert policy["enum"] == ["Always", "IfNotPresent", "Never"]
    assert '\n\nPossible enum values:\n - `"Always"` means' in policy["description"]

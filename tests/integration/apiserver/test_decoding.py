"""Bodies and patches with fields of the wrong JSON type: upstream's decoder errors."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.integration.apiserver.conftest import Client

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
REPLICAS_ERR = (
    "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
)


def deployment(name: str, replicas: Any = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


@pytest.mark.parametrize("validation", ["Strict", "Warn", "Ignore"])
async def test_create_and_update_with_a_wrong_type_are_bad_requests(
    client: Client, validation: str
) -> None:
    params = {"fieldValidation": validation}
    status, body = await client.post(DEPLOYS, deployment("t", "3"), params=params)
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"] == (
        f'Deployment in version "v1" cannot be handled as a Deployment: {REPLICAS_ERR}'
    )
    status, _ = await client.post(DEPLOYS, deployment("t"), params=params)
    assert status == 201
    bad = deployment("t")
    bad["metadata"]["labels"] = {"a": 1}
    status, body = await client.put(DEPLOYS + "/t", bad, params=params)
    assert status == 400
    assert body["message"].endswith(
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels "
        "of type string"
    )


async def test_patches_with_a_wrong_type_are_invalid(client: Client) -> None:
    status, _ = await client.post(DEPLOYS, deployment("p"))
    assert status == 201
    for ctype, patch in (
        ("application/merge-patch+json", b'{"spec":{"replicas":"3"}}'),
        ("application/json-patch+json", b'[{"op":"replace","path":"/spec/replicas","value":"3"}]'),
    ):
        status, body = await client.request(
            "PATCH", DEPLOYS + "/p", raw=patch, headers={"Content-Type": ctype}
        )
        assert (status, body["reason"]) == (422, "Invalid"), ctype
        assert body["message"].startswith(' "" is invalid: patch: Invalid value: "{')
        assert body["message"].endswith(REPLICAS_ERR)
        assert body["details"]["causes"][0]["field"] == "patch"
    status, body = await client.request(
        "PATCH",
        PODS + "/nothing",
        raw=b'{"metadata":{"labels":"invalid"}}',
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert status == 404
    status, body = await client.request(
        "PATCH",
        DEPLOYS + "/p",
        raw=b'{"metadata":{"labels":"invalid"}}',
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert (status, body["message"]) == (
        422,
        ' "" is invalid: patch: Invalid value: "map[metadata:map[labels:invalid]]": '
        "cannot restore map from string",
    )
    status, body = await client.request(
        "PATCH",
        DEPLOYS + "/p",
        raw=b'{"spec":{"replicaz":3}}',
        headers={"Content-Type": "application/strategic-merge-patch+json"},
        params={"fieldValidation": "Strict"},
    )
    assert (status, body["message"]) == (
        422,
        ' "" is invalid: patch: Invalid value: "map[spec:map[replicaz:3]]": '
        'strict decoding error: unknown field "spec.replicaz"',
    )


async def test_apply_with_a_wrong_type_or_unknown_field(client: Client) -> None:
    for spec, detail in (
        ({"replicas": "3"}, ".spec.replicas: expected numeric (int or float), got string"),
        ({"replicaz": 3}, ".spec.replicaz: field not declared in schema"),
    ):
        doc = deployment("a")
        doc["metadata"]["namespace"] = "default"
        doc["spec"].update(spec)
        status, body = await client.request(
            "PATCH",
            DEPLOYS + "/a?fieldManager=m",
            raw=yaml.safe_dump(doc).encode(),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        assert status == 500
        assert "reason" not in body
        assert body["message"] == (
            "failed to create typed patch object (default/a; apps/v1, Kind=Deployment): " + detail
        )


async def test_quantities_are_stored_canonical(client: Client) -> None:
    pod = {
        "metadata": {"name": "q"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {"requests": {"cpu": 0.5, "memory": "1024Mi"}},
                }
            ]
        },
    }
    status, created = await client.post(PODS, pod)
    assert status == 201, created
    assert created["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "500m",
        "memory": "1Gi",
    }
    status, patched = await client.request(
        "PATCH",
        f"{PODS}/q",
        body={"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert status == 200, patched
    assert patched["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "500m"
    d = deployment("q")
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1.5"}}
    status, created = await client.post(DEPLOYS, d)
    assert status == 201, created
    limits = created["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "1500m"}


async def test_a_quantity_that_does_not_parse_fails_decoding(client: Client) -> None:
    # resource.Quantity's UnmarshalJSON: a 400 before any validation, with its own words
    bad = deployment("q")
    bad["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1 core"}}
    status, body = await client.post(DEPLOYS, bad)
    assert (status, body["reason"], body["message"]) == (
        400,
        "BadRequest",
        'Deployment in version "v1" cannot be handled as a Deployment: quantities must match '
        "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    )

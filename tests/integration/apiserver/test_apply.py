"""Server-side apply over HTTP: create, conflicts, force, dropped fields."""

from __future__ import annotations

from typing import Any

import yaml

from tests.integration.apiserver.conftest import Client

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def manifest(replicas: int, containers: list[str], labels: dict[str, str]) -> bytes:
    doc: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ssa", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "ssa"}},
            "template": {
                "metadata": {"labels": {"app": "ssa"}},
                "spec": {"containers": [{"name": c, "image": "nginx"} for c in containers]},
            },
        },
    }
    return yaml.safe_dump(doc).encode()


async def test_server_side_apply(client: Client) -> None:
    path = DEPLOYS + "/ssa?fieldManager=alice"
    status, body = await client.request(
        "PATCH", path, raw=manifest(2, ["a", "b"], {"x": "1"}), headers=APPLY
    )
    assert status == 201
    entry = body["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"]) == ("alice", "Apply")
    # Another manager changes replicas through an update: alice's next apply conflicts.
    body["spec"]["replicas"] = 5
    status, _ = await client.put(DEPLOYS + "/ssa?fieldManager=bob", body)
    assert status == 200
    status, err = await client.request(
        "PATCH", path, raw=manifest(3, ["a", "b"], {"x": "1"}), headers=APPLY
    )
    assert status == 409
    assert err["message"] == (
        'Apply failed with 1 conflict: conflict with "bob" using apps/v1: .spec.replicas'
    )
    assert err["details"]["causes"][0]["reason"] == "FieldManagerConflict"
    # Forced, alice takes replicas; dropping container b and label x removes them.
    status, body = await client.request(
        "PATCH", path + "&force=true", raw=manifest(3, ["a"], {"y": "2"}), headers=APPLY
    )
    assert status == 200
    assert body["spec"]["replicas"] == 3
    assert [c["name"] for c in body["spec"]["template"]["spec"]["containers"]] == ["a"]
    assert body["metadata"]["labels"] == {"y": "2"}
    status, err = await client.request(
        "PATCH", DEPLOYS + "/ssa", raw=manifest(3, ["a"], {}), headers=APPLY
    )
    assert status == 400 and "fieldManager" in err["message"]


async def test_apply_to_the_status_subresource(client: Client) -> None:
    path = DEPLOYS + "/ssa"
    status, _ = await client.request(
        "PATCH", path + "?fieldManager=alice", raw=manifest(2, ["a"], {}), headers=APPLY
    )
    assert status == 201
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa"},
           "status": {"observedGeneration": 7}}  # fmt: skip
    raw = yaml.safe_dump(doc).encode()
    status, body = await client.request(
        "PATCH", path + "/status?fieldManager=ctrl", raw=raw, headers=APPLY
    )
    assert status == 200, body
    assert body["status"]["observedGeneration"] == 7
    assert body["spec"]["replicas"] == 2
    entry = next(e for e in body["metadata"]["managedFields"] if e["manager"] == "ctrl")
    assert (entry["operation"], entry["subresource"]) == ("Apply", "status")
    assert entry["fieldsV1"] == {"f:status": {"f:observedGeneration": {}}}
    doc["status"]["observedGeneration"] = 8
    status, err = await client.request(
        "PATCH", path + "/status?fieldManager=other",
        raw=yaml.safe_dump(doc).encode(), headers=APPLY,
    )  # fmt: skip
    assert status == 409
    assert err["message"] == (
        'Apply failed with 1 conflict: conflict with "ctrl" with subresource "status": '
        ".status.observedGeneration"
    )
    doc["metadata"]["name"] = "missing"
    status, _ = await client.request(
        "PATCH", DEPLOYS + "/missing/status?fieldManager=ctrl",
        raw=yaml.safe_dump(doc).encode(), headers=APPLY,
    )  # fmt: skip
    assert status == 404


async def test_apply_stores_quantities_canonical(client: Client) -> None:
    # upstream decodes the merged object into Go structs: 0.5 is stored as 500m, for the
    # create and the update an apply makes; a controller's later update of the same object
    # then changes nothing and owns nothing
    doc = yaml.safe_load(manifest(1, ["a"], {}))
    doc["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "0.5", "memory": "1024Mi"}
    }
    path = DEPLOYS + "/ssa?fieldManager=alice"
    status, body = await client.request(
        "PATCH", path, raw=yaml.safe_dump(doc).encode(), headers=APPLY
    )
    assert status == 201, body
    want = {"requests": {"cpu": "500m", "memory": "1Gi"}}
    assert body["spec"]["template"]["spec"]["containers"][0]["resources"] == want
    doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "1.5"}
    status, body = await client.request(
        "PATCH", path, raw=yaml.safe_dump(doc).encode(), headers=APPLY
    )
    assert status == 200, body
    want["limits"] = {"cpu": "1500m"}
    assert body["spec"]["template"]["spec"]["containers"][0]["resources"] == want
    status, body = await client.put(DEPLOYS + "/ssa?fieldManager=ctrl", body)
    assert status == 200, body
    assert [m["manager"] for m in body["metadata"]["managedFields"]] == ["alice"]

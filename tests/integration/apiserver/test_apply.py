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

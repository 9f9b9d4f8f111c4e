"""managedFields are tracked before mutating admission, as upstream's create handler tracks
them: what admission adds to a pod (the token volume and its mounts, the default
tolerations, the priority) is in the pod but owned by no field manager."""

from __future__ import annotations

import orjson

from tests.integration.apiserver.conftest import Client

PODS = "/api/v1/namespaces/default/pods"


async def test_admission_additions_have_no_manager(client: Client) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tracked", "labels": {"run": "tracked"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    status, created = await client.post(PODS + "?fieldManager=kubectl-run", pod)
    assert status == 201, created
    spec = created["spec"]
    # admission did add them
    assert spec["tolerations"] and "priority" in spec
    assert any(v["name"].startswith("kube-api-access-") for v in spec.get("volumes", []))
    (entry,) = created["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-run" and entry["operation"] == "Update"
    fields = entry["fieldsV1"]
    text = orjson.dumps(fields).decode()
    assert "f:containers" in fields["f:spec"] and "f:labels" in fields["f:metadata"]
    for added in ("f:volumes", "f:tolerations", "f:priority", "f:volumeMounts"):
        assert added not in text, (added, fields)
    # defaulting happens before tracking, as in upstream's decoder
    assert "f:restartPolicy" in fields["f:spec"]


async def test_strategy_additions_have_no_manager(client: Client) -> None:
    """What PrepareForCreate sets is not the creator's either: a namespace's ``kubernetes``
    finalizer (its name label comes from defaulting and is), a Job's generated selector and
    template labels."""
    status, ns = await client.post(
        "/api/v1/namespaces?fieldManager=kubectl-create", {"metadata": {"name": "mf"}}
    )
    assert status == 201, ns
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    (entry,) = ns["metadata"]["managedFields"]
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "mf"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b"}]}
            }
        },
    }
    status, created = await client.post(
        "/apis/batch/v1/namespaces/default/jobs?fieldManager=kubectl-create", job
    )
    assert status == 201, created
    assert created["spec"]["selector"]["matchLabels"]
    (entry,) = created["metadata"]["managedFields"]
    text = orjson.dumps(entry["fieldsV1"]).decode()
    assert "f:selector" not in text and "controller-uid" not in text, text
    assert "f:containers" in text

"""Custom resources end to end: kubectl 1.33 and the ``kubernetes`` client's CustomObjectsApi
against a real ``pyk8s server`` (CRD lifecycle, printer columns, the patch types, server-side
apply, scale, explain, api-resources, namespace deletion, garbage collection, CRD deletion)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.e2e.apiserver.conftest import Server
from tests.e2e.controllers.conftest import get_json, kubectl, wait_for

GROUP = "stable.example.com"
CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct],
          categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Image, type: string, priority: 1, jsonPath: .spec.image}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        description: A CronTab runs a command on a schedule.
        properties:
          spec:
            type: object
            description: What to run and when.
            required: [cronSpec]
            properties:
              cronSpec: {type: string, description: The schedule in cron format.}
              image: {type: string, default: busybox}
              replicas: {type: integer, minimum: 0}
          status:
            type: object
            properties:
              replicas: {type: integer}
"""


def crontab(name: str, replicas: int = 2, namespace: str = "default") -> str:
    return f"""
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{cronSpec: "* * * * */5", replicas: {replicas}}}
"""


def apply(cluster: Server, manifest: str, *args: str, check: bool = True) -> Any:
    return cluster.kubectl("1.33", "apply", "-f", "-", *args, input=manifest, check=check)


@pytest.fixture(scope="module")
def crd(cluster: Server) -> Server:
    apply(cluster, CRD)
    kubectl(cluster, "wait", "--for", "condition=established", f"crd/crontabs.{GROUP}",
            "--timeout=30s")  # fmt: skip
    return cluster


def test_kubectl_custom_resources(crd: Server) -> None:
    c = crd
    out = kubectl(c, "api-resources", f"--api-group={GROUP}")
    assert out.splitlines()[1].split() == ["crontabs", "ct", f"{GROUP}/v1", "true", "CronTab"]
    apply(c, crontab("one"))
    for name in ("crontabs", "crontab", "ct", "CronTab", f"crontabs.{GROUP}"):
        lines = kubectl(c, "get", name).splitlines()
        assert lines[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"], name
        assert lines[1].split()[:7] == ["one", "*", "*", "*", "*", "*/5", "2"]
    wide = kubectl(c, "get", "ct", "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"]
    assert "busybox" in wide[1]  # defaulted
    assert "crontab.stable.example.com/one" in kubectl(c, "get", "all")

    kubectl(c, "patch", "ct", "one", "--type=merge", "-p", '{"spec":{"replicas":3}}')
    kubectl(c, "patch", "ct", "one", "--type=json",
            "-p", '[{"op":"replace","path":"/spec/image","value":"nginx"}]')  # fmt: skip
    res = c.kubectl("1.33", "patch", "ct", "one", "-p", '{"spec":{"replicas":4}}', check=False)
    assert res.returncode != 0
    assert "application/strategic-merge-patch+json is not supported" in res.stderr
    kubectl(c, "scale", "ct", "one", "--replicas=5")
    obj = get_json(c, "ct", "one")
    assert (obj["spec"]["replicas"], obj["spec"]["image"]) == (5, "nginx")
    assert obj["metadata"]["generation"] == 4

    apply(c, crontab("two", 1), "--server-side")
    obj = get_json(c, "ct", "two", "--show-managed-fields")
    assert obj["metadata"]["managedFields"][0]["manager"] == "kubectl"
    assert obj["metadata"]["managedFields"][0]["operation"] == "Apply"

    bad = apply(c, crontab("bad").replace("replicas: 2", "replicas: -1"), check=False)
    assert bad.returncode != 0
    assert 'The CronTab "bad" is invalid' in bad.stderr
    assert "spec.replicas in body should be greater than or equal to 0" in bad.stderr
    strict = apply(c, crontab("strict").replace("replicas: 2", "replicas: 2, bogus: 1"),
                   check=False)  # fmt: skip
    assert 'strict decoding error: unknown field "spec.bogus"' in strict.stderr

    explain = kubectl(c, "explain", "crontab.spec")
    assert "What to run and when." in explain
    assert "cronSpec\t<string> -required-" in explain
    assert "The schedule in cron format." in explain

    kubectl(c, "delete", "ct", "two")
    assert "two" not in kubectl(c, "get", "ct", "-o", "name")


def test_namespace_deletion_and_garbage_collection(crd: Server) -> None:
    c = crd
    kubectl(c, "create", "namespace", "crns")
    apply(c, crontab("inside", namespace="crns"))
    kubectl(c, "delete", "namespace", "crns", "--timeout=60s")
    assert "inside" not in kubectl(c, "get", "ct", "-A", "-o", "name")

    apply(c, crontab("owner"))
    owner = get_json(c, "ct", "owner")
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "owned",
            "ownerReferences": [
                {"apiVersion": f"{GROUP}/v1", "kind": "CronTab", "name": "owner",
                 "uid": owner["metadata"]["uid"]}
            ],
        },
    }  # fmt: skip
    apply(c, json.dumps(cm))
    kubectl(c, "delete", "ct", "owner")

    def gone() -> bool:
        res = c.kubectl("1.33", "get", "configmap", "owned", check=False)
        return res.returncode != 0 and "NotFound" in res.stderr

    wait_for(gone, 30, "the ConfigMap owned by a deleted CronTab to be collected")


def test_python_client(crd: Server) -> None:
    from kubernetes import client, config, watch

    api = client.CustomObjectsApi(config.new_client_from_config(str(crd.kubeconfig)))
    args = (GROUP, "v1", "default", "crontabs")
    events: list[tuple[str, str]] = []

    def stream() -> None:
        for ev in watch.Watch().stream(
            api.list_namespaced_custom_object, *args, field_selector="metadata.name=py",
            timeout_seconds=5,
        ):  # fmt: skip
            events.append((ev["type"], ev["object"]["metadata"]["name"]))
            if ev["type"] == "DELETED":
                return

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.5)
    body = {"apiVersion": f"{GROUP}/v1", "kind": "CronTab", "metadata": {"name": "py"},
            "spec": {"cronSpec": "* * * * *", "replicas": 1}}  # fmt: skip
    created = api.create_namespaced_custom_object(*args, body)
    assert created["spec"]["image"] == "busybox"
    api.patch_namespaced_custom_object(*args, "py", {"spec": {"replicas": 2}})
    scale = api.get_namespaced_custom_object_scale(*args, "py")
    assert scale["spec"]["replicas"] == 2
    api.patch_namespaced_custom_object_status(*args, "py", {"status": {"replicas": 2}})
    listed = api.list_cluster_custom_object(GROUP, "v1", "crontabs")
    assert {i["metadata"]["name"] for i in listed["items"]} >= {"py"}
    api.delete_namespaced_custom_object(*args, "py")
    t.join(10)
    assert events[0] == ("ADDED", "py")
    assert events[-1] == ("DELETED", "py")
    assert ("MODIFIED", "py") in events


def test_deleting_the_crd_deletes_its_instances(crd: Server) -> None:
    c = crd
    apply(c, crontab("last"))
    kubectl(c, "delete", "crd", f"crontabs.{GROUP}", "--timeout=60s")
    res = c.kubectl("1.33", "get", f"crontabs.{GROUP}", check=False)
    assert res.returncode != 0
    # recreated, it starts empty: the instances were deleted with it
    apply(c, CRD)
    kubectl(c, "wait", "--for", "condition=established", f"crd/crontabs.{GROUP}",
            "--timeout=30s")  # fmt: skip

    def listed() -> str | None:
        res = c.kubectl("1.33", "get", "ct", "-A", "-o", "name", check=False)
        return "ok" if res.returncode == 0 else None

    wait_for(listed, 30, "crontabs to be served again")
    assert kubectl(c, "get", "ct", "-A", "-o", "name").strip() == ""

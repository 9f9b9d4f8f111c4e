"""Server-side apply with the real kubectl: several managers, dropped fields, dry run, and
kubectl's upgrade from client-side apply (what upstream's test/cmd apply.sh checks)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.apiserver.conftest import VERSIONS, Server

pytestmark = pytest.mark.e2e

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: test-pod
  labels: {{name: {label}}}
spec:
  containers:
  - name: pause
    image: registry.k8s.io/pause:3.10
"""

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  labels: {labels}
data: {data}
"""


def managed(server: Server, version: str, ns: str, what: str) -> dict[str, list[str]]:
    obj = json.loads(
        server.kubectl(version, "-n", ns, "get", what, "-o", "json", "--show-managed-fields").stdout
    )
    out: dict[str, list[str]] = {}
    for e in obj["metadata"].get("managedFields", []):
        out.setdefault(e["manager"], []).append(e["operation"])
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_upgrade_from_client_side_apply(server: Server, version: str) -> None:
    k = server.kubectl
    ns = f"upgrade-{version.replace('.', '-')}"
    k(version, "create", "namespace", ns)
    k(version, "-n", ns, "apply", "-f", "-", input=POD.format(label="first"))
    applied = POD.format(label="second")
    res = k(
        version, "-n", ns, "apply", "--server-side", "--field-manager=not-kubectl",
        "-f", "-", input=applied, check=False,
    )  # fmt: skip
    assert res.returncode == 1
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
        ".metadata.labels.name"
    ) in res.stderr
    k(version, "-n", ns, "apply", "--server-side", "-f", "-", input=applied)
    last = json.loads(k(version, "-n", ns, "apply", "view-last-applied", "pod/test-pod",
                        "-o", "json").stdout)  # fmt: skip
    assert last["metadata"]["labels"] == {"name": "second"}
    assert "kubectl" in managed(server, version, ns, "pod/test-pod")
    # and back to client-side apply
    k(version, "-n", ns, "apply", "-f", "-", input=POD.format(label="third"))
    pod = json.loads(k(version, "-n", ns, "get", "pod", "test-pod", "-o", "json").stdout)
    assert pod["metadata"]["labels"] == {"name": "third"}


@pytest.mark.parametrize("version", VERSIONS)
def test_two_managers_share_and_conflict(server: Server, version: str) -> None:
    k = server.kubectl
    ns = f"share-{version.replace('.', '-')}"
    k(version, "create", "namespace", ns)

    def ssa(manager: str, labels: str, data: str, *flags: str, check: bool = True) -> str:
        res = k(
            version, "-n", ns, "apply", "--server-side", f"--field-manager={manager}", *flags,
            "-f", "-", input=CONFIGMAP.format(labels=labels, data=data), check=check,
        )  # fmt: skip
        return res.stdout + res.stderr

    ssa("alice", "{team: a, tier: web}", "{k: v}")
    ssa("bob", "{team: a}", "{k: v}")  # identical values: both own them, no conflict
    assert managed(server, version, ns, "cm/shared") == {"alice": ["Apply"], "bob": ["Apply"]}
    out = ssa("bob", "{team: b}", "{k: v}", check=False)
    assert 'Apply failed with 1 conflict: conflict with "alice": .metadata.labels.team' in out
    ssa("bob", "{team: b}", "{k: v}", "--force-conflicts")
    # alice stops applying tier and team: tier goes (nobody else owns it), team stays (bob's)
    ssa("alice", "{}", "{k: v}")
    cm = json.loads(k(version, "-n", ns, "get", "cm", "shared", "-o", "json").stdout)
    assert cm["metadata"]["labels"] == {"team": "b"}
    rv = cm["metadata"]["resourceVersion"]
    ssa("alice", "{}", "{k: w}", "--dry-run=server", "--force-conflicts")
    cm = json.loads(k(version, "-n", ns, "get", "cm", "shared", "-o", "json").stdout)
    assert cm["metadata"]["resourceVersion"] == rv and cm["data"] == {"k": "v"}
    ssa("alice", "{}", "{k: v}")  # unchanged: no new version
    cm = json.loads(k(version, "-n", ns, "get", "cm", "shared", "-o", "json").stdout)
    assert cm["metadata"]["resourceVersion"] == rv


@pytest.mark.parametrize("version", VERSIONS)
def test_wrong_json_types(server: Server, version: str) -> None:
    k = server.kubectl
    ns = f"types-{version.replace('.', '-')}"
    k(version, "create", "namespace", ns)
    bad = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: '3'\n"
        "  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n"
        "    spec: {containers: [{name: c, image: nginx}]}\n"
    )
    res = k(version, "-n", ns, "create", "-f", "-", input=bad, check=False)
    assert res.returncode == 1
    assert (
        'Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" '
        "cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field "
        "DeploymentSpec.spec.replicas of type int32"
    ) in res.stderr
    k(version, "-n", ns, "apply", "-f", "-", input=POD.format(label="x"))
    patch = '{"metadata":{"labels":"invalid"}}'
    res = k(version, "-n", ns, "patch", "pod", "test-pod", "-p", patch, check=False)
    assert res.returncode == 1
    assert "cannot restore map from string" in res.stderr


def test_apply_status_subresource(server: Server) -> None:
    k = server.kubectl
    k("1.33", "create", "namespace", "status-apply")
    cm = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 1\n"
    cm += "  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n"
    cm += "    spec: {containers: [{name: c, image: nginx}]}\n"
    k("1.33", "-n", "status-apply", "apply", "--server-side", "-f", "-", input=cm)
    status = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
    status += "status: {observedGeneration: 5}\n"
    k("1.33", "-n", "status-apply", "apply", "--server-side", "--subresource=status",
      "--field-manager=ctrl", "-f", "-", input=status)  # fmt: skip
    args = ("-n", "status-apply", "get", "deploy", "d", "-o", "json", "--show-managed-fields")
    d = json.loads(k("1.33", *args).stdout)
    assert d["status"]["observedGeneration"] == 5
    assert any(
        e["manager"] == "ctrl" and e.get("subresource") == "status"
        for e in d["metadata"]["managedFields"]
    )


WIDGETS = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  names: {{plural: widgets, singular: widget, kind: Widget}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {{type: string}}
              sizes: {{type: array, items: {{type: integer}}}}
"""

WIDGET = """
apiVersion: {group}/v1
kind: Widget
metadata: {{name: w1}}
spec: {{color: {color}, sizes: {sizes}}}
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_client_side_apply_of_a_custom_resource(server: Server, version: str) -> None:
    # kubectl apply sends a JSON merge patch to a custom resource (the OpenAPI documents
    # offer it no strategic merge patch); kubectl patch's default strategic patch gets 415
    k = server.kubectl
    group = f"csa{version.replace('.', '')}.example.com"
    k(version, "apply", "-f", "-", input=WIDGETS.format(group=group))
    k(version, "wait", "--for=condition=Established", f"crd/widgets.{group}")
    ns = f"cr-apply-{version.replace('.', '-')}"
    k(version, "create", "namespace", ns)
    k(version, "-n", ns, "apply", "-f", "-", input=WIDGET.format(group=group, color="red",
                                                                  sizes="[1, 2]"))  # fmt: skip
    changed = WIDGET.format(group=group, color="blue", sizes="[3]")
    diff = k(version, "-n", ns, "diff", "-f", "-", input=changed, check=False)
    assert diff.returncode == 1, diff.stderr
    assert "-  color: red\n+  color: blue" in diff.stdout, diff.stdout
    res = k(version, "-n", ns, "apply", "-f", "-", input=changed)
    assert f"widget.{group}/w1 configured" in res.stdout
    got = k(version, "-n", ns, "get", f"widgets.{group}", "w1", "-o", "jsonpath={.spec}")
    assert json.loads(got.stdout) == {"color": "blue", "sizes": [3]}
    assert k(version, "-n", ns, "diff", "-f", "-", input=changed, check=False).returncode == 0
    res = k(version, "-n", ns, "patch", f"widgets.{group}", "w1", "-p", '{"spec":{"color":"x"}}',
            check=False)  # fmt: skip
    assert res.returncode == 1
    assert (
        f"application/strategic-merge-patch+json is not supported by {group}/v1, Kind=Widget: "
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    ) in res.stderr

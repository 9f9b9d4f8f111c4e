"""The real kubectl against a real ``pyk8s apiserver``: version, discovery, get in every
output format, create, delete, label, scale, watch, errors."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.apiserver.conftest import VERSIONS, Server, kubectl_binary, running

pytestmark = pytest.mark.e2e

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {app}}}
spec:
  containers:
  - name: c
    image: busybox
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx}]
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_version(server: Server, version: str) -> None:
    out = json.loads(server.kubectl(version, "version", "-o", "json").stdout)
    git = out["serverVersion"]["gitVersion"]
    assert git.startswith("v1.33.") and git.endswith("+pyk8s")


@pytest.mark.parametrize("version", VERSIONS)
def test_api_resources_and_versions(server: Server, version: str) -> None:
    out = server.kubectl(version, "api-resources").stdout
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert lines["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert lines["clusterroles"][1:] == ["rbac.authorization.k8s.io/v1", "false", "ClusterRole"]
    assert "customresourcedefinitions" in lines and "leases" in lines
    namespaced = server.kubectl(version, "api-resources", "--namespaced=false", "-o", "name")
    assert "namespaces" in namespaced.stdout.split() and "pods" not in namespaced.stdout.split()
    versions = server.kubectl(version, "api-versions").stdout.split()
    assert {"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"} <= set(versions)


@pytest.mark.parametrize("version", VERSIONS)
def test_get_output_formats(server: Server, version: str) -> None:
    ns = f"fmt-{version.replace('.', '-')}"
    server.kubectl(
        version,
        "create",
        "-f",
        "-",
        "--validate=false",
        input=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
    )
    for name, app in (("b", "bx"), ("a", "cy")):
        server.kubectl(
            version,
            "-n",
            ns,
            "create",
            "-f",
            "-",
            "--validate=false",
            input=POD.format(name=name, app=app),
        )
    table = server.kubectl(version, "-n", ns, "get", "pods").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["a", "0/1", "Pending", "0"]
    wide = server.kubectl(version, "-n", ns, "get", "pods", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    names = server.kubectl(version, "-n", ns, "get", "pods", "-o", "name").stdout.split()
    assert names == ["pod/a", "pod/b"]
    doc = json.loads(server.kubectl(version, "-n", ns, "get", "pod", "a", "-o", "json").stdout)
    assert doc["kind"] == "Pod" and doc["metadata"]["namespace"] == ns
    y = yaml.safe_load(server.kubectl(version, "-n", ns, "get", "pod", "b", "-o", "yaml").stdout)
    assert y["metadata"]["labels"] == {"app": "bx"}
    jp = server.kubectl(
        version, "-n", ns, "get", "pods", "-o", "jsonpath={.items[*].metadata.name}"
    )
    assert jp.stdout == "a b"
    cc = server.kubectl(
        version,
        "-n",
        ns,
        "get",
        "pods",
        "-o",
        "custom-columns=N:.metadata.name,APP:.metadata.labels.app",
    ).stdout.splitlines()
    assert [line.split() for line in cc] == [["N", "APP"], ["a", "cy"], ["b", "bx"]]
    labels = server.kubectl(version, "-n", ns, "get", "pods", "--show-labels").stdout
    assert "app=bx" in labels and "LABELS" in labels
    sel = server.kubectl(version, "-n", ns, "get", "pods", "-l", "app=bx", "-o", "name").stdout
    assert sel.split() == ["pod/b"]
    fs = server.kubectl(
        version, "-n", ns, "get", "pods", "--field-selector", "metadata.name=a", "-o", "name"
    ).stdout
    assert fs.split() == ["pod/a"]
    by_label = server.kubectl(
        version, "-n", ns, "get", "pods", "--sort-by", ".metadata.labels.app", "-o", "name"
    ).stdout.split()
    assert by_label == ["pod/b", "pod/a"]
    every = server.kubectl(version, "get", "pods", "-A").stdout.splitlines()
    assert every[0].split()[0] == "NAMESPACE"
    assert any(line.split()[:2] == [ns, "a"] for line in every[1:])
    chunked = server.kubectl(version, "-n", ns, "get", "pods", "--chunk-size=1", "-o", "name")
    assert chunked.stdout.split() == ["pod/a", "pod/b"]
    server.kubectl(version, "-n", ns, "delete", "pod", "a", "b")
    gone = server.kubectl(version, "-n", ns, "get", "pods")
    assert f"No resources found in {ns} namespace." in gone.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_errors_from_server(server: Server, version: str) -> None:
    res = server.kubectl(version, "get", "pod", "nope", check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    # kubectl looks the namespace up after a NotFound and names it when it is missing.
    res = server.kubectl(version, "get", "pods", "-n", "ghost", "x", check=False)
    assert 'namespaces "ghost" not found' in res.stderr
    res = server.kubectl(
        version,
        "-n",
        "ghost",
        "create",
        "-f",
        "-",
        "--validate=false",
        input=POD.format(name="p", app="a"),
        check=False,
    )
    assert 'namespaces "ghost" not found' in res.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_label_annotate_scale_delete(server: Server, version: str) -> None:
    ns = f"ops-{version.replace('.', '-')}"
    server.kubectl(
        version,
        "create",
        "-f",
        "-",
        "--validate=false",
        input=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
    )
    server.kubectl(version, "-n", ns, "create", "-f", "-", "--validate=false", input=DEPLOYMENT)
    server.kubectl(version, "-n", ns, "label", "deployment", "web", "tier=front")
    server.kubectl(version, "-n", ns, "annotate", "deployment", "web", "note=hi")
    server.kubectl(version, "-n", ns, "scale", "deployment", "web", "--replicas=5")
    d = json.loads(
        server.kubectl(
            version, "-n", ns, "get", "deploy", "web", "-o", "json", "--show-managed-fields"
        ).stdout
    )
    assert d["metadata"]["labels"] == {"tier": "front"}
    assert d["metadata"]["annotations"]["note"] == "hi"
    assert d["spec"]["replicas"] == 5
    managers = {m["manager"] for m in d["metadata"]["managedFields"]}
    assert {"kubectl-create", "kubectl-label", "kubectl-annotate"} <= managers
    out = server.kubectl(version, "-n", ns, "get", "deploy").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out[1].split()[:2] == ["web", "0/5"]
    raw = json.loads(
        server.kubectl(
            version, "get", "--raw", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"
        ).stdout
    )
    assert raw["spec"]["replicas"] == 5
    server.kubectl(version, "-n", ns, "delete", "deployment", "web")
    res = server.kubectl(version, "-n", ns, "get", "deploy", "web", check=False)
    assert "NotFound" in res.stderr


def test_apply_creates_then_reports_unchanged(server: Server) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\ndata: {a: '1'}\n"
    out = server.kubectl("1.33", "apply", "--validate=false", "-f", "-", input=manifest).stdout
    assert out.strip() == "configmap/applied created"
    out = server.kubectl("1.33", "apply", "--validate=false", "-f", "-", input=manifest).stdout
    assert out.strip() == "configmap/applied unchanged"
    out = server.kubectl(
        "1.33", "apply", "--validate=false", "-f", "-", input=manifest.replace("'1'", "'2'")
    ).stdout
    assert out.strip() == "configmap/applied configured"
    got = json.loads(server.kubectl("1.33", "get", "cm", "applied", "-o", "json").stdout)
    assert got["data"] == {"a": "2"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]


@pytest.mark.parametrize("version", VERSIONS)
def test_get_pods_watch(server: Server, version: str) -> None:
    ns = f"watch-{version.replace('.', '-')}"
    server.kubectl(
        version,
        "create",
        "-f",
        "-",
        "--validate=false",
        input=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
    )
    binary = kubectl_binary(version)
    assert binary is not None
    watcher = subprocess.Popen(
        [
            binary,
            "--kubeconfig",
            str(server.kubeconfig),
            "--cache-dir",
            str(server.cache_dir / version),
            "-n",
            ns,
            "get",
            "pods",
            "-w",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def rows_seen(n: int) -> None:
        """Each step waits for the watcher to print the last one (kubectl starts slowly
        under load; a fixed pause let it list after the pod was gone)."""
        deadline = time.monotonic() + 30
        while len([x for x in lines[1:] if x.startswith("watched ")]) < n:
            assert time.monotonic() < deadline, (lines, watcher.poll())
            time.sleep(0.05)

    try:
        server.kubectl(
            version,
            "-n",
            ns,
            "create",
            "-f",
            "-",
            "--validate=false",
            input=POD.format(name="watched", app="w"),
        )
        rows_seen(1)  # listed or watched: the watch is under way from here on
        server.kubectl(version, "-n", ns, "label", "pod", "watched", "x=y")
        rows_seen(2)
        server.kubectl(version, "-n", ns, "delete", "pod", "watched")
        rows_seen(3)  # added, modified, deleted
    finally:
        watcher.terminate()
        _, err = watcher.communicate(timeout=10)
        reader.join(10)
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], (lines, err)
    rows = [line.split()[:3] for line in lines[1:]]
    assert rows[0] == ["watched", "0/1", "Pending"]


def test_cluster_info_and_raw(server: Server) -> None:
    out = server.kubectl("1.33", "cluster-info").stdout
    assert f"https://127.0.0.1:{server.port}" in out
    raw = json.loads(server.kubectl("1.33", "get", "--raw", "/version").stdout)
    assert raw["gitVersion"].endswith("+pyk8s")
    assert server.kubectl("1.33", "get", "--raw", "/readyz").stdout == "ok"


def test_restart_keeps_pki_and_data(tmp_path: Path) -> None:
    with running(tmp_path) as first:
        ca_before = (tmp_path / "server" / "tls" / "ca.crt").read_bytes()
        first.kubectl(
            "1.33",
            "create",
            "-f",
            "-",
            "--validate=false",
            input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\n",
        )
        kc = yaml.safe_load(first.kubeconfig.read_text())
        assert kc["current-context"] == "kubernetes-admin@kubernetes"
        assert kc["clusters"][0]["name"] == "kubernetes"
        assert kc["users"][0]["name"] == "kubernetes-admin"
    with running(tmp_path) as second:
        assert (tmp_path / "server" / "tls" / "ca.crt").read_bytes() == ca_before
        out = second.kubectl("1.33", "get", "cm", "kept", "-o", "name").stdout
        assert out.strip() == "configmap/kept"


@pytest.mark.parametrize("version", VERSIONS)
def test_typed_commands_send_protobuf(server: Server, version: str) -> None:
    from pyk8s.apiserver import protobuf

    if not protobuf.default_path().exists():
        pytest.skip(f"protobuf descriptors not built ({protobuf.default_path()}): make protos")
    ns = f"typed-{version.replace('.', '-')}"
    k = server.kubectl
    assert k(version, "create", "namespace", ns).stdout.strip() == f"namespace/{ns} created"
    k(version, "-n", ns, "create", "configmap", "cfg", "--from-literal=a=1")
    k(
        version,
        "-n",
        ns,
        "create",
        "secret",
        "generic",
        "app-secret",
        "--from-literal=DB_Host=mysql",
    )
    k(version, "-n", ns, "create", "deployment", "nginx", "--image=nginx")
    k(version, "-n", ns, "create", "serviceaccount", "bot")
    k(version, "-n", ns, "create", "service", "clusterip", "redis", "--tcp=6379:6379")
    cm = json.loads(k(version, "-n", ns, "get", "cm", "cfg", "-o", "json").stdout)
    assert cm["data"] == {"a": "1"}
    assert "generateName" not in cm["metadata"]
    secret = json.loads(k(version, "-n", ns, "get", "secret", "app-secret", "-o", "json").stdout)
    assert secret["data"] == {"DB_Host": "bXlzcWw="}
    d = json.loads(k(version, "-n", ns, "get", "deploy", "nginx", "-o", "json").stdout)
    assert d["spec"]["selector"] == {"matchLabels": {"app": "nginx"}}
    assert d["spec"]["template"]["spec"]["containers"][0]["name"] == "nginx"
    assert d["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    pod_spec = d["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "Always"
    svc = json.loads(k(version, "-n", ns, "get", "svc", "redis", "-o", "json").stdout)
    assert svc["spec"]["ports"] == [
        {"name": "6379-6379", "port": 6379, "protocol": "TCP", "targetPort": 6379}
    ]
    assert k(version, "auth", "can-i", "create", "pods").stdout.strip() == "yes"
    who = k(version, "auth", "whoami", "-o", "json").stdout
    assert json.loads(who)["status"]["userInfo"]["username"] == "kubernetes-admin"
    res = k(version, "create", "namespace", ns, check=False)
    assert f'namespaces "{ns}" already exists' in res.stderr


def test_describe_lists_events_by_field_selector(server: Server) -> None:
    k = server.kubectl
    k("1.33", "create", "-f", "-", "--validate=false", input=POD.format(name="desc", app="d"))
    uid = k("1.33", "get", "pod", "desc", "-o", "jsonpath={.metadata.uid}").stdout
    event = f"""
apiVersion: v1
kind: Event
metadata: {{name: desc.1}}
involvedObject: {{kind: Pod, name: desc, namespace: default, apiVersion: v1, uid: {uid}}}
reason: Pulled
message: Container image already present
type: Normal
source: {{component: kubelet}}
count: 1
"""
    k("1.33", "create", "-f", "-", "--validate=false", input=event)
    out = k("1.33", "describe", "pod", "desc").stdout
    events = out[out.index("Events:") :].splitlines()
    assert events[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert events[3].split()[:2] == ["Normal", "Pulled"]
    assert events[3].rstrip().endswith("kubelet  Container image already present")


def test_apply_set_image_and_patch_use_strategic_merge(server: Server) -> None:
    k = server.kubectl
    manifest = DEPLOYMENT.replace("name: web", "name: smp").replace(
        "containers: [{name: nginx, image: nginx}]",
        "containers: [{name: nginx, image: nginx}, {name: side, image: busybox}]",
    )
    k("1.33", "apply", "--validate=false", "-f", "-", input=manifest)
    k("1.33", "set", "image", "deploy/smp", "nginx=nginx:1.25")
    k(
        "1.33",
        "apply",
        "--validate=false",
        "-f",
        "-",
        input=manifest.replace("replicas: 2", "replicas: 4"),
    )
    d = json.loads(k("1.33", "get", "deploy", "smp", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 4
    images = {c["name"]: c["image"] for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {"nginx": "nginx", "side": "busybox"}  # apply restores its image
    only_nginx = manifest.replace(", {name: side, image: busybox}", "")
    k("1.33", "apply", "--validate=false", "-f", "-", input=only_nginx)
    k(
        "1.33",
        "patch",
        "deploy",
        "smp",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}',
    )
    d = json.loads(k("1.33", "get", "deploy", "smp", "-o", "json").stdout)
    containers = d["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:2")]


@pytest.mark.parametrize("version", VERSIONS)
def test_default_validation_uses_openapi_and_strict_fields(server: Server, version: str) -> None:
    k = server.kubectl
    ns = f"val-{version.replace('.', '-')}"
    k(version, "create", "namespace", ns)
    out = k(version, "-n", ns, "apply", "-f", "-", input=DEPLOYMENT).stdout
    assert out.strip() == "deployment.apps/web created"
    bad = DEPLOYMENT.replace("replicas: 2", "replicas: 2\n  foo: bar").replace("web", "bad")
    res = k(version, "-n", ns, "create", "-f", "-", input=bad, check=False)
    assert res.returncode == 1
    assert (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.foo"'
    ) in res.stderr
    res = k(version, "-n", ns, "create", "--validate=warn", "-f", "-", input=bad, check=False)
    assert res.returncode == 0, res.stderr
    assert 'Warning: unknown field "spec.foo"' in res.stderr
    explain = k(version, "explain", "deployment.spec.replicas").stdout
    assert "FIELD: replicas <integer>" in explain


@pytest.mark.parametrize("version", VERSIONS)
def test_certificate_signing_request_approval(server: Server, version: str) -> None:
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jane")]))
        .sign(key, hashes.SHA256())
    )
    pem = base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()
    name = f"jane-{version.replace('.', '-')}"
    manifest = f"""
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {{name: {name}}}
spec:
  request: {pem}
  signerName: kubernetes.io/kube-apiserver-client
  usages: [client auth]
  username: someone-else
"""
    k = server.kubectl
    k(version, "create", "-f", "-", input=manifest)
    got = json.loads(k(version, "get", "csr", name, "-o", "json").stdout)
    assert got["spec"]["username"] == "kubernetes-admin"  # the requester, not the body
    assert "system:masters" in got["spec"]["groups"]
    out = k(version, "get", "csr", name).stdout.splitlines()
    assert out[0].split()[-1] == "CONDITION" and out[1].split()[-1] == "Pending"
    approve = k(version, "certificate", "approve", name).stdout
    assert approve.strip() == f"certificatesigningrequest.certificates.k8s.io/{name} approved"
    got = json.loads(k(version, "get", "csr", name, "-o", "json").stdout)
    cond = got["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Approved", "True", "KubectlApprove")
    assert k(version, "get", "csr", name).stdout.splitlines()[1].split()[-1] == "Approved"


def test_edit_and_replace(server: Server, tmp_path: Path) -> None:
    k = server.kubectl
    manifest = DEPLOYMENT.replace("name: web", "name: edited")
    k("1.33", "create", "-f", "-", input=manifest)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 7/' \"$1\"\n")
    editor.chmod(0o755)
    binary = kubectl_binary("1.33")
    assert binary is not None
    res = subprocess.run(
        [binary, "--kubeconfig", str(server.kubeconfig), "--cache-dir",
         str(server.cache_dir / "1.33"), "edit", "deployment", "edited"],
        capture_output=True, text=True, timeout=30, check=False,
        env={"KUBE_EDITOR": str(editor), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "deployment.apps/edited edited"
    d = json.loads(k("1.33", "get", "deploy", "edited", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 7
    k("1.33", "replace", "-f", "-", input=manifest.replace("replicas: 2", "replicas: 1"))
    d = json.loads(k("1.33", "get", "deploy", "edited", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 1 and d["metadata"]["generation"] == 3


@pytest.mark.parametrize("version", VERSIONS)
def test_server_side_apply(server: Server, version: str) -> None:
    k = server.kubectl
    ns = f"ssa-{version.replace('.', '-')}"
    k(version, "create", "namespace", ns)
    out = k(version, "-n", ns, "apply", "--server-side", "-f", "-", input=DEPLOYMENT).stdout
    assert out.strip() == "deployment.apps/web serverside-applied"
    k(version, "-n", ns, "scale", "deployment", "web", "--replicas=5")
    changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3")
    res = k(version, "-n", ns, "apply", "--server-side", "-f", "-", input=changed, check=False)
    assert res.returncode == 1
    assert "Apply failed with 1 conflict" in res.stderr and ".spec.replicas" in res.stderr
    k(version, "-n", ns, "apply", "--server-side", "--force-conflicts", "-f", "-", input=changed)
    d = json.loads(
        k(version, "-n", ns, "get", "deploy", "web", "-o", "json", "--show-managed-fields").stdout
    )
    assert d["spec"]["replicas"] == 3
    applies = [m for m in d["metadata"]["managedFields"] if m["operation"] == "Apply"]
    assert [m["manager"] for m in applies] == ["kubectl"]


def test_kinds_without_patch_validate_through_openapi_v2(server: Server) -> None:
    from pyk8s.apiserver import protobuf

    if protobuf.Codec.load() is None:
        pytest.skip(f"protobuf descriptors not built ({protobuf.default_path()}): make protos")
    k = server.kubectl
    k("1.33", "create", "-f", "-", input=POD.format(name="tobind", app="b"))
    k("1.33", "create", "-f", "-", input="apiVersion: v1\nkind: Node\nmetadata: {name: n-bind}\n")
    bad = "apiVersion: v1\nkind: Binding\nmetadata: {name: tobind}\ntargt: {name: n-bind}\n"
    res = k("1.33", "create", "-f", "-", input=bad, check=False)
    assert res.returncode == 1
    assert 'unknown field "targt" in io.k8s.api.core.v1.Binding' in res.stderr
    good = "apiVersion: v1\nkind: Binding\nmetadata: {name: tobind}\ntarget: {name: n-bind}\n"
    k("1.33", "create", "-f", "-", input=good)
    pod = json.loads(k("1.33", "get", "pod", "tobind", "-o", "json").stdout)
    assert pod["spec"]["nodeName"] == "n-bind"
    out = k("1.33", "explain", "pods.spec.restartPolicy", "--output=plaintext-openapiv2").stdout
    assert "FIELD:    restartPolicy <string>" in out


EXPLAIN_PULL_POLICY = """\
KIND:       Pod
VERSION:    v1

FIELD: imagePullPolicy <string>
ENUM:
    Always
    IfNotPresent
    Never

DESCRIPTION:
    Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if
    :latest tag is specified, or IfNotPresent otherwise. Cannot be updated. More
    info: https://kubernetes.io/docs/concepts/containers/images#updating-images
    
    Possible enum values:
     - `"Always"` means that kubelet always attempts to pull the latest image.
    Container will fail If the pull fails.
     - `"IfNotPresent"` means that kubelet pulls if the image isn't present on
    disk. Container will fail if the image isn't present and the pull fails.
     - `"Never"` means that kubelet never pulls an image, but only uses a local
    image. Container will fail if the image isn't present
    

"""  # noqa: W293 (kubectl indents the empty lines of a description)


def test_explain_prints_enums(server: Server) -> None:
    from pyk8s.apiserver import openapi_enums

    if openapi_enums.load() is None:
        pytest.skip(f"OpenAPI enums not built ({openapi_enums.default_path()}): make protos")
    k = server.kubectl
    out = k("1.33", "explain", "pods.spec.containers.imagePullPolicy").stdout
    assert out == EXPLAIN_PULL_POLICY
    out = k("1.33", "explain", "pods.spec.restartPolicy").stdout
    assert "ENUM:\n    Always\n    Never\n    OnFailure\n" in out
    assert out.endswith('Possible enum values:\n     - `"Always"`\n     - `"Never"`\n'
                        '     - `"OnFailure"`\n    \n\n')  # fmt: skip
    out = k("1.33", "explain", "services.spec.type").stdout
    assert "ENUM:\n    ClusterIP\n    ExternalName\n    LoadBalancer\n    NodePort\n" in out
    out = k("1.33", "explain", "deployments.spec.strategy", "--recursive").stdout
    assert "  type\t<string>\n  enum: Recreate, RollingUpdate\n" in out
    v2 = k("1.33", "explain", "svc.spec.type", "--output=plaintext-openapiv2").stdout
    assert "Possible enum values:" in v2


CREATED_FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:progressDeadlineSeconds": {},
        "f:replicas": {},
        "f:revisionHistoryLimit": {},
        "f:selector": {},
        "f:strategy": {
            "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
            "f:type": {},
        },
        "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"nginx"}': {
                        ".": {},
                        "f:image": {},
                        "f:imagePullPolicy": {},
                        "f:name": {},
                        "f:resources": {},
                        "f:terminationMessagePath": {},
                        "f:terminationMessagePolicy": {},
                    }
                },
                "f:dnsPolicy": {},
                "f:restartPolicy": {},
                "f:schedulerName": {},
                "f:securityContext": {},
                "f:terminationGracePeriodSeconds": {},
            },
        },
    },
}


def test_create_deployment_managed_fields_as_upstream(server: Server) -> None:
    """The FieldsV1 a real cluster records for ``kubectl create deployment``: maps, lists
    and pointer structs added are nodes (``.``), Go's plain structs are not."""
    from pyk8s.apiserver import openapi_enums

    if openapi_enums.load_zero_fields() is None:
        pytest.skip(f"Go zero-value facts not built ({openapi_enums.default_path()}): make protos")
    k = server.kubectl
    k("1.33", "create", "namespace", "mf")
    k("1.33", "-n", "mf", "create", "deployment", "nginx", "--image=nginx")
    d = json.loads(
        k(
            "1.33", "-n", "mf", "get", "deploy", "nginx", "-o", "json", "--show-managed-fields"
        ).stdout
    )
    entry = next(m for m in d["metadata"]["managedFields"] if m["manager"] == "kubectl-create")
    assert entry["operation"] == "Update"
    assert entry["fieldsV1"] == CREATED_FIELDS
    assert "enableServiceLinks" not in d["spec"]["template"]["spec"]  # Pods only


@pytest.mark.parametrize("version", VERSIONS)
def test_endpoints_are_deprecated_as_in_1_33(server: Server, version: str) -> None:
    """1.33 answers every request on v1 Endpoints with a deprecation warning, which kubectl
    prints before the output (and before an error)."""
    warning = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
    res = server.kubectl(version, "get", "endpoints", "kubernetes")
    assert warning in res.stderr and "kubernetes" in res.stdout
    res = server.kubectl(version, "get", "endpoints", "nope", check=False)
    assert res.returncode == 1
    assert warning in res.stderr
    assert 'Error from server (NotFound): endpoints "nope" not found' in res.stderr
    res = server.kubectl(version, "get", "endpointslices")
    assert "Warning" not in res.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_columns_of_claims_jobs_quotas_priorityclasses(server: Server, version: str) -> None:
    """What ``kubectl get`` shows for kinds whose 1.33 columns or server defaults were
    missed before: PVC STATUS Pending, a Job's generated SELECTOR, ResourceQuota AGE last,
    PriorityClass PREEMPTIONPOLICY without ``-o wide``."""
    ns = f"cols{version.replace('.', '')}"
    server.kubectl(version, "create", "namespace", ns)
    claim = (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
    )
    server.kubectl(version, "-n", ns, "create", "-f", "-", "--validate=false", input=claim)
    rows = server.kubectl(version, "-n", ns, "get", "pvc", "data").stdout.splitlines()
    assert rows[1].split()[:2] == ["data", "Pending"]
    server.kubectl(version, "-n", ns, "create", "job", "j", "--image=busybox")
    uid = server.kubectl(version, "-n", ns, "get", "job", "j", "-o", "jsonpath={.metadata.uid}")
    rows = server.kubectl(version, "-n", ns, "get", "job", "j", "-o", "wide").stdout.splitlines()
    assert rows[0].split()[-1] == "SELECTOR"
    assert rows[1].split()[-1] == f"batch.kubernetes.io/controller-uid={uid.stdout}"
    server.kubectl(version, "-n", ns, "create", "quota", "q", "--hard=pods=3,limits.cpu=2")
    rows = server.kubectl(version, "-n", ns, "get", "quota", "q").stdout.splitlines()
    assert rows[0].split() == ["NAME", "REQUEST", "LIMIT", "AGE"]
    rows = server.kubectl(version, "get", "priorityclass", "system-node-critical").stdout
    header, row = rows.splitlines()
    assert header.split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert row.split()[-1] == "PreemptLowerPriority"


@pytest.mark.parametrize("version", VERSIONS)
def test_get_subresource_scale(server: Server, version: str) -> None:
    name = f"scaled{version.replace('.', '')}"
    server.kubectl(version, "create", "deployment", name, "--image=nginx", "--replicas=2")
    out = server.kubectl(version, "get", "deployment", name, "--subresource=scale").stdout
    header, row = out.splitlines()
    assert header.split() == ["NAME", "DESIRED", "AVAILABLE", "AGE"]
    assert row.split()[:3] == [name, "2", "0"]

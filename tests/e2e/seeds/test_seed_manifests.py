"""Every manifest in the user notes (``shared/seeds``), sent by the real kubectl 1.33 to a real
``pyk8s server``.

Each manifest goes through ``kubectl create --dry-run=server`` (so same-named objects from
different chapters do not collide); Namespace manifests are created for real, as the notes do,
before the manifests that use them. Valid manifests must be accepted; the broken or outdated ones
must fail with the error a real 1.33 cluster gives (``EXPECTED_ERRORS``, one reason per entry).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import pytest

from tests.e2e.apiserver.conftest import Server
from tests.e2e.seeds.notes import Manifest, manifests, seeds_dir

SEEDS = seeds_dir()
MANIFESTS: list[Manifest] = manifests(SEEDS) if SEEDS is not None else []
NAMESPACE = "seeds"


def _gone(name: str, ns: str, kind: str, version: str) -> str:
    # kubectl's RESTMapper finds no such kind in discovery (client-side, before any request)
    return (
        f'resource mapping not found for name: "{name}" namespace: "{ns}" from "STDIN": '
        f'no matches for kind "{kind}" in version "{version}"'
    )


def _strict(kind: str, field: str) -> str:
    # kubectl 1.33 sends fieldValidation=Strict; the server's strict decoding rejects the field
    return (
        f'{kind} in version "v1" cannot be handled as a {kind}: '
        f'strict decoding error: unknown field "{field}"'
    )


# Manifest id ("<file prefix>:<line of the opening fence>") -> substrings of kubectl 1.33's stderr
# against a real 1.33 server. Every manifest not listed here must be accepted.
EXPECTED_ERRORS: dict[str, list[str]] = {
    # template indented one level too deep: "spec" lands inside template.metadata
    "000:701": [_strict("Deployment", "spec.template.metadata.spec")],
    # typo in the kind
    "000:827": [_gone("compute-quota", "dev", "ResurceQuota", "v1")],
    # containers written as a map, not a list: a JSON type error from the server's decoder
    "000:1177": [
        'ReplicaSet in version "v1" cannot be handled as a ReplicaSet: json: cannot unmarshal '
        "object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"
    ],
    # annotations must be strings; kubectl's own decoding of metadata fails
    "000:1219": [
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations "
        "of type string"
    ],
    # KubeletConfiguration is a config file (and misspelt), not an API object
    "000:3185": [_gone("", "", "kubeletConfiguration", "kubelet.config.k8s.io/v1beta1")],
    # certificates.k8s.io/v1beta1 was removed in 1.22
    "000:3312": [_gone("jane", "", "CertificateSigningRequest", "certificates.k8s.io/v1beta1")],
    # kubeconfig files, not API objects
    "000:3397": [_gone("", "", "Config", "v1")],
    "000:3440": [_gone("", "", "Config", "v1")],
    "004:3710": [_gone("", "", "Config", "v1")],
    # extensions/v1beta1 Deployments, DaemonSets (removed in 1.16) and Ingresses (1.22)
    "000:5367": [_gone("nginx-ingress-controller", "", "Deployment", "extensions/v1beta1")],
    "000:5474": [_gone("ingress-wear", "", "Ingress", "extensions/v1beta1")],
    "000:5505": [_gone("ingress-wear-watch", "", "Ingress", "extensions/v1beta1")],
    "000:5543": [_gone("ingress-wear-watch", "", "Ingress", "extensions/v1beta1")],
    "000:5589": [_gone("test-ingress", "critical-space", "Ingress", "extensions/v1beta1")],
    "000:5610": [_gone("rewrite", "default", "Ingress", "extensions/v1beta1")],
    "001:1192": [_gone("helloworld-rules", "", "Ingress", "extensions/v1beta1")],
    "001:1324": [_gone("monitoring-agent", "", "DaemonSet", "extensions/v1beta1")],
    "001:1373": [_gone("hpa-example", "", "Deployment", "extensions/v1beta1")],
    # Deployments were never in the core group
    "001:871": [_gone("helloworld-deployment", "", "Deployment", "v1")],
    # "v1beta" is no version at all
    "001:1243": [_gone("standard", "", "StorageClass", "storage.k8s.io/v1beta")],
    # ports belong to a container, not to the pod spec
    "001:738": [_strict("Pod", "spec.ports")],
    # "type" at the top level instead of under spec
    "001:781": [_strict("Service", "type")],
    # "port" instead of "ports" in a container
    "001:819": [_strict("ReplicationController", "spec.template.spec.containers[0].port")],
    # spec indented under metadata
    "001:1256": [_strict("PersistentVolumeClaim", "metadata.spec")],
    # an "env" label written straight under metadata
    "004:809": [_strict("Namespace", "metadata.env")],
    # annotations at the top level instead of under metadata
    "004:2567": [_strict("StorageClass", "annotations")],
    # volumes under the StatefulSet spec instead of the pod template's spec
    "004:3582": [_strict("StatefulSet", "spec.volumes")],
    # fragments: an Ingress with no spec and a Deployment with no spec
    "004:280": [
        'Ingress.networking.k8s.io "my-ingress" is invalid: spec: Invalid value: null: '
        "either `defaultBackend` or `rules` must be specified",
        'Deployment.apps "my-deployment" is invalid: [spec.selector: Required value, '
        "spec.template.metadata.labels: Invalid value: null: `selector` does not match "
        "template `labels`, spec.template.spec.containers: Required value]",
    ],
    # a Service fragment with neither ports nor type ExternalName
    "004:1514": ['The Service "valid-dns-name-goes-here" is invalid: spec.ports: Required value'],
    # networking.k8s.io/v1 requires pathType on every path
    "004:2134": [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
        "spec.rules[1].http.paths[0].pathType: Required value: pathType must be specified",
    ],
    # the headless Service is fine; the StatefulSet fragment has no selector or template
    # (upstream does not validate a StatefulSet's pod spec, so no containers error)
    "004:3491": [
        "service/mongo-prod created (server dry run)",
        # kubectl prints a lone error as a bulleted list
        'The StatefulSet "sts-mongo" is invalid: \n* spec.selector: Required value\n'
        "* spec.template.metadata.labels: Invalid value: null: `selector` does not match "
        "template `labels`\n",
    ],
}

# Where pyk8s still differs from a real 1.33 server (tests marked xfail, strict).
KNOWN_GAPS: dict[str, str] = {}

# Manifest id -> manifests created for real first (in a namespace of its own), as the notes do
# just before it.
PREREQUISITES: dict[str, list[str]] = {
    "000:1117": ["000:1081"],  # Binding of pod "nginx": the notes create that pod just before
}


@dataclass
class Created:
    returncode: int
    stdout: str
    stderr: str


def _namespace_of(m: Manifest) -> str | None:
    for d in m.docs:
        meta = d.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("namespace"), str):
            return str(meta["namespace"])
    return None


def _only_namespaces(m: Manifest) -> bool:
    return all(d.get("kind") == "Namespace" for d in m.docs)


def _params() -> list[object]:
    out: list[object] = []
    for m in MANIFESTS:
        marks = []
        if m.id in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[m.id], strict=True))
        out.append(pytest.param(m, id=m.id, marks=marks))
    return out


def test_seed_notes_are_present() -> None:
    if SEEDS is None:
        msg = "shared/seeds is not beside the repository (set PYK8S_SEEDS_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    assert len(MANIFESTS) > 50, f"only {len(MANIFESTS)} manifests found in {SEEDS}"


def _kubectl(cluster: Server, *args: str, text: str | None = None) -> Created:
    res: subprocess.CompletedProcess[str] = cluster.kubectl("1.33", *args, input=text, check=False)
    return Created(res.returncode, res.stdout, res.stderr)


@pytest.fixture(scope="module")
def created(cluster: Server) -> dict[str, Created]:
    """Namespace manifests created for real (by manifest id), the other namespaces the notes use,
    and the ``PREREQUISITES``."""
    out: dict[str, Created] = {}
    for m in MANIFESTS:
        if _only_namespaces(m):
            out[m.id] = _kubectl(cluster, "create", "-f", "-", text=m.text)
    have = set(_kubectl(cluster, "get", "namespaces", "-o", "name").stdout.split())
    wanted = {NAMESPACE} | {ns for m in MANIFESTS if (ns := _namespace_of(m))}
    wanted |= {f"{NAMESPACE}-{i}" for i in range(len(PREREQUISITES))}
    for ns in sorted(wanted - {h.removeprefix("namespace/") for h in have}):
        cluster.kubectl("1.33", "create", "namespace", ns)
    by_id = {m.id: m for m in MANIFESTS}
    for i, (_, needed) in enumerate(sorted(PREREQUISITES.items())):
        for p in needed:
            cluster.kubectl(
                "1.33", "create", "-n", f"{NAMESPACE}-{i}", "-f", "-", input=by_id[p].text
            )
    return out


@pytest.mark.parametrize("manifest", _params())
def test_manifest(cluster: Server, created: dict[str, Created], manifest: Manifest) -> None:
    if manifest.id in created:
        res = created[manifest.id]
    else:
        ns = NAMESPACE
        if manifest.id in PREREQUISITES:
            ns = f"{NAMESPACE}-{sorted(PREREQUISITES).index(manifest.id)}"
        args = ["create", "--dry-run=server", "-f", "-"]
        if _namespace_of(manifest) is None:
            args += ["-n", ns]
        res = _kubectl(cluster, *args, text=manifest.text)
    expected = EXPECTED_ERRORS.get(manifest.id)
    if expected is None:
        assert res.returncode == 0, f"{manifest.id} rejected:\n{res.stderr}"
        assert res.stdout.count(" created") == len(manifest.docs), res.stdout
    else:
        assert res.returncode != 0, f"{manifest.id} accepted, expected {expected}"
        for text in expected:
            assert text in res.stderr + res.stdout, f"{manifest.id}: {text!r} not in\n{res.stderr}"


def test_autoscaling_v1_reads_back_as_both_versions(cluster: Server) -> None:
    # the notes' autoscaling/v1 HPA (001:1396), created for real: v2 is what is stored
    (hpa,) = [m for m in MANIFESTS if m.docs[0].get("kind") == "HorizontalPodAutoscaler"]
    cluster.kubectl("1.33", "create", "namespace", "seeds-hpa")
    cluster.kubectl("1.33", "-n", "seeds-hpa", "create", "-f", "-", input=hpa.text)
    name = hpa.docs[0]["metadata"]["name"]

    def get(version: str, path: str) -> str:
        resource = f"horizontalpodautoscalers.{version}.autoscaling"
        return cluster.kubectl(
            "1.33", "-n", "seeds-hpa", "get", resource, name, "-o", f"jsonpath={path}"
        ).stdout

    assert get("v1", "{.spec.targetCPUUtilizationPercentage}") == "50"
    assert get("v2", "{.spec.metrics[0].resource.target.averageUtilization}") == "50"
    assert get("v2", "{.spec.minReplicas}/{.spec.maxReplicas}") == "1/10"
    assert get("v1", "{.apiVersion}") == "autoscaling/v1"
    table = cluster.kubectl("1.33", "-n", "seeds-hpa", "get", "hpa", name).stdout
    assert "cpu: <unknown>/50%" in table, table


def test_storageclasses_read_back_defaulted(cluster: Server) -> None:
    # the notes' three StorageClasses (004:2326); only the last sets policy and binding mode
    (scs,) = [m for m in MANIFESTS if m.id == "004:2326"]
    out = cluster.kubectl(
        "1.33", "create", "--dry-run=server", "-f", "-", "-o",
        "jsonpath={.reclaimPolicy}/{.volumeBindingMode} ",
        input=scs.text,
    ).stdout  # fmt: skip
    assert out.split() == ["Delete/Immediate", "Delete/Immediate", "Delete/WaitForFirstConsumer"]

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import defaults


def test_pod_defaults() -> None:
    pod: dict[str, Any] = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}],
                    "readinessProbe": {"httpGet": {"port": 80}},
                },
                {"name": "b", "image": "busybox"},
            ],
            "volumes": [{"name": "v", "configMap": {"name": "c"}}],
        }
    }
    defaults.apply("", "Pod", pod)
    spec = pod["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
    )
    assert spec["terminationGracePeriodSeconds"] == 30
    a, b = spec["containers"]
    assert a["imagePullPolicy"] == "IfNotPresent" and b["imagePullPolicy"] == "Always"
    assert a["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert a["readinessProbe"] == {
        "httpGet": {"port": 80, "scheme": "HTTP", "path": "/"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert a["terminationMessagePolicy"] == "File"
    assert spec["volumes"][0]["configMap"]["defaultMode"] == 420


def test_explicit_values_win() -> None:
    d: dict[str, Any] = {"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}}
    defaults.apply("apps", "Deployment", d)
    assert d["spec"]["replicas"] == 0
    assert d["spec"]["strategy"] == {"type": "Recreate"}
    assert d["spec"]["revisionHistoryLimit"] == 10


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ({}, (1, 1, 6)),
        ({"completions": 5}, (5, 1, 6)),
        ({"parallelism": 3}, (None, 3, 6)),
        (
            {"backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 2},
            (2, 1, 2147483647),
        ),
    ],
)
def test_job_defaults(spec: dict[str, Any], want: tuple[Any, ...]) -> None:
    job: dict[str, Any] = {"spec": dict(spec)}
    defaults.apply("batch", "Job", job)
    got = (job["spec"].get("completions"), job["spec"]["parallelism"], job["spec"]["backoffLimit"])
    assert got == want


def test_unknown_kinds_are_untouched() -> None:
    obj = {"spec": {}}
    defaults.apply("example.com", "Widget", obj)
    assert obj == {"spec": {}}


def test_secret_string_data_is_merged_into_data() -> None:
    secret: dict[str, Any] = {
        "kind": "Secret",
        "data": {"k1": "djE=", "k2": ""},
        "stringData": {"k2": "v2", "k3": "é"},
    }
    defaults.apply("", "Secret", secret)
    assert secret["data"] == {"k1": "djE=", "k2": "djI=", "k3": "w6k="}
    assert "stringData" not in secret
    assert secret["type"] == "Opaque"
    only_string: dict[str, Any] = {"stringData": {"a": "b"}}
    defaults.apply("", "Secret", only_string)
    assert only_string == {"data": {"a": "Yg=="}, "type": "Opaque"}


def test_volume_without_source_is_empty_dir() -> None:
    deploy: dict[str, Any] = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "image": "i"}],
                    "volumes": [{"name": "bare"}, {"name": "cm", "configMap": {"name": "x"}}],
                }
            }
        }
    }
    defaults.apply("apps", "Deployment", deploy)
    bare, cm = deploy["spec"]["template"]["spec"]["volumes"]
    assert bare == {"name": "bare", "emptyDir": {}}
    assert "emptyDir" not in cm and cm["configMap"]["defaultMode"] == 0o644


def test_replication_controller_takes_template_labels() -> None:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}
    rc: dict[str, Any] = {"metadata": {"name": "rc"}, "spec": {"template": template}}
    defaults.apply("", "ReplicationController", rc)
    assert rc["metadata"]["labels"] == {"app": "a"} == rc["spec"]["selector"]
    own: dict[str, Any] = {"metadata": {"labels": {"x": "y"}}, "spec": {"template": template}}
    defaults.apply("", "ReplicationController", own)
    assert own["metadata"]["labels"] == {"x": "y"}


def test_storageclass_defaults() -> None:
    sc: dict[str, Any] = {"provisioner": "ebs.csi.aws.com"}
    defaults.apply("storage.k8s.io", "StorageClass", sc)
    assert sc["reclaimPolicy"] == "Delete"
    assert sc["volumeBindingMode"] == "Immediate"
    kept: dict[str, Any] = {"reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}
    defaults.apply("storage.k8s.io", "StorageClass", kept)
    assert kept == {"reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}


def test_host_network_pod_ports_default_to_container_port() -> None:
    pod: dict[str, Any] = {
        "spec": {
            "hostNetwork": True,
            "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}],
        }
    }
    defaults.pod(pod)
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 80
    template: dict[str, Any] = {"template": {"spec": {**pod["spec"]}}}
    template["template"]["spec"]["containers"] = [
        {"name": "a", "image": "x", "ports": [{"containerPort": 81}]}
    ]
    defaults.pod_template(template)
    assert "hostPort" not in template["template"]["spec"]["containers"][0]["ports"][0]


def test_hpa_v2_defaults_cpu_target_and_behavior_rules() -> None:
    hpa: dict[str, Any] = {"spec": {"maxReplicas": 3}}
    defaults.apply("autoscaling", "HorizontalPodAutoscaler", hpa)
    assert hpa["spec"]["minReplicas"] == 1
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 80},
    }
    assert "behavior" not in hpa["spec"]
    hpa = {
        "spec": {"minReplicas": 2, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}
    }
    defaults.apply("autoscaling", "HorizontalPodAutoscaler", hpa)
    behavior = hpa["spec"]["behavior"]
    assert hpa["spec"]["minReplicas"] == 2
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert behavior["scaleDown"]["policies"] == [
        {"type": "Percent", "value": 100, "periodSeconds": 15}
    ]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert [p["type"] for p in behavior["scaleUp"]["policies"]] == ["Pods", "Percent"]


def test_claim_phases_default_to_pending() -> None:
    """SetDefaults_PersistentVolume(Claim): an empty phase is Pending, also in a StatefulSet's
    claim templates (its generated defaulter runs the claim's defaults on each)."""
    claim: dict[str, Any] = {"spec": {}, "status": {}}
    defaults.apply("", "PersistentVolumeClaim", claim)
    assert claim["status"] == {"phase": "Pending"}
    volume: dict[str, Any] = {"spec": {}, "status": {"phase": ""}}
    defaults.apply("", "PersistentVolume", volume)
    assert volume["status"] == {"phase": "Pending"}
    bound: dict[str, Any] = {"spec": {}, "status": {"phase": "Bound"}}
    defaults.apply("", "PersistentVolumeClaim", bound)
    assert bound["status"]["phase"] == "Bound"
    sts: dict[str, Any] = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}],
        }
    }
    defaults.apply("apps", "StatefulSet", sts)
    claim_template = sts["spec"]["volumeClaimTemplates"][0]
    assert claim_template["spec"]["volumeMode"] == "Filesystem"
    assert claim_template["status"] == {"phase": "Pending"}


def test_network_policy_limit_range_node_and_ingress_class_defaults() -> None:
    np: dict[str, Any] = {"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}
    defaults.apply("networking.k8s.io", "NetworkPolicy", np)
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert np["spec"]["egress"][0]["ports"] == [{"port": 53, "protocol": "TCP"}]
    only_in: dict[str, Any] = {"spec": {"podSelector": {}, "ingress": [{}]}}
    defaults.apply("networking.k8s.io", "NetworkPolicy", only_in)
    assert only_in["spec"]["policyTypes"] == ["Ingress"]
    lr: dict[str, Any] = {"spec": {"limits": [
        {"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "1Mi"}},
        {"type": "Pod", "max": {"cpu": "2"}},
    ]}}  # fmt: skip
    defaults.apply("", "LimitRange", lr)
    container, pod = lr["spec"]["limits"]
    assert container["default"] == {"cpu": "1"}
    assert container["defaultRequest"] == {"cpu": "1", "memory": "1Mi"}
    assert pod == {"type": "Pod", "max": {"cpu": "2"}}
    node: dict[str, Any] = {"status": {"capacity": {"cpu": "2"}}}
    defaults.apply("", "Node", node)
    assert node["status"]["allocatable"] == {"cpu": "2"}
    ic: dict[str, Any] = {"spec": {"parameters": {"kind": "K", "name": "n"}}}
    defaults.apply("networking.k8s.io", "IngressClass", ic)
    assert ic["spec"]["parameters"]["scope"] == "Cluster"

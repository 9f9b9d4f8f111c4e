# ruff: noqa: E501
"""Table tests of semantic validation for RBAC, storage, policy, autoscaling, quota,
networking, coordination and CronJob schedules: upstream's field paths and messages."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import validation

RBAC = "rbac.authorization.k8s.io"
RULE = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
REF = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}


def pv(**spec: Any) -> dict[str, Any]:
    base = {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
            "hostPath": {"path": "/tmp/x"}}  # fmt: skip
    base.update(spec)
    return {"spec": {k: v for k, v in base.items() if v is not None}}


def pvc(**spec: Any) -> dict[str, Any]:
    base = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    base.update(spec)
    return {"spec": {k: v for k, v in base.items() if v is not None}}


CASES = [
    # RBAC
    ("Role", RBAC, {"rules": [RULE]}, []),
    ("Role", RBAC, {"rules": [{**RULE, "verbs": []}]},
     ["rules[0].verbs: Required value: verbs must contain at least one value"]),
    ("Role", RBAC, {"rules": [{"verbs": ["get"]}]},
     ["rules[0].apiGroups: Required value: resource rules must supply at least one api group",
      "rules[0].resources: Required value: resource rules must supply at least one resource"]),
    ("Role", RBAC, {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]},
     ['rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot '
      "apply to non-resource URLs"]),
    ("ClusterRole", RBAC, {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}, []),
    ("RoleBinding", RBAC, {"roleRef": REF, "subjects": [
        {"kind": "User", "name": "alice", "apiGroup": RBAC},
        {"kind": "ServiceAccount", "name": "default", "namespace": "x"}]}, []),
    ("RoleBinding", RBAC, {"roleRef": {**REF, "kind": "Pod"}, "subjects": [{"kind": "Robot", "name": "r"}]},
     ['roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"',
      'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", '
      '"User", "Group"']),
    ("ClusterRoleBinding", RBAC, {"roleRef": {**REF, "kind": "Role"},
                                  "subjects": [{"kind": "ServiceAccount", "name": "sa"}]},
     ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
      "subjects[0].namespace: Required value"]),
    ("RoleBinding", RBAC, {"roleRef": {**REF, "name": ""}}, ["roleRef.name: Required value"]),
    # PersistentVolume, PersistentVolumeClaim
    ("PersistentVolume", "", pv(), []),
    ("PersistentVolume", "", pv(accessModes=None, capacity=None, hostPath=None),
     ["spec.accessModes: Required value", "spec.capacity: Required value",
      'spec.capacity: Unsupported value: map[]: supported values: "storage"',
      "spec: Required value: must specify a volume type"]),
    ("PersistentVolume", "", pv(accessModes=["ReadWriteSome"], capacity={"storage": "0"}),
     ['spec.accessModes: Unsupported value: "ReadWriteSome": supported values: "ReadOnlyMany", '
      '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
      "spec.capacity[storage]: Invalid value: 0: must be greater than zero"]),
    ("PersistentVolumeClaim", "", pvc(), []),
    ("PersistentVolumeClaim", "", pvc(accessModes=[], resources={}),
     ["spec.accessModes: Required value: at least 1 access mode is required",
      "spec.resources[storage]: Required value"]),
    # StorageClass
    ("StorageClass", "storage.k8s.io", {"provisioner": "x.io/p", "reclaimPolicy": "Keep"},
     ['reclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Retain"']),
    ("StorageClass", "storage.k8s.io", {}, ["provisioner: Required value"]),
    # NetworkPolicy
    ("NetworkPolicy", "networking.k8s.io", {"spec": {"podSelector": {}, "ingress": [
        {"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}],
         "ports": [{"port": 80, "endPort": 90}]}]}}, []),
    ("NetworkPolicy", "networking.k8s.io", {"spec": {"podSelector": {}, "policyTypes": ["Sideways"],
        "egress": [{"to": [{}], "ports": [{"protocol": "ICMP", "port": 0}]}]}},
     ['spec.egress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", '
      '"TCP", "UDP"',
      "spec.egress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
      "spec.egress[0].to[0]: Required value: must specify a peer",
      'spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Egress", '
      '"Ingress"']),
    ("NetworkPolicy", "networking.k8s.io", {"spec": {"ingress": [{"from": [
        {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}}]}]}},
     ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a '
      "strict subset of `cidr`"]),
    # ResourceQuota, LimitRange
    ("ResourceQuota", "", {"spec": {"hard": {"pods": "10", "requests.cpu": "2"}}}, []),
    ("ResourceQuota", "", {"spec": {"hard": {"pods": "1.5", "cpu": "-1", "gpus": "1"}}},
     ["spec.hard[pods]: Invalid value: 1.5: must be an integer",
      "spec.hard[cpu]: Invalid value: -1: must be greater than or equal to 0",
      'spec.hard[gpus]: Invalid value: "gpus": must be a standard resource for quota']),
    ("LimitRange", "", {"spec": {"limits": [{"type": "Container", "min": {"cpu": "2"},
                                             "max": {"cpu": "1"}}]}},
     ["spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1"]),
    ("LimitRange", "", {"spec": {"limits": [{"type": "Pod", "default": {"cpu": "1"}}]}},
     ["spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"]),
    # PodDisruptionBudget
    ("PodDisruptionBudget", "policy", {"spec": {"minAvailable": "50%"}}, []),
    ("PodDisruptionBudget", "policy", {"spec": {"maxUnavailable": "120%"}},
     ["spec.maxUnavailable: Invalid value: 120%: must not be greater than 100%"]),
    ("PodDisruptionBudget", "policy", {"spec": {"minAvailable": -1}},
     ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]),
    # HorizontalPodAutoscaler (autoscaling/v2)
    ("HorizontalPodAutoscaler", "autoscaling", {"spec": {"minReplicas": 1, "maxReplicas": 3,
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}}}, []),
    ("HorizontalPodAutoscaler", "autoscaling", {"spec": {"minReplicas": 5, "maxReplicas": 3,
        "scaleTargetRef": {"name": "web"}}},
     ["spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`",
      "spec.scaleTargetRef.kind: Required value"]),
    ("HorizontalPodAutoscaler", "autoscaling", {"spec": {"minReplicas": 0, "maxReplicas": 0,
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}}},
     ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
      "spec.maxReplicas: Invalid value: 0: must be greater than 0"]),
    # Lease
    ("Lease", "coordination.k8s.io", {"spec": {"leaseDurationSeconds": 0}},
     ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]),
    # CronJob schedules
    ("CronJob", "batch", {"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}}, []),
    ("CronJob", "batch", {"spec": {"schedule": "every day", "jobTemplate": {"spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}},
     ['spec.schedule: Invalid value: "every day": expected exactly 5 fields, found 2: [every day]']),
    ("CronJob", "batch", {"spec": {"schedule": "0 0 * * 7", "jobTemplate": {"spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}},
     ['spec.schedule: Invalid value: "0 0 * * 7": end of range (7) above maximum (6): 7']),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "group", "obj", "want"),
    [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(CASES)],
)
def test_validate(kind: str, group: str, obj: dict[str, Any], want: list[str]) -> None:
    assert [e.full() for e in validation.validate(group, kind, obj)] == want


def test_role_ref_is_immutable() -> None:
    old = {"roleRef": REF}
    new = {"roleRef": {**REF, "name": "edit"}}
    errs = validation.validate_update(RBAC, "RoleBinding", new, old)
    assert [e.full() for e in errs] == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
        'Kind:"ClusterRole", Name:"edit"}: cannot change roleRef'
    ]


def test_bound_claim_may_only_grow() -> None:
    old = {**pvc(), "status": {"phase": "Bound"}}
    bigger = {**pvc(resources={"requests": {"storage": "2Gi"}}), "status": {"phase": "Bound"}}
    assert validation.validate_update("", "PersistentVolumeClaim", bigger, old) == []
    smaller = {**pvc(resources={"requests": {"storage": "500Mi"}}), "status": {"phase": "Bound"}}
    assert [
        e.full() for e in validation.validate_update("", "PersistentVolumeClaim", smaller, old)
    ] == ["spec.resources.requests.storage: Forbidden: field can not be less than previous value"]
    changed = {**pvc(accessModes=["ReadWriteMany"]), "status": {"phase": "Bound"}}
    errs = validation.validate_update("", "PersistentVolumeClaim", changed, old)
    assert [e.field for e in errs] == ["spec"]
    assert "spec is immutable after creation except resources.requests" in errs[0].full()
    unbound_resize = pvc(resources={"requests": {"storage": "2Gi"}})
    assert [
        e.field
        for e in validation.validate_update("", "PersistentVolumeClaim", unbound_resize, pvc())
    ] == ["spec"]


def test_storage_class_update() -> None:
    old = {"provisioner": "a.io/p", "parameters": {"x": "1"}, "reclaimPolicy": "Delete"}
    new = {"provisioner": "b.io/p", "parameters": {"x": "2"}, "reclaimPolicy": "Delete"}
    assert [
        e.full() for e in validation.validate_update("storage.k8s.io", "StorageClass", new, old)
    ] == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
    ]


def test_bootstrap_rbac_policy_is_valid() -> None:
    from pyk8s.api import defaults
    from pyk8s.apiserver.rbac import policy

    objs = [*policy.cluster_roles(), *policy.cluster_role_bindings(), *policy.namespace_roles(),
            *policy.namespace_role_bindings()]  # fmt: skip
    assert objs
    for obj in objs:
        defaults.apply(RBAC, obj["kind"], obj)
        assert validation.validate(RBAC, obj["kind"], obj) == [], obj["metadata"]["name"]

"""Semantic validation per kind: ``validate(group, kind, obj)`` and ``validate_update``.

One module per API group (``pkg/apis/<group>/validation``); this table says which
functions apply to which kind. Kinds without an entry get metadata validation only
(done by the strategy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyk8s.api.errors import FieldError
from pyk8s.api.validation import (
    apps,
    autoscaling,
    certificates,
    coordination,
    core,
    ingress,
    networking,
    persistentvolume,
    policy,
    rbac,
    resourcequota,
    storage,
)

Obj = dict[str, Any]

_CREATE: dict[tuple[str, str], Callable[[Obj], list[FieldError]]] = {
    ("", "Pod"): core.pod,
    ("", "ConfigMap"): core.configmap,
    ("", "Secret"): core.secret,
    ("apps", "Deployment"): apps.deployment,
    ("apps", "ReplicaSet"): apps.workload,
    ("apps", "StatefulSet"): apps.workload,
    ("apps", "DaemonSet"): apps.daemonset,
    ("batch", "Job"): apps.job,
    ("batch", "CronJob"): apps.cronjob,
    ("networking.k8s.io", "Ingress"): ingress.ingress,
    ("networking.k8s.io", "IngressClass"): ingress.ingress_class,
    ("networking.k8s.io", "NetworkPolicy"): networking.network_policy,
    ("rbac.authorization.k8s.io", "Role"): rbac.role,
    ("rbac.authorization.k8s.io", "ClusterRole"): rbac.cluster_role,
    ("rbac.authorization.k8s.io", "RoleBinding"): rbac.role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): rbac.cluster_role_binding,
    ("", "PersistentVolume"): persistentvolume.persistent_volume,
    ("", "PersistentVolumeClaim"): persistentvolume.persistent_volume_claim,
    ("", "ResourceQuota"): resourcequota.resource_quota,
    ("", "LimitRange"): resourcequota.limit_range,
    ("storage.k8s.io", "StorageClass"): storage.storage_class,
    ("policy", "PodDisruptionBudget"): policy.pod_disruption_budget,
    ("autoscaling", "HorizontalPodAutoscaler"): autoscaling.horizontal_pod_autoscaler,
    ("coordination.k8s.io", "Lease"): coordination.lease,
    ("certificates.k8s.io", "CertificateSigningRequest"): certificates.certificate_signing_request,
}

_UPDATE: dict[tuple[str, str], Callable[[Obj, Obj], list[FieldError]]] = {
    ("", "Pod"): core.pod_update,
    ("apps", "Deployment"): apps.selector_immutable,
    ("apps", "ReplicaSet"): apps.selector_immutable,
    ("apps", "StatefulSet"): apps.selector_immutable,
    ("apps", "DaemonSet"): apps.selector_immutable,
    ("batch", "Job"): apps.job_update,
    ("rbac.authorization.k8s.io", "RoleBinding"): rbac.binding_update,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): rbac.binding_update,
    ("", "PersistentVolume"): persistentvolume.persistent_volume_update,
    ("", "PersistentVolumeClaim"): persistentvolume.persistent_volume_claim_update,
    ("storage.k8s.io", "StorageClass"): storage.storage_class_update,
    ("networking.k8s.io", "IngressClass"): ingress.ingress_class_update,
    ("certificates.k8s.io", "CertificateSigningRequest"): (
        certificates.certificate_signing_request_update
    ),
}


def validate(group: str, kind: str, obj: Obj) -> list[FieldError]:
    fn = _CREATE.get((group, kind))
    return fn(obj) if fn is not None else []


def validate_update(group: str, kind: str, obj: Obj, old: Obj) -> list[FieldError]:
    errs = validate(group, kind, obj)
    fn = _UPDATE.get((group, kind))
    if fn is not None:
        errs += fn(obj, old)
    return errs

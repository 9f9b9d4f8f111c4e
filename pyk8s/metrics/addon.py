"""The objects that make the API server send ``metrics.k8s.io`` to this metrics-server.

What k3s's metrics-server addon applies (``manifests/metrics-server/``, after upstream's
``components.yaml``): the ``kube-system/metrics-server`` ServiceAccount; the ClusterRoles
``system:aggregated-metrics-reader`` (aggregated into view, edit and admin) and
``system:metrics-server``; bindings to those, to ``system:auth-delegator`` and to the
``extension-apiserver-authentication-reader`` Role; the Service ``kube-system/metrics-server``
(port 443, ``https``); and the APIService ``v1beta1.metrics.k8s.io`` (priorities 100,
``insecureSkipTLSVerify``). The component runs outside any pod, so the Service has no
selector: its Endpoints and EndpointSlice, written here, point at where this process
listens (as the API server writes the ``kubernetes`` Service's).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NAMESPACE, NAME = "kube-system", "metrics-server"
MANAGER = "pyk8s-metrics-server"
LABELS = {"k8s-app": "metrics-server"}
APISERVICE_NAME = "v1beta1.metrics.k8s.io"
SA_SUBJECT = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
RBAC = "rbac.authorization.k8s.io/v1"

SERVICE_ACCOUNTS = rest.ResourceRef("", "v1", "serviceaccounts", True, "ServiceAccount")
SERVICES = rest.ResourceRef("", "v1", "services", True, "Service")
ENDPOINTS = rest.ResourceRef("", "v1", "endpoints", True, "Endpoints")
ENDPOINT_SLICES = rest.ResourceRef(
    "discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice"
)
CLUSTER_ROLES = rest.ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", False,
                                 "ClusterRole")  # fmt: skip
CLUSTER_ROLE_BINDINGS = rest.ResourceRef(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", False, "ClusterRoleBinding"
)
ROLE_BINDINGS = rest.ResourceRef("rbac.authorization.k8s.io", "v1", "rolebindings", True,
                                 "RoleBinding")  # fmt: skip
APISERVICES = rest.ResourceRef("apiregistration.k8s.io", "v1", "apiservices", False,
                               "APIService")  # fmt: skip


def _binding(kind: str, name: str, role_kind: str, role: str, ns: str = "") -> Obj:
    md: Obj = {"name": name, "labels": dict(LABELS)}
    if ns:
        md["namespace"] = ns
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": md,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": SA_SUBJECT,
    }


def rbac_objects() -> list[tuple[rest.ResourceRef, Obj]]:
    reader_labels = {
        **LABELS,
        "rbac.authorization.k8s.io/aggregate-to-admin": "true",
        "rbac.authorization.k8s.io/aggregate-to-edit": "true",
        "rbac.authorization.k8s.io/aggregate-to-view": "true",
    }
    return [
        (SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": NAME, "namespace": NAMESPACE,
                                         "labels": dict(LABELS)}}),
        (CLUSTER_ROLES, {
            "apiVersion": RBAC, "kind": "ClusterRole",
            "metadata": {"name": "system:aggregated-metrics-reader", "labels": reader_labels},
            "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"],
                       "verbs": ["get", "list", "watch"]}],
        }),
        (CLUSTER_ROLES, {
            "apiVersion": RBAC, "kind": "ClusterRole",
            "metadata": {"name": "system:metrics-server", "labels": dict(LABELS)},
            "rules": [
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods", "nodes"],
                 "verbs": ["get", "list", "watch"]},
            ],
        }),
        (ROLE_BINDINGS, _binding("RoleBinding", "metrics-server-auth-reader", "Role",
                                 "extension-apiserver-authentication-reader", NAMESPACE)),
        (CLUSTER_ROLE_BINDINGS, _binding("ClusterRoleBinding",
                                         "metrics-server:system:auth-delegator",
                                         "ClusterRole", "system:auth-delegator")),
        (CLUSTER_ROLE_BINDINGS, _binding("ClusterRoleBinding", "system:metrics-server",
                                         "ClusterRole", "system:metrics-server")),
    ]  # fmt: skip


def service() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {
                **LABELS,
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "Metrics-server",
            },
        },
        "spec": {
            "type": "ClusterIP",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
        },
    }


def endpoints(address: str, port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {**LABELS, "endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }


def endpoint_slice(address: str, port: int) -> Obj:
    family = "IPv6" if ":" in address else "IPv4"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {
                **LABELS,
                "kubernetes.io/service-name": NAME,
                "endpointslice.kubernetes.io/managed-by": MANAGER,
            },
        },
        "addressType": family,
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }


def apiservice() -> Obj:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": APISERVICE_NAME, "labels": dict(LABELS)},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "insecureSkipTLSVerify": True,
            "service": {"name": NAME, "namespace": NAMESPACE, "port": 443},
        },
    }


def _differs(want: Obj, have: Obj) -> bool:
    """Whether ``have`` lacks something ``want`` sets (labels, spec, subsets ...)."""
    for key, value in want.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata":
            labels = (have.get("metadata") or {}).get("labels") or {}
            if any(labels.get(k) != v for k, v in (value.get("labels") or {}).items()):
                return True
            continue
        if key == "spec" and isinstance(value, dict):
            spec = have.get("spec") or {}
            if any(spec.get(k) != v for k, v in value.items()):
                return True
            continue
        if have.get(key) != value:
            return True
    return False


async def ensure(client: rest.Interface, ref: rest.ResourceRef, obj: Obj) -> None:
    """Create ``obj``, or bring the stored one to it (what ``kubectl apply`` of the addon does)."""
    md = obj["metadata"]
    ns = md.get("namespace")
    try:
        have = await client.get(ref, md["name"], ns)
    except errors.NotFound:
        with contextlib.suppress(errors.AlreadyExists):
            await client.create(ref, obj, ns, field_manager=MANAGER)
        return
    if not _differs(obj, have):
        return
    merged = {**have, **{k: v for k, v in obj.items() if k != "metadata"}}
    merged["metadata"] = {
        **have["metadata"],
        "labels": {**(have["metadata"].get("labels") or {}), **(md.get("labels") or {})},
    }
    if ref is SERVICES:  # keep what the API server allocated
        merged["spec"] = {**have.get("spec", {}), **obj["spec"]}
    await client.update(ref, merged, ns, field_manager=MANAGER)


async def register(client: rest.Interface, address: str, port: int) -> None:
    for ref, obj in rbac_objects():
        await ensure(client, ref, obj)
    await ensure(client, SERVICES, service())
    await ensure(client, ENDPOINTS, endpoints(address, port))
    await ensure(client, ENDPOINT_SLICES, endpoint_slice(address, port))
    await ensure(client, APISERVICES, apiservice())
    log.info("metrics-server: registered %s -> https://%s:%d", APISERVICE_NAME, address, port)

"""The bootstrap RBAC policy of a 1.33 API server: default roles and bindings.

Mirrors ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``
(``ClusterRoles``, ``ClusterRoleBindings``: the user-facing ``admin``/``edit``/
``view`` aggregated from ``system:aggregate-to-*``, discovery, basic-user,
public-info-viewer, the node, proxier, scheduler and controller-manager roles)
and ``namespace_policy.go`` (the Roles and RoleBindings in ``kube-system`` and
``kube-public``). Every object carries the ``kubernetes.io/bootstrapping:
rbac-defaults`` label and the ``rbac.authorization.kubernetes.io/autoupdate``
annotation. The controllers' roles are in ``controller_policy``.
"""

from __future__ import annotations

from typing import Any

from pyk8s.apiserver.rbac import controller_policy
from pyk8s.apiserver.rbac.rules import (
    READ,
    READ_WRITE,
    WRITE,
    Rule,
    events_rule,
    rule,
    url_rule,
)

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"

MASTERS = "system:masters"
NODES = "system:nodes"
MONITORING = "system:monitoring"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNTS = "system:serviceaccounts"
KUBE_PROXY = "system:kube-proxy"
KUBE_SCHEDULER = "system:kube-scheduler"
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> Obj:
    md: Obj = {
        "name": name,
        "labels": {**BOOTSTRAP_LABEL, **(labels or {})},
        "annotations": {AUTOUPDATE: "true"},
    }
    if namespace:
        md["namespace"] = namespace
    return md


def cluster_role(
    name: str,
    rules: list[Rule],
    *,
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> Obj:
    obj: Obj = {
        "apiVersion": API_VERSION,
        "kind": "ClusterRole",
        "metadata": _meta(name, labels=labels),
        "rules": rules,
    }
    if aggregate_from:
        obj["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {AGGREGATE_TO + aggregate_from: "true"}}]
        }
    return obj


def role(name: str, namespace: str, rules: list[Rule]) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "Role",
        "metadata": _meta(name, namespace),
        "rules": rules,
    }


def user(name: str) -> Obj:
    return {"apiGroup": GROUP, "kind": "User", "name": name}


def group(name: str) -> Obj:
    return {"apiGroup": GROUP, "kind": "Group", "name": name}


def service_account(namespace: str, name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def cluster_role_binding(name: str, subjects: list[Obj], role_name: str = "") -> Obj:
    obj: Obj = {
        "apiVersion": API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role_name or name},
    }
    if subjects:
        obj["subjects"] = subjects
    return obj


def role_binding(
    name: str, namespace: str, subjects: list[Obj], role_name: str = "", kind: str = "Role"
) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "RoleBinding",
        "metadata": _meta(name, namespace),
        "roleRef": {"apiGroup": GROUP, "kind": kind, "name": role_name or name},
        "subjects": subjects,
    }


def _aggregate_to_view() -> list[Rule]:
    return [
        rule(READ, "", "pods,replicationcontrollers,replicationcontrollers/scale,serviceaccounts,"
             "services,services/status,endpoints,persistentvolumeclaims,"
             "persistentvolumeclaims/status,configmaps"),
        rule(READ, "", "limitranges,resourcequotas,bindings,events,pods/status,"
             "resourcequotas/status,namespaces/status,replicationcontrollers/status,pods/log"),
        # Reading namespaces at the namespace scope shows which namespaces one can use.
        rule(READ, "", "namespaces"),
        rule(READ, "discovery.k8s.io", "endpointslices"),
        rule(READ, "apps", "controllerrevisions,statefulsets,statefulsets/scale,"
             "statefulsets/status,daemonsets,daemonsets/status,deployments,deployments/scale,"
             "deployments/status,replicasets,replicasets/scale,replicasets/status"),
        rule(READ, "autoscaling", "horizontalpodautoscalers,horizontalpodautoscalers/status"),
        rule(READ, "batch", "jobs,cronjobs,cronjobs/status,jobs/status"),
        rule(READ, "extensions", "daemonsets,daemonsets/status,deployments,deployments/scale,"
             "deployments/status,ingresses,ingresses/status,replicasets,replicasets/scale,"
             "replicasets/status,replicationcontrollers/scale,networkpolicies"),
        rule(READ, "policy", "poddisruptionbudgets,poddisruptionbudgets/status"),
        rule(READ, "networking.k8s.io", "ingresses,ingresses/status,networkpolicies"),
    ]  # fmt: skip


def _aggregate_to_edit() -> list[Rule]:
    return [
        # Secrets and the streaming subresources escalate, so only edit reads them.
        rule(READ, "", "pods/attach,pods/proxy,pods/exec,pods/portforward,secrets,services/proxy"),
        rule("impersonate", "", "serviceaccounts"),
        rule(WRITE, "", "pods,pods/attach,pods/proxy,pods/exec,pods/portforward"),
        rule("create", "", "pods/eviction"),
        rule(WRITE, "", "replicationcontrollers,replicationcontrollers/scale,serviceaccounts,"
             "services,services/proxy,persistentvolumeclaims,configmaps,secrets,events"),
        rule("create", "", "serviceaccounts/token"),
        rule(WRITE, "apps", "statefulsets,statefulsets/scale,daemonsets,deployments,"
             "deployments/scale,deployments/rollback,replicasets,replicasets/scale"),
        rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
        rule(WRITE, "batch", "jobs,cronjobs"),
        rule(WRITE, "extensions", "daemonsets,deployments,deployments/scale,deployments/rollback,"
             "ingresses,replicasets,replicasets/scale,replicationcontrollers/scale,"
             "networkpolicies"),
        rule(WRITE, "policy", "poddisruptionbudgets"),
        rule(WRITE, "networking.k8s.io", "ingresses,networkpolicies"),
        rule(READ_WRITE, "coordination.k8s.io", "leases"),
    ]  # fmt: skip


def node_rules() -> list[Rule]:
    return [
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", "subjectaccessreviews,localsubjectaccessreviews"),
        rule(READ, "", "services"),
        rule("create,get,list,watch", "", "nodes"),
        rule("update,patch", "", "nodes/status"),
        rule("update,patch", "", "nodes"),
        rule("create,update,patch", "", "events"),
        rule(READ, "", "pods"),
        rule("create,delete", "", "pods"),
        rule("update,patch", "", "pods/status"),
        rule("create", "", "pods/eviction"),
        rule(READ, "", "secrets,configmaps"),
        rule("get", "", "persistentvolumeclaims,persistentvolumes"),
        rule("get", "", "endpoints"),
        rule("create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"),
        rule("get,create,update,patch,delete", "coordination.k8s.io", "leases"),
        rule("get", "storage.k8s.io", "volumeattachments"),
        rule("create", "", "serviceaccounts/token"),
        rule("get,update,patch", "", "persistentvolumeclaims/status"),
        rule(READ, "storage.k8s.io", "csidrivers"),
        rule("get,create,update,patch,delete", "storage.k8s.io", "csinodes"),
        rule(READ, "node.k8s.io", "runtimeclasses"),
    ]


def _signer_approver(signer: str) -> list[Rule]:
    return [rule("approve", "certificates.k8s.io", "signers", signer)]


def cluster_roles() -> list[Obj]:
    """Every bootstrap ClusterRole (controller roles included), sorted by name."""
    roles = [
        cluster_role("cluster-admin", [rule("*", "*", "*"), url_rule("*", "*")]),
        cluster_role("system:discovery", [
            url_rule("get", "/livez,/readyz,/healthz,/version,/version/,/openapi,/openapi/*,"
                     "/api,/api/*,/apis,/apis/*"),
        ]),
        cluster_role("system:monitoring", [
            url_rule("get", "/metrics,/metrics/slis,/livez,/readyz,/healthz,/livez/*,/readyz/*,"
                     "/healthz/*"),
        ]),
        cluster_role("system:basic-user", [
            rule("create", "authorization.k8s.io",
                 "selfsubjectaccessreviews,selfsubjectrulesreviews"),
            rule("create", "authentication.k8s.io", "selfsubjectreviews"),
        ]),
        cluster_role("system:public-info-viewer", [
            url_rule("get", "/livez,/readyz,/healthz,/version,/version/"),
        ]),
        cluster_role("admin", [], aggregate_from="admin"),
        cluster_role("edit", [], aggregate_from="edit",
                     labels={AGGREGATE_TO + "admin": "true"}),
        cluster_role("view", [], aggregate_from="view",
                     labels={AGGREGATE_TO + "edit": "true"}),
        cluster_role("system:aggregate-to-admin", [
            rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
            rule(READ_WRITE, GROUP, "roles,rolebindings"),
        ], labels={AGGREGATE_TO + "admin": "true"}),
        cluster_role("system:aggregate-to-edit", _aggregate_to_edit(),
                     labels={AGGREGATE_TO + "edit": "true"}),
        cluster_role("system:aggregate-to-view", _aggregate_to_view(),
                     labels={AGGREGATE_TO + "view": "true"}),
        cluster_role("system:heapster", [
            rule(READ, "", "events,pods,nodes,namespaces"),
            rule(READ, "extensions", "deployments"),
        ]),
        cluster_role("system:node", node_rules()),
        cluster_role("system:node-problem-detector", [
            rule("get", "", "nodes"),
            rule("patch", "", "nodes/status"),
            events_rule(),
        ]),
        cluster_role("system:kubelet-api-admin", [
            rule(READ, "", "nodes"),
            rule("proxy", "", "nodes"),
            rule("*", "", "nodes/proxy,nodes/metrics,nodes/stats,nodes/log"),
        ]),
        cluster_role("system:node-bootstrapper", [
            rule("create,get,list,watch", "certificates.k8s.io", "certificatesigningrequests"),
        ]),
        cluster_role("system:auth-delegator", [
            rule("create", "authentication.k8s.io", "tokenreviews"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        ]),
        cluster_role("system:kube-aggregator", [rule(READ, "", "services,endpoints")]),
        cluster_role("system:kube-controller-manager", [
            events_rule(),
            rule("create", "coordination.k8s.io", "leases"),
            rule("get,update", "coordination.k8s.io", "leases", "kube-controller-manager"),
            rule("create", "", "secrets,serviceaccounts"),
            rule("delete", "", "secrets"),
            rule("get", "", "namespaces,secrets,serviceaccounts,configmaps"),
            rule("update", "", "secrets,serviceaccounts"),
            rule("create", "authentication.k8s.io", "tokenreviews"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            rule("list,watch", "*", "*"),
            rule("create", "", "serviceaccounts/token"),
        ]),
        cluster_role("system:kube-dns", [rule("list,watch", "", "endpoints,services")]),
        cluster_role("system:persistent-volume-provisioner", [
            rule("get,list,watch,create,delete", "", "persistentvolumes"),
            rule("get,list,watch,update", "", "persistentvolumeclaims"),
            rule(READ, "storage.k8s.io", "storageclasses"),
            rule("watch", "", "events"),
            events_rule(),
        ]),
        cluster_role("system:certificates.k8s.io:kube-apiserver-client-approver",
                     _signer_approver("kubernetes.io/kube-apiserver-client")),
        cluster_role("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
                     _signer_approver("kubernetes.io/kube-apiserver-client-kubelet")),
        cluster_role("system:certificates.k8s.io:kubelet-serving-approver",
                     _signer_approver("kubernetes.io/kubelet-serving")),
        cluster_role("system:certificates.k8s.io:legacy-unknown-approver",
                     _signer_approver("kubernetes.io/legacy-unknown")),
        cluster_role("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [
            rule("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient"),
        ]),
        cluster_role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [
            rule("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient"),
        ]),
        cluster_role("system:service-account-issuer-discovery", [
            url_rule("get", "/.well-known/openid-configuration,/openid/v1/jwks"),
        ]),
        cluster_role("system:node-proxier", [
            rule("list,watch", "", "services,endpoints"),
            rule(READ, "", "nodes"),
            events_rule(),
            rule("list,watch", "discovery.k8s.io", "endpointslices"),
        ]),
        cluster_role("system:kube-scheduler", [
            events_rule(),
            rule("create", "coordination.k8s.io", "leases"),
            rule("get,update", "coordination.k8s.io", "leases", "kube-scheduler"),
            rule(READ, "", "nodes"),
            rule("get,list,watch,delete", "", "pods"),
            rule("create", "", "pods/binding,bindings"),
            rule("patch,update", "", "pods/status"),
            rule(READ, "", "replicationcontrollers,services"),
            rule(READ, "apps,extensions", "replicasets"),
            rule(READ, "apps", "statefulsets"),
            rule(READ, "policy", "poddisruptionbudgets"),
            rule(READ, "", "persistentvolumeclaims,persistentvolumes"),
            rule("create", "authentication.k8s.io", "tokenreviews"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            rule(READ, "storage.k8s.io", "csinodes"),
            rule(READ, "", "namespaces"),
            rule(READ, "storage.k8s.io", "csidrivers"),
            rule(READ, "storage.k8s.io", "csistoragecapacities"),
        ]),
        cluster_role("system:volume-scheduler", [
            rule("get,list,watch,update,patch", "", "persistentvolumes"),
            rule(READ, "storage.k8s.io", "storageclasses"),
            rule("get,list,watch,update,patch", "", "persistentvolumeclaims"),
        ]),
    ]  # fmt: skip
    roles.extend(
        cluster_role(controller_policy.ROLE_PREFIX + name, rules)
        for name, rules in controller_policy.controller_roles().items()
    )
    return sorted(roles, key=lambda r: r["metadata"]["name"])


def cluster_role_bindings() -> list[Obj]:
    bindings = [
        cluster_role_binding("cluster-admin", [group(MASTERS)]),
        cluster_role_binding("system:monitoring", [group(MONITORING)]),
        cluster_role_binding("system:discovery", [group(AUTHENTICATED)]),
        cluster_role_binding("system:basic-user", [group(AUTHENTICATED)]),
        cluster_role_binding(
            "system:public-info-viewer", [group(AUTHENTICATED), group(UNAUTHENTICATED)]
        ),
        # Upstream binds no one here: the Node authorizer decides for kubelets.
        cluster_role_binding("system:node", []),
        cluster_role_binding("system:node-proxier", [user(KUBE_PROXY)]),
        cluster_role_binding("system:kube-controller-manager", [user(KUBE_CONTROLLER_MANAGER)]),
        cluster_role_binding("system:kube-dns", [service_account("kube-system", "kube-dns")]),
        cluster_role_binding("system:kube-scheduler", [user(KUBE_SCHEDULER)]),
        cluster_role_binding("system:volume-scheduler", [user(KUBE_SCHEDULER)]),
        cluster_role_binding("system:service-account-issuer-discovery", [group(SERVICE_ACCOUNTS)]),
    ]
    bindings.extend(
        cluster_role_binding(
            controller_policy.ROLE_PREFIX + name,
            [service_account("kube-system", name)],
        )
        for name in controller_policy.controller_roles()
    )
    return sorted(bindings, key=lambda b: b["metadata"]["name"])


def _leader_locking() -> list[Rule]:
    return [
        rule("watch,get,list,create,update", "coordination.k8s.io", "leases"),
        rule("watch,get,list,create,update", "coordination.k8s.io", "leasecandidates"),
    ]


def namespace_roles() -> list[Obj]:
    """The Roles of ``kube-system`` and ``kube-public`` (``NamespaceRoles``)."""
    return [
        role("extension-apiserver-authentication-reader", "kube-system", [
            rule(READ, "", "configmaps", "extension-apiserver-authentication"),
        ]),
        role("system::leader-locking-kube-controller-manager", "kube-system", _leader_locking()),
        role("system::leader-locking-kube-scheduler", "kube-system", _leader_locking()),
        role("system:controller:bootstrap-signer", "kube-system", [rule(READ, "", "secrets")]),
        role("system:controller:cloud-provider", "kube-system", [
            rule("create,get,list,watch", "", "configmaps"),
        ]),
        role("system:controller:token-cleaner", "kube-system", [
            rule("delete,get,list,watch", "", "secrets"),
            events_rule(),
        ]),
        role("system:controller:bootstrap-signer", "kube-public", [
            rule(READ, "", "configmaps"),
            rule("update", "", "configmaps", "cluster-info"),
            events_rule(),
        ]),
    ]  # fmt: skip


def namespace_role_bindings() -> list[Obj]:
    ks = "kube-system"
    return [
        role_binding(
            "system::extension-apiserver-authentication-reader",
            ks,
            [user(KUBE_CONTROLLER_MANAGER), user(KUBE_SCHEDULER)],
            "extension-apiserver-authentication-reader",
        ),
        role_binding(
            "system::leader-locking-kube-controller-manager",
            ks,
            [
                user(KUBE_CONTROLLER_MANAGER),
                service_account(ks, "kube-controller-manager"),
                service_account(ks, "leader-election-controller"),
            ],
        ),
        role_binding(
            "system::leader-locking-kube-scheduler",
            ks,
            [user(KUBE_SCHEDULER), service_account(ks, "kube-scheduler")],
        ),
        role_binding(
            "system:controller:bootstrap-signer", ks, [service_account(ks, "bootstrap-signer")]
        ),
        role_binding(
            "system:controller:cloud-provider", ks, [service_account(ks, "cloud-provider")]
        ),
        role_binding("system:controller:token-cleaner", ks, [service_account(ks, "token-cleaner")]),
        role_binding(
            "system:controller:bootstrap-signer",
            "kube-public",
            [service_account(ks, "bootstrap-signer")],
        ),
    ]

"""The ``system:controller:<name>`` ClusterRoles, one per controller's service account.

Mirrors ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go``
(``buildControllerRoles``): what each kube-controller-manager loop may do when
it runs with ``--use-service-account-credentials`` (each bound to the service
account ``kube-system/<name>``). Roles behind feature gates that 1.33 leaves
off (DRA, VolumeAttributesClass, device taints) are not listed.
"""

from __future__ import annotations

from pyk8s.apiserver.rbac.rules import READ, Rule, events_rule, rule

ROLE_PREFIX = "system:controller:"


def controller_roles() -> dict[str, list[Rule]]:
    """Controller name (its service account) -> its rules."""
    ev = events_rule()
    return {
        "attachdetach-controller": [
            rule("list,watch", "", "persistentvolumes,persistentvolumeclaims"),
            rule(READ, "", "nodes"),
            rule("patch,update", "", "nodes/status"),
            rule("list,watch", "", "pods"),
            ev,
            rule("get,create,delete,list,watch", "storage.k8s.io", "volumeattachments"),
            rule(READ, "storage.k8s.io", "csidrivers"),
            rule(READ, "storage.k8s.io", "csinodes"),
        ],
        "certificate-controller": [
            rule("get,list,watch,delete", "certificates.k8s.io", "certificatesigningrequests"),
            rule("update", "certificates.k8s.io",
                 "certificatesigningrequests/status,certificatesigningrequests/approval"),
            rule("approve", "certificates.k8s.io", "signers",
                 "kubernetes.io/kube-apiserver-client-kubelet"),
            rule("sign", "certificates.k8s.io", "signers",
                 "kubernetes.io/kube-apiserver-client,kubernetes.io/kube-apiserver-client-kubelet,"
                 "kubernetes.io/kubelet-serving,kubernetes.io/legacy-unknown"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            ev,
        ],
        "clusterrole-aggregation-controller": [
            # escalate: it writes rules it does not itself hold.
            rule("escalate,get,list,watch,update,patch", "rbac.authorization.k8s.io",
                 "clusterroles"),
        ],
        "cronjob-controller": [
            rule("get,list,watch,update", "batch", "cronjobs"),
            rule("get,list,watch,create,update,delete,patch", "batch", "jobs"),
            rule("update", "batch", "cronjobs/status"),
            rule("update", "batch", "cronjobs/finalizers"),
            rule("list,watch,delete", "", "pods"),
            ev,
        ],
        "daemon-set-controller": [
            rule(READ, "apps,extensions", "daemonsets"),
            rule("update", "apps,extensions", "daemonsets/status"),
            rule("update", "apps,extensions", "daemonsets/finalizers"),
            rule("list,watch", "", "nodes"),
            rule("list,watch,create,delete,patch", "", "pods"),
            rule("create", "", "pods/binding"),
            rule("get,list,watch,create,delete,update,patch", "apps", "controllerrevisions"),
            ev,
        ],
        "deployment-controller": [
            rule("get,list,watch,update", "apps,extensions", "deployments"),
            rule("update", "apps,extensions", "deployments/status"),
            rule("update", "apps,extensions", "deployments/finalizers"),
            rule("get,list,watch,create,update,patch,delete", "apps,extensions", "replicasets"),
            # Pods are updated to drop their ownerReferences on orphaning.
            rule("get,list,watch,update", "", "pods"),
            ev,
        ],
        "disruption-controller": [
            rule(READ, "apps,extensions", "deployments"),
            rule(READ, "apps,extensions", "replicasets"),
            rule(READ, "", "replicationcontrollers"),
            rule(READ, "policy", "poddisruptionbudgets"),
            rule(READ, "apps", "statefulsets"),
            rule("update", "policy", "poddisruptionbudgets/status"),
            rule("patch,update", "", "pods/status"),
            rule("get", "*", "*/scale"),
            ev,
        ],
        "endpoint-controller": [
            rule(READ, "", "services,pods"),
            rule("get,list,create,update,delete", "", "endpoints"),
            rule("create", "", "endpoints/restricted"),
            ev,
        ],
        "endpointslice-controller": [
            rule(READ, "", "services,pods,nodes"),
            rule("update", "", "services/finalizers"),
            rule("get,list,create,update,delete", "discovery.k8s.io", "endpointslices"),
            ev,
        ],
        "endpointslicemirroring-controller": [
            rule(READ, "", "services,endpoints"),
            rule("update", "", "services/finalizers"),
            rule("update", "", "endpoints/finalizers"),
            rule("get,list,create,update,delete", "discovery.k8s.io", "endpointslices"),
            ev,
        ],
        "ephemeral-volume-controller": [
            rule(READ, "", "pods"),
            rule("update", "", "pods/finalizers"),
            rule("get,list,watch,create", "", "persistentvolumeclaims"),
            ev,
        ],
        "expand-controller": [
            rule("get,list,watch,update,patch", "", "persistentvolumes"),
            rule("update,patch", "", "persistentvolumeclaims/status"),
            rule(READ, "", "persistentvolumeclaims"),
            ev,
        ],
        "generic-garbage-collector": [
            rule("get,list,watch,patch,update,delete", "*", "*"),
            ev,
        ],
        "horizontal-pod-autoscaler": [
            rule(READ, "autoscaling", "horizontalpodautoscalers"),
            rule("update", "autoscaling", "horizontalpodautoscalers/status"),
            rule("get,update", "*", "*/scale"),
            rule("list,watch", "", "pods"),
            rule("list,watch", "metrics.k8s.io", "pods"),
            rule(READ, "custom.metrics.k8s.io", "*"),
            rule(READ, "external.metrics.k8s.io", "*"),
            ev,
        ],
        "job-controller": [
            rule("get,list,watch,update,patch", "batch", "jobs"),
            rule("update", "batch", "jobs/status"),
            rule("update", "batch", "jobs/finalizers"),
            rule("list,watch,create,delete,patch", "", "pods"),
            ev,
        ],
        "legacy-service-account-token-cleaner": [
            rule("get", "", "configmaps",
                 "kube-apiserver-legacy-service-account-token-tracking"),
            rule("patch,delete", "", "secrets"),
        ],
        "namespace-controller": [
            rule("get,list,watch,delete", "", "namespaces"),
            rule("update", "", "namespaces/finalize,namespaces/status"),
            rule("get,list,watch,delete,deletecollection", "*", "*"),
        ],
        "node-controller": [
            rule("get,list,watch,update,delete,patch", "", "nodes"),
            rule("patch,update", "", "nodes/status"),
            rule("patch,update", "", "pods/status"),
            rule("list,watch,delete,get", "", "pods"),
            ev,
        ],
        "persistent-volume-binder": [
            rule("get,list,watch,update,create,delete", "", "persistentvolumes"),
            rule("update", "", "persistentvolumes/status"),
            rule("get,list,watch,update", "", "persistentvolumeclaims"),
            rule("update", "", "persistentvolumeclaims/status"),
            rule("list,watch,get,create,delete", "", "pods"),
            rule(READ, "storage.k8s.io", "storageclasses"),
            rule("list,watch", "", "nodes"),
            ev,
            rule("watch", "", "events"),
        ],
        "pod-garbage-collector": [
            rule("list,watch,delete", "", "pods"),
            rule(READ, "", "nodes"),
            rule("patch", "", "pods/status"),
        ],
        "pv-protection-controller": [
            rule("get,list,watch,update", "", "persistentvolumes"),
            ev,
        ],
        "pvc-protection-controller": [
            rule("get,list,watch,update", "", "persistentvolumeclaims"),
            rule("update", "", "persistentvolumeclaims/status"),
            rule(READ, "", "pods"),
            ev,
        ],
        "replicaset-controller": [
            rule("get,list,watch,update", "apps,extensions", "replicasets"),
            rule("update", "apps,extensions", "replicasets/status"),
            rule("update", "apps,extensions", "replicasets/finalizers"),
            rule("list,watch,patch,create,delete", "", "pods"),
            ev,
        ],
        "replication-controller": [
            rule("get,list,watch,update", "", "replicationcontrollers"),
            rule("update", "", "replicationcontrollers/status"),
            rule("update", "", "replicationcontrollers/finalizers"),
            rule("list,watch,patch,create,delete", "", "pods"),
            ev,
        ],
        "resourcequota-controller": [
            rule("list,watch", "*", "*"),
            rule("update", "", "resourcequotas/status"),
            ev,
        ],
        "root-ca-cert-publisher": [
            rule("create,update", "", "configmaps"),
            ev,
        ],
        "route-controller": [
            rule("list,watch", "", "nodes"),
            rule("patch", "", "nodes/status"),
            ev,
        ],
        "selinux-warning-controller": [
            ev,
            rule(READ, "", "persistentvolumes"),
            rule(READ, "", "persistentvolumeclaims"),
            rule(READ, "", "pods"),
            rule(READ, "storage.k8s.io", "csidrivers"),
        ],
        "service-account-controller": [
            rule("create", "", "serviceaccounts"),
            ev,
        ],
        "service-cidrs-controller": [
            rule("get,list,watch,patch,update", "networking.k8s.io", "servicecidrs"),
            rule("patch,update", "networking.k8s.io", "servicecidrs/finalizers"),
            rule("patch,update", "networking.k8s.io", "servicecidrs/status"),
            rule(READ, "networking.k8s.io", "ipaddresses"),
            ev,
        ],
        "service-controller": [
            rule(READ, "", "services"),
            rule("patch,update", "", "services/status"),
            rule("list,watch", "", "nodes"),
            ev,
        ],
        "statefulset-controller": [
            rule("list,watch", "", "pods"),
            rule(READ, "apps", "statefulsets"),
            rule("update", "apps", "statefulsets/status"),
            rule("update", "apps", "statefulsets/finalizers"),
            rule("get,create,delete,update,patch", "", "pods"),
            rule("get,create,delete,update,patch,list,watch", "apps", "controllerrevisions"),
            rule("get,create,list,watch", "", "persistentvolumeclaims"),
            rule("update,delete", "", "persistentvolumeclaims"),
            rule("update", "", "pods/finalizers"),
            ev,
        ],
        "ttl-after-finished-controller": [
            rule("get,list,watch,delete", "batch", "jobs"),
            ev,
        ],
        "ttl-controller": [
            rule("update,patch,list,watch", "", "nodes"),
            ev,
        ],
        "validatingadmissionpolicy-status-controller": [
            rule(READ, "admissionregistration.k8s.io", "validatingadmissionpolicies"),
            rule("get,patch,update", "admissionregistration.k8s.io",
                 "validatingadmissionpolicies/status"),
            ev,
        ],
    }  # fmt: skip

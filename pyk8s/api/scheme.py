"""The resource table: every built-in resource of Kubernetes 1.33 that pyk8s serves.

One row per (group, version, resource). Routing, discovery (legacy and
aggregated), Table output and storage keys all read this table, so
``kubectl api-resources`` and the URL router can never disagree.

Upstream keeps the same facts in many places: the ``install.go`` of each API
group (versions, kinds), ``pkg/registry/<group>/<resource>/storage`` (verbs,
short names, categories, subresources, ``ReturnDeletedObject``) and
``pkg/registry/.../rest/storage_*.go`` (which versions a group serves).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

CRUD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_WRITE_SUB = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    """Group and version of ``kind`` when they differ from the parent's (``scale``)."""
    version: str = ""


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = CRUD
    subresources: tuple[Subresource, ...] = ()
    storage_prefix: str = ""
    """Key prefix under ``/registry`` (upstream's etcd layout); empty: the plural."""
    stored: bool = True
    """False for virtual resources (reviews, bindings) that are never stored."""
    return_deleted_object: bool = False
    field_selectors: tuple[str, ...] = ()
    """Field labels supported beyond ``metadata.name`` and ``metadata.namespace``."""
    preferred: bool = True
    """Whether this is the group's preferred version of the resource."""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key_root(self) -> str:
        return "/registry/" + (self.storage_prefix or self.plural) + "/"

    def key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.key_root}{namespace}/{name}"
        return f"{self.key_root}{name}"

    def prefix(self, namespace: str) -> str:
        """The key prefix of a list: one namespace, or every object when ``namespace`` is empty."""
        if self.namespaced and namespace:
            return f"{self.key_root}{namespace}/"
        return self.key_root

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None

    @property
    def storage_version_hash(self) -> str:
        """As upstream ``discovery.StorageVersionHash``: first 8 bytes of sha256("g/v/k") of
        the version the resource is stored in (the same for every version it is served in)."""
        gvk = _STORED_AS.get((self.group, self.plural), f"{self.group}/{self.version}/{self.kind}")
        digest = hashlib.sha256(gvk.encode()).digest()
        return base64.b64encode(digest[:8]).decode()


_STORED_AS = {
    # events.k8s.io cohabits with core Events, stored as core v1 (AddCohabitatingResources)
    ("events.k8s.io", "events"): "/v1/Event",
    # autoscaling/v1 serves what is stored as autoscaling/v2
    ("autoscaling", "horizontalpodautoscalers"): "autoscaling/v2/HorizontalPodAutoscaler",
}


@dataclass(frozen=True, slots=True)
class GroupVersion:
    group: str
    version: str

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, READ_WRITE_SUB)


_SCALE = Subresource("scale", "Scale", READ_WRITE_SUB, "autoscaling", "v1")
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")
_CONNECT = ("create", "get")


def _r(
    gv: str,
    kind: str,
    plural: str,
    *,
    ns: bool = True,
    short: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    verbs: tuple[str, ...] = CRUD,
    sub: tuple[Subresource, ...] = (),
    prefix: str = "",
    stored: bool = True,
    returns_object: bool = False,
    fields: tuple[str, ...] = (),
    preferred: bool = True,
    singular: str = "",
) -> Resource:
    group, _, version = gv.rpartition("/")
    return Resource(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=singular or kind.lower(),
        namespaced=ns,
        short_names=short,
        categories=cats,
        verbs=verbs,
        subresources=sub,
        storage_prefix=prefix,
        stored=stored,
        return_deleted_object=returns_object,
        field_selectors=fields,
        preferred=preferred,
    )


_CREATE_ONLY = ("create",)
_ALL = ("all",)
_EXT = ("api-extensions",)

RESOURCES: tuple[Resource, ...] = (
    # core/v1 (pkg/registry/core/rest/storage_core.go)
    _r("v1", "Binding", "bindings", verbs=_CREATE_ONLY, stored=False),
    _r("v1", "ComponentStatus", "componentstatuses", ns=False, short=("cs",),
       verbs=("get", "list"), stored=False),
    _r("v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("v1", "Endpoints", "endpoints", short=("ep",), prefix="services/endpoints",
       singular="endpoints"),
    _r("v1", "Event", "events", short=("ev",), fields=(
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")),
    _r("v1", "LimitRange", "limitranges", short=("limits",)),
    _r("v1", "Namespace", "namespaces", ns=False, short=("ns",),
       verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
       sub=(Subresource("finalize", "Namespace", ("update",)), _status("Namespace")),
       returns_object=True, fields=("status.phase",)),
    _r("v1", "Node", "nodes", ns=False, short=("no",), prefix="minions",
       sub=(Subresource("proxy", "NodeProxyOptions", _PROXY_VERBS), _status("Node")),
       fields=("spec.unschedulable",)),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",),
       sub=(_status("PersistentVolumeClaim"),)),
    _r("v1", "PersistentVolume", "persistentvolumes", ns=False, short=("pv",),
       sub=(_status("PersistentVolume"),)),
    _r("v1", "Pod", "pods", short=("po",), cats=_ALL, returns_object=True, sub=(
        Subresource("attach", "PodAttachOptions", _CONNECT),
        Subresource("binding", "Binding", _CREATE_ONLY),
        Subresource("ephemeralcontainers", "Pod", READ_WRITE_SUB),
        Subresource("eviction", "Eviction", _CREATE_ONLY, "policy", "v1"),
        Subresource("exec", "PodExecOptions", _CONNECT),
        Subresource("log", "Pod", ("get",)),
        Subresource("portforward", "PodPortForwardOptions", _CONNECT),
        Subresource("proxy", "PodProxyOptions", _PROXY_VERBS),
        Subresource("resize", "Pod", READ_WRITE_SUB),
        _status("Pod"),
    ), fields=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
               "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
               "status.podIP", "status.podIPs", "status.nominatedNodeName")),
    _r("v1", "PodTemplate", "podtemplates"),
    _r("v1", "ReplicationController", "replicationcontrollers", short=("rc",), cats=_ALL,
       prefix="controllers", sub=(_SCALE, _status("ReplicationController")),
       fields=("status.replicas",)),
    _r("v1", "ResourceQuota", "resourcequotas", short=("quota",),
       sub=(_status("ResourceQuota"),)),
    _r("v1", "Secret", "secrets", fields=("type",)),
    _r("v1", "ServiceAccount", "serviceaccounts", short=("sa",), returns_object=True,
       sub=(Subresource("token", "TokenRequest", _CREATE_ONLY, "authentication.k8s.io", "v1"),)),
    _r("v1", "Service", "services", short=("svc",), cats=_ALL, prefix="services/specs",
       verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update",
              "watch"), returns_object=True,
       sub=(Subresource("proxy", "ServiceProxyOptions", _PROXY_VERBS), _status("Service")),
       fields=("spec.clusterIP", "spec.type")),
    # admissionregistration.k8s.io/v1
    _r("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
       "mutatingwebhookconfigurations", ns=False, cats=_EXT),
    _r("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy",
       "validatingadmissionpolicies", ns=False, cats=_EXT,
       sub=(_status("ValidatingAdmissionPolicy"),)),
    _r("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding",
       "validatingadmissionpolicybindings", ns=False, cats=_EXT),
    _r("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
       "validatingwebhookconfigurations", ns=False, cats=_EXT),
    # apiextensions.k8s.io/v1
    _r("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions",
       ns=False, short=("crd", "crds"), cats=_EXT, returns_object=True,
       prefix="apiextensions.k8s.io/customresourcedefinitions",
       sub=(_status("CustomResourceDefinition"),)),
    # apiregistration.k8s.io/v1
    _r("apiregistration.k8s.io/v1", "APIService", "apiservices", ns=False, cats=_EXT,
       prefix="apiregistration.k8s.io/apiservices", sub=(_status("APIService"),)),
    # apps/v1
    _r("apps/v1", "ControllerRevision", "controllerrevisions"),
    _r("apps/v1", "DaemonSet", "daemonsets", short=("ds",), cats=_ALL,
       sub=(_status("DaemonSet"),)),
    _r("apps/v1", "Deployment", "deployments", short=("deploy",), cats=_ALL,
       sub=(_SCALE, _status("Deployment"))),
    _r("apps/v1", "ReplicaSet", "replicasets", short=("rs",), cats=_ALL,
       sub=(_SCALE, _status("ReplicaSet")), fields=("status.replicas",)),
    _r("apps/v1", "StatefulSet", "statefulsets", short=("sts",), cats=_ALL,
       sub=(_SCALE, _status("StatefulSet"))),
    # authentication.k8s.io/v1
    _r("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", ns=False,
       verbs=_CREATE_ONLY, stored=False),
    _r("authentication.k8s.io/v1", "TokenReview", "tokenreviews", ns=False,
       verbs=_CREATE_ONLY, stored=False),
    # authorization.k8s.io/v1
    _r("authorization.k8s.io/v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
       verbs=_CREATE_ONLY, stored=False),
    _r("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
       ns=False, verbs=_CREATE_ONLY, stored=False),
    _r("authorization.k8s.io/v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
       ns=False, verbs=_CREATE_ONLY, stored=False),
    _r("authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews", ns=False,
       verbs=_CREATE_ONLY, stored=False),
    # autoscaling/v2 (preferred) and v1 share one store (v2 objects; v1 converts on the way)
    _r("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
       short=("hpa",), cats=_ALL, sub=(_status("HorizontalPodAutoscaler"),)),
    _r("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
       short=("hpa",), cats=_ALL, preferred=False),
    # batch/v1
    _r("batch/v1", "CronJob", "cronjobs", short=("cj",), cats=_ALL,
       sub=(_status("CronJob"),)),
    _r("batch/v1", "Job", "jobs", cats=_ALL, sub=(_status("Job"),),
       fields=("status.successful",)),
    # certificates.k8s.io/v1
    _r("certificates.k8s.io/v1", "CertificateSigningRequest", "certificatesigningrequests",
       ns=False, short=("csr",), fields=("spec.signerName",),
       sub=(Subresource("approval", "CertificateSigningRequest", READ_WRITE_SUB),
            _status("CertificateSigningRequest"))),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io/v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    # events.k8s.io/v1 (same store as core events upstream; pyk8s converts on the way)
    _r("events.k8s.io/v1", "Event", "events", short=("ev",), prefix="events", fields=(
        "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
        "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath", "reason",
        "reportingController", "source", "type")),
    # flowcontrol.apiserver.k8s.io/v1
    _r("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "flowschemas", ns=False,
       sub=(_status("FlowSchema"),)),
    _r("flowcontrol.apiserver.k8s.io/v1", "PriorityLevelConfiguration",
       "prioritylevelconfigurations", ns=False, sub=(_status("PriorityLevelConfiguration"),)),
    # networking.k8s.io/v1
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", ns=False),
    _r("networking.k8s.io/v1", "Ingress", "ingresses", short=("ing",), prefix="ingress",
       sub=(_status("Ingress"),)),
    _r("networking.k8s.io/v1", "IPAddress", "ipaddresses", ns=False, short=("ip",)),
    _r("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _r("networking.k8s.io/v1", "ServiceCIDR", "servicecidrs", ns=False,
       sub=(_status("ServiceCIDR"),)),
    # node.k8s.io/v1
    _r("node.k8s.io/v1", "RuntimeClass", "runtimeclasses", ns=False),
    # policy/v1
    _r("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",),
       sub=(_status("PodDisruptionBudget"),)),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", ns=False),
    _r("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", ns=False),
    _r("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io/v1", "Role", "roles"),
    # scheduling.k8s.io/v1
    _r("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", ns=False, short=("pc",)),
    # storage.k8s.io/v1
    _r("storage.k8s.io/v1", "CSIDriver", "csidrivers", ns=False),
    _r("storage.k8s.io/v1", "CSINode", "csinodes", ns=False),
    _r("storage.k8s.io/v1", "CSIStorageCapacity", "csistoragecapacities"),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", ns=False, short=("sc",),
       returns_object=True),
    _r("storage.k8s.io/v1", "VolumeAttachment", "volumeattachments", ns=False,
       sub=(_status("VolumeAttachment"),)),
)  # fmt: skip


@dataclass
class Scheme:
    """Lookups over :data:`RESOURCES` by URL parts, by kind and by short name."""

    resources: tuple[Resource, ...] = RESOURCES
    _by_path: dict[tuple[str, str, str], Resource] = field(default_factory=dict)
    _by_kind: dict[tuple[str, str, str], Resource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.resources:
            path_key = (r.group, r.version, r.plural)
            if path_key in self._by_path:
                raise ValueError(f"duplicate resource {r.group_version} {r.plural}")
            self._by_path[path_key] = r
            self._by_kind.setdefault((r.group, r.version, r.kind), r)

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def for_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_kind.get((group, version, kind))

    def group_versions(self) -> list[GroupVersion]:
        """Served group versions, core first, groups in table order."""
        seen: dict[tuple[str, str], GroupVersion] = {}
        for r in self.resources:
            seen.setdefault((r.group, r.version), GroupVersion(r.group, r.version))
        return list(seen.values())

    def groups(self) -> list[str]:
        out: list[str] = []
        for gv in self.group_versions():
            if gv.group and gv.group not in out:
                out.append(gv.group)
        return out

    def versions_of(self, group: str) -> list[str]:
        return [gv.version for gv in self.group_versions() if gv.group == group]

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]


DEFAULT = Scheme()

"""The resources controllers act on, as client references, from the built-in table."""

from __future__ import annotations

from pyk8s.api import errors, scheme
from pyk8s.client import rest


def ref(api_version: str, kind: str) -> rest.ResourceRef:
    return rest.for_kind(api_version, kind)


PODS = ref("v1", "Pod")
NAMESPACES = ref("v1", "Namespace")
NODES = ref("v1", "Node")
SERVICES = ref("v1", "Service")
ENDPOINTS = ref("v1", "Endpoints")
CONFIGMAPS = ref("v1", "ConfigMap")
SERVICEACCOUNTS = ref("v1", "ServiceAccount")
REPLICATIONCONTROLLERS = ref("v1", "ReplicationController")
LEASES = ref("coordination.k8s.io/v1", "Lease")
REPLICASETS = ref("apps/v1", "ReplicaSet")
DEPLOYMENTS = ref("apps/v1", "Deployment")
ENDPOINTSLICES = ref("discovery.k8s.io/v1", "EndpointSlice")
CLUSTERROLES = ref("rbac.authorization.k8s.io/v1", "ClusterRole")
SECRETS = ref("v1", "Secret")
PERSISTENTVOLUMECLAIMS = ref("v1", "PersistentVolumeClaim")
PERSISTENTVOLUMES = ref("v1", "PersistentVolume")
STORAGECLASSES = ref("storage.k8s.io/v1", "StorageClass")
STATEFULSETS = ref("apps/v1", "StatefulSet")
DAEMONSETS = ref("apps/v1", "DaemonSet")
CONTROLLERREVISIONS = ref("apps/v1", "ControllerRevision")


def namespaced_deletable(table: scheme.Scheme = scheme.DEFAULT) -> list[rest.ResourceRef]:
    """Every stored namespaced resource that can be listed and deleted (one version per group)."""
    out: list[rest.ResourceRef] = []
    seen: set[tuple[str, str]] = set()
    for res in table.resources:
        if not (res.namespaced and res.stored):
            continue
        if "list" not in res.verbs or "delete" not in res.verbs:
            continue
        if (res.group, res.plural) in seen:
            continue
        seen.add((res.group, res.plural))
        out.append(rest.ResourceRef.from_resource(res))
    return out


async def discovered(client: rest.Interface, *verbs: str) -> list[rest.ResourceRef]:
    """Resources the server serves beyond the built-in table (custom resources, aggregated
    APIs) that allow ``verbs``, one version per group: its preferred one. Upstream's
    namespace controller and garbage collector find every resource through discovery;
    here the built-in ones are known already. Empty for clients without discovery."""
    request = getattr(client, "request", None)
    if request is None:
        return []
    builtin = set(scheme.DEFAULT.groups())
    body = await request("GET", "/apis")
    out: list[rest.ResourceRef] = []
    for g in body.get("groups") or []:
        if g.get("name") in builtin:
            continue
        gv = (g.get("preferredVersion") or {}).get("groupVersion")
        if not gv:
            continue
        try:
            listing = await request("GET", f"/apis/{gv}")
        except errors.ApiError:
            continue  # an aggregated API that is down
        group, _, version = str(gv).rpartition("/")
        for r in listing.get("resources") or []:
            if "/" in r.get("name", "") or not set(verbs) <= set(r.get("verbs") or []):
                continue
            out.append(
                rest.ResourceRef(
                    group, version, r["name"], bool(r.get("namespaced")), r.get("kind", "")
                )
            )
    return out

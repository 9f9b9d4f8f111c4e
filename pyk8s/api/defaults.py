"""Defaulting of the common kinds: the values the server fills in when a client leaves
them out.

Mirrors ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Pod``, ``_PodSpec``,
``_Container``, ``_Probe``, ``_Secret``, volume sources...), ``pkg/apis/apps/v1/
defaults.go`` (Deployment, ReplicaSet, StatefulSet, DaemonSet) and
``pkg/apis/batch/v1/defaults.go`` (Job, CronJob). Upstream runs these on every
decode, so both creates and updates get them; so does the store here.
Pure functions on dicts; unknown shapes are left for validation to reject.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

DEFAULT_MODE = 0o644


def _d(obj: Any, key: str) -> Obj:
    """``obj[key]`` as a dict, created when missing (not when it is something else)."""
    v = obj.get(key)
    if v is None:
        v = {}
        obj[key] = v
    return v if isinstance(v, dict) else {}


def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _probe(p: Any) -> None:
    if not isinstance(p, dict):
        return
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)
    http = p.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("scheme", "HTTP")
        http.setdefault("path", "/")


def _container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    image = c.get("image")
    if isinstance(image, str) and image:
        c.setdefault("imagePullPolicy", _image_pull_policy(image))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        if isinstance(env, dict):
            ref = (env.get("valueFrom") or {}).get("fieldRef")
            if isinstance(ref, dict):
                ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))


def _volume(v: Any) -> None:
    if not isinstance(v, dict):
        return
    if all(val is None for key, val in v.items() if key != "name"):
        v["emptyDir"] = {}  # a volume with no source is an emptyDir (SetDefaults_Volume)
    for source in ("configMap", "secret", "downwardAPI", "projected"):
        s = v.get(source)
        if isinstance(s, dict):
            s.setdefault("defaultMode", DEFAULT_MODE)
    for item in ((v.get("downwardAPI") or {}).get("items")) or []:
        ref = item.get("fieldRef") if isinstance(item, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    hp = v.get("hostPath")
    if isinstance(hp, dict):
        hp.setdefault("type", "")


def pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            _container(c)
    for v in spec.get("volumes") or []:
        _volume(v)


def _template(owner_spec: Obj) -> None:
    tmpl = owner_spec.get("template")
    if isinstance(tmpl, dict):
        pod_spec(tmpl.get("spec"))


def pod(obj: Obj) -> None:
    spec = obj.get("spec")
    pod_spec(spec)
    if isinstance(spec, dict):
        # SetDefaults_Pod, not SetDefaults_PodSpec: templates do not get it
        spec.setdefault("enableServiceLinks", True)
    if isinstance(spec, dict) and spec.get("hostNetwork"):
        # A host-network pod listens on the node's ports: hostPort is containerPort
        # (SetDefaults_Pod's defaultHostNetworkPorts; Pods only, not templates).
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or []:
                for port in (c.get("ports") or []) if isinstance(c, dict) else []:
                    cp = port.get("containerPort") if isinstance(port, dict) else None
                    if isinstance(cp, int) and not port.get("hostPort"):
                        port["hostPort"] = cp


def pod_template(obj: Obj) -> None:
    tmpl = obj.get("template")
    if isinstance(tmpl, dict):
        pod_spec(tmpl.get("spec"))


def deployment(obj: Obj) -> None:
    spec = _d(obj, "spec")
    spec.setdefault("replicas", 1)
    strategy = _d(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        ru = _d(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)


def replicaset(obj: Obj) -> None:
    spec = _d(obj, "spec")
    spec.setdefault("replicas", 1)
    _template(spec)


def replication_controller(obj: Obj) -> None:
    spec = _d(obj, "spec")
    spec.setdefault("replicas", 1)
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        md = obj.get("metadata")
        if isinstance(md, dict) and not md.get("labels"):
            md["labels"] = dict(labels)  # an RC without labels takes its template's
    _template(spec)


def statefulset(obj: Obj) -> None:
    spec = _d(obj, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _d(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        _d(strategy, "rollingUpdate").setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    retention = _d(spec, "persistentVolumeClaimRetentionPolicy")
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    _template(spec)
    # the generated defaulter runs SetDefaults_PersistentVolumeClaim on each claim template
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            _d(claim, "status")
            pvc(claim)


def daemonset(obj: Obj) -> None:
    spec = _d(obj, "spec")
    strategy = _d(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        ru = _d(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)


def job_spec(spec: Obj) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    )
    _template(spec)


def job(obj: Obj) -> None:
    job_spec(_d(obj, "spec"))


def cronjob(obj: Obj) -> None:
    spec = _d(obj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    tmpl = spec.get("jobTemplate")
    if isinstance(tmpl, dict):
        js = tmpl.get("spec")
        if isinstance(js, dict):
            _template(js)


def secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")
    # stringData is write-only: merged into data, overriding its keys, on every decode
    # (upstream does it in the v1 -> internal conversion, Convert_v1_Secret_To_core_Secret)
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        data = obj.get("data")
        if data is None:
            data = obj["data"] = {}
        if isinstance(data, dict) and all(isinstance(v, str) for v in string_data.values()):
            for key, value in string_data.items():
                data[key] = base64.b64encode(value.encode()).decode()
            del obj["stringData"]


def _pending_phase(obj: Obj) -> None:
    status = obj.get("status")
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Pending"


def pvc(obj: Obj) -> None:
    _d(obj, "spec").setdefault("volumeMode", "Filesystem")
    _pending_phase(obj)


def pv(obj: Obj) -> None:
    spec = _d(obj, "spec")
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    hp = spec.get("hostPath")
    if isinstance(hp, dict):
        hp.setdefault("type", "")  # SetDefaults_HostPathVolumeSource: HostPathUnset
    _pending_phase(obj)


def storageclass(obj: Obj) -> None:
    """``pkg/apis/storage/v1/defaults.go``: volumes deleted with their claim, bound at once."""
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"


def endpoints(obj: Obj) -> None:
    for subset in obj.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def endpointslice(obj: Obj) -> None:
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("name", "")


def _scaling_rules(rules: Any, default: Obj) -> Obj:
    """``copyHPAScalingRules``: the defaults, overridden by what is set."""
    out = dict(default)
    if isinstance(rules, dict):
        out.update({k: v for k, v in rules.items() if v is not None})
    return out


def horizontalpodautoscaler(obj: Obj) -> None:
    """``pkg/apis/autoscaling/v2/defaults.go``: minReplicas 1, 80% CPU when no metric is
    given, and a given ``behavior`` completed with the default scale-up/down rules."""
    spec = _d(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        target = {"type": "Utilization", "averageUtilization": 80}
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _scaling_rules(
            behavior.get("scaleUp"),
            {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                ],
            },
        )
        behavior["scaleDown"] = _scaling_rules(
            behavior.get("scaleDown"),
            {
                "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            },
        )


def namespace(obj: Obj) -> None:
    """``SetDefaults_Namespace``: the ``kubernetes.io/metadata.name`` label is the name (so the
    creating manager owns it, as upstream's defaulting runs before managedFields are
    tracked); ``SetDefaults_NamespaceStatus``: an empty phase is Active."""
    md = obj.get("metadata")
    if isinstance(md, dict) and md.get("name"):
        labels = md.get("labels")
        if not isinstance(labels, dict):
            labels = md["labels"] = {}
        labels["kubernetes.io/metadata.name"] = md["name"]
    status = obj.get("status")
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Active"


def rbac_binding(obj: Obj) -> None:
    """``pkg/apis/rbac/v1/defaults.go``: the roleRef's group, and User/Group subjects'."""
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in obj.get("subjects") or []:
        user_or_group = isinstance(subject, dict) and subject.get("kind") in ("User", "Group")
        if user_or_group and not subject.get("apiGroup"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def network_policy(obj: Obj) -> None:
    """``pkg/apis/networking/v1/defaults.go``: ports are TCP, and a policy without types is
    an Ingress policy (and an Egress one when it has egress rules)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or [] if isinstance(rule, dict) else []:
                if isinstance(port, dict) and port.get("protocol") is None:
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def ingress_class(obj: Obj) -> None:
    params = (obj.get("spec") or {}).get("parameters")
    if isinstance(params, dict) and params.get("scope") is None:
        params["scope"] = "Cluster"


def limit_range(obj: Obj) -> None:
    """``SetDefaults_LimitRangeItem``: a container's default limit is its max, its default
    request the default limit, else the min."""
    for item in (obj.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = item["default"] if isinstance(item.get("default"), dict) else {}
        request = item["defaultRequest"] if isinstance(item.get("defaultRequest"), dict) else {}
        for key, value in (item.get("max") or {}).items():
            default.setdefault(key, value)
        for key, value in default.items():
            request.setdefault(key, value)
        for key, value in (item.get("min") or {}).items():
            request.setdefault(key, value)
        item["default"], item["defaultRequest"] = default, request


def node(obj: Obj) -> None:
    """``SetDefaults_NodeStatus``: what is allocatable defaults to the capacity."""
    status = obj.get("status")
    if (
        isinstance(status, dict)
        and status.get("allocatable") is None
        and isinstance(status.get("capacity"), dict)
    ):
        status["allocatable"] = dict(status["capacity"])


DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "LimitRange"): limit_range,
    ("", "Node"): node,
    ("networking.k8s.io", "NetworkPolicy"): network_policy,
    ("networking.k8s.io", "IngressClass"): ingress_class,
    ("", "Pod"): pod,
    ("", "PodTemplate"): pod_template,
    ("", "ReplicationController"): replication_controller,
    ("", "Secret"): secret,
    ("", "PersistentVolumeClaim"): pvc,
    ("", "Namespace"): namespace,
    ("", "PersistentVolume"): pv,
    ("", "Endpoints"): endpoints,
    ("apps", "Deployment"): deployment,
    ("apps", "ReplicaSet"): replicaset,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("autoscaling", "HorizontalPodAutoscaler"): horizontalpodautoscaler,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cronjob,
    ("discovery.k8s.io", "EndpointSlice"): endpointslice,
    ("storage.k8s.io", "StorageClass"): storageclass,
    ("rbac.authorization.k8s.io", "RoleBinding"): rbac_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): rbac_binding,
}


def apply(group: str, kind: str, obj: Obj) -> None:
    fn = DEFAULTERS.get((group, kind))
    if fn is not None:
        fn(obj)

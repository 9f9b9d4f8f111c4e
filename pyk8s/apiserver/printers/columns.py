"""The Table columns of each built-in kind, as ``kubectl get`` prints them in 1.33.

Mirrors ``pkg/printers/internalversion/printers.go`` (``AddHandlers``: the
column definitions, priority 1 for ``-o wide``, and the ``print<Kind>`` row
functions). Kinds not listed here use the default Name / Created At table.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyk8s.api.conversion import autoscaling as autoscaling_conversion
from pyk8s.api.conversion import events as events_conversion
from pyk8s.apiserver.printers.table import (
    AGE,
    NAME,
    Column,
    Printer,
    age,
    human_duration,
    name_of,
)

Obj = dict[str, Any]
NONE = "<none>"


def _md(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _age(o: Obj) -> str:
    return age(_md(o).get("creationTimestamp"))


def _wide(name: str, desc: str = "") -> Column:
    return Column(name, description=desc, priority=1)


def _selector_string(sel: Obj | None) -> str:
    """``FormatLabelSelector``: the requirements sorted by key (labels.Selector keeps them
    so), "<none>" when there are none."""
    if not sel:
        return NONE
    parts = [(k, f"{k}={v}") for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator", "")
        key = str(e.get("key", ""))
        vals = ",".join(sorted(set(e.get("values") or [])))
        if op == "In":
            parts.append((key, f"{key} in ({vals})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({vals})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    parts.sort(key=lambda p: p[0])
    return ",".join(p for _, p in parts) if parts else NONE


def _map_selector(sel: Obj | None) -> str:
    if not sel:
        return NONE
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))


def _containers(template_spec: Obj) -> tuple[str, str]:
    cs = template_spec.get("containers") or []
    return (
        ",".join(c.get("name", "") for c in cs),
        ",".join(c.get("image", "") for c in cs),
    )


def _tmpl_spec(o: Obj) -> Obj:
    return (_spec(o).get("template") or {}).get("spec") or {}


_CONTAINERS = _wide("Containers", "Names of each container in the template.")
_IMAGES = _wide("Images", "Images referenced by each container in the template.")
_SELECTOR = _wide("Selector", "Label selector of the objects this one manages.")


# -- pods


@dataclass
class _PodSummary:
    ready: int
    total: int
    reason: str
    restarts: int
    last_restart: str  # RFC 3339, "" when none


def _summarize_pod(pod: Obj) -> _PodSummary:
    """``printPod``'s READY, STATUS and RESTARTS: restartable init containers (sidecars)
    count as containers, init containers decide while the pod initializes, then the
    containers' states (the first one's wins), Terminating while a non-terminal pod goes."""
    status = _status(pod)
    spec = _spec(pod)
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last_restart = last_sidecar_restart = ""

    def finished(cs: Obj) -> str:
        return str(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "")

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        count = int(cs.get("restartCount") or 0)
        restarts += count
        last_restart = max(last_restart, finished(cs))
        sidecar = cs.get("name") in sidecars
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = max(last_sidecar_restart, finished(cs))
        state = cs.get("state") or {}
        term = state.get("terminated")
        waiting = state.get("waiting")
        if term and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode', 0)}"
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    conditions = status.get("conditions") or []
    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions
    )
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = max(last_restart, finished(cs))
            state = cs.get("state") or {}
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term and term.get("signal"):
                reason = f"Signal:{term['signal']}"
            elif term:
                reason = f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
            )
            reason = "Running" if pod_ready else "NotReady"
    if _md(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return _PodSummary(ready, total, reason, restarts, last_restart)


def pod_status_reason(pod: Obj) -> str:
    """The STATUS column (``printPod``)."""
    return _summarize_pod(pod).reason


def _pod_row(pod: Obj) -> list[Any]:
    status = _status(pod)
    summary = _summarize_pod(pod)
    restarts_cell = str(summary.restarts)
    if summary.restarts and summary.last_restart:
        restarts_cell = f"{summary.restarts} ({age(summary.last_restart)} ago)"
    gates = _spec(pod).get("readinessGates") or []
    gates_cell = NONE
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        ok = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_cell = f"{ok}/{len(gates)}"
    ips = status.get("podIPs") or []
    pod_ip = (ips[0].get("ip") if ips and isinstance(ips[0], dict) else "") or status.get("podIP")
    return [
        name_of(pod),
        f"{summary.ready}/{summary.total}",
        summary.reason,
        restarts_cell,
        _age(pod),
        pod_ip or NONE,
        _spec(pod).get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        gates_cell,
    ]


POD = Printer(
    (
        NAME,
        Column("Ready", description="The aggregate readiness state of this pod for serving."),
        Column("Status", description="The aggregate status of the containers in this pod."),
        Column("Restarts", description="The number of times the containers have restarted."),
        AGE,
        _wide("IP", "IP address allocated to the pod."),
        _wide("Node", "Name of the node the pod is assigned to."),
        _wide("Nominated Node", "Node the scheduler nominated for a pending preemption."),
        _wide("Readiness Gates", "Pod readiness gates."),
    ),
    _pod_row,
)


# -- workloads


def _workload_wide(o: Obj) -> list[str]:
    names, images = _containers(_tmpl_spec(o))
    return [names, images, _selector_string(_spec(o).get("selector"))]


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


DEPLOYMENT = Printer(
    (
        NAME,
        Column("Ready", description="Number of ready pods over desired replicas."),
        Column(
            "Up-to-date", "integer", "Total number of non-terminated pods with the newest template."
        ),
        Column("Available", "integer", "Total number of available pods."),
        AGE,
        _CONTAINERS,
        _IMAGES,
        _SELECTOR,
    ),
    lambda o: [
        name_of(o),
        f"{_int(_status(o).get('readyReplicas'))}/{_int(_spec(o).get('replicas'))}",
        _int(_status(o).get("updatedReplicas")),
        _int(_status(o).get("availableReplicas")),
        _age(o),
        *_workload_wide(o),
    ],
)


def _rs_row(o: Obj) -> list[Any]:
    return [
        name_of(o),
        _int(_spec(o).get("replicas")),
        _int(_status(o).get("replicas")),
        _int(_status(o).get("readyReplicas")),
        _age(o),
        *_workload_wide(o),
    ]


REPLICASET = Printer(
    (
        NAME,
        Column("Desired", "integer", "Number of desired pods."),
        Column("Current", "integer", "Number of actual replicas."),
        Column("Ready", "integer", "The number of ready replicas."),
        AGE,
        _CONTAINERS,
        _IMAGES,
        _SELECTOR,
    ),
    _rs_row,
)


def _rc_row(o: Obj) -> list[Any]:
    names, images = _containers(_tmpl_spec(o))
    return [
        name_of(o),
        _int(_spec(o).get("replicas")),
        _int(_status(o).get("replicas")),
        _int(_status(o).get("readyReplicas")),
        _age(o),
        names,
        images,
        _map_selector(_spec(o).get("selector")),
    ]


REPLICATIONCONTROLLER = Printer(REPLICASET.columns, _rc_row)

STATEFULSET = Printer(
    (NAME, Column("Ready", description="Number of ready pods over desired replicas."), AGE,
     _CONTAINERS, _IMAGES),
    lambda o: [
        name_of(o),
        f"{_int(_status(o).get('readyReplicas'))}/{_int(_spec(o).get('replicas'))}",
        _age(o),
        *_workload_wide(o)[:2],
    ],
)  # fmt: skip

DAEMONSET = Printer(
    (
        NAME,
        Column("Desired", "integer", "The number of nodes that should run the daemon pod."),
        Column("Current", "integer", "The number of nodes running at least one daemon pod."),
        Column("Ready", "integer", "The number of nodes with a ready daemon pod."),
        Column("Up-to-date", "integer", "The number of nodes running the updated daemon pod."),
        Column("Available", "integer", "The number of nodes with an available daemon pod."),
        Column("Node Selector", description="Nodes the daemon pod must run on."),
        AGE,
        _CONTAINERS,
        _IMAGES,
        _SELECTOR,
    ),
    lambda o: [
        name_of(o),
        _int(_status(o).get("desiredNumberScheduled")),
        _int(_status(o).get("currentNumberScheduled")),
        _int(_status(o).get("numberReady")),
        _int(_status(o).get("updatedNumberScheduled")),
        _int(_status(o).get("numberAvailable")),
        _map_selector(_tmpl_spec(o).get("nodeSelector")),
        _age(o),
        *_workload_wide(o),
    ],
)


def _job_status(o: Obj) -> str:
    """``printJob``'s STATUS: by precedence, not by the order of the conditions (a failed
    Job has FailureTarget and Failed; a finished one SuccessCriteriaMet and Complete)."""
    true = {c.get("type") for c in _status(o).get("conditions") or [] if c.get("status") == "True"}
    if "Complete" in true:
        return "Complete"
    if "Failed" in true:
        return "Failed"
    if _md(o).get("deletionTimestamp"):
        return "Terminating"
    for t in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if t in true:
            return t
    return "Running"


def _job_duration(o: Obj) -> str:
    from pyk8s.api import meta as _meta

    st = _status(o)
    start = st.get("startTime")
    if not start:
        return ""
    end = st.get("completionTime")
    t0 = _meta.parse_time(start)
    t1 = _meta.parse_time(end) if end else datetime.datetime.now(datetime.UTC)
    return human_duration(t1 - t0)


def _job_completions(o: Obj) -> str:
    spec = _spec(o)
    succeeded = _int(_status(o).get("succeeded"))
    completions = spec.get("completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = _int(spec.get("parallelism", 1))
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


JOB = Printer(
    (
        NAME,
        Column("Status", description="Status of the job."),
        Column("Completions", description="The completion status of the job."),
        Column("Duration", description="Time required to complete the job."),
        AGE,
        _CONTAINERS,
        _IMAGES,
        _SELECTOR,
    ),
    lambda o: [
        name_of(o),
        _job_status(o),
        _job_completions(o),
        _job_duration(o),
        _age(o),
        *_workload_wide(o),
    ],
)


def _cronjob_row(o: Obj) -> list[Any]:
    spec = _spec(o)
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers((job_spec.get("template") or {}).get("spec") or {})
    last = _status(o).get("lastScheduleTime")
    return [
        name_of(o),
        spec.get("schedule", ""),
        spec.get("timeZone") or NONE,
        "True" if spec.get("suspend") else "False",
        len(_status(o).get("active") or []),
        age(last) if last else NONE,
        _age(o),
        names,
        images,
        _selector_string(job_spec.get("selector")),
    ]


CRONJOB = Printer(
    (
        NAME,
        Column("Schedule", description="The schedule in Cron format."),
        Column("Timezone", description="The time zone of the schedule."),
        Column("Suspend", "boolean", "Whether subsequent executions are suspended."),
        Column("Active", "integer", "The number of currently running jobs."),
        Column("Last Schedule", description="When the job was last successfully scheduled."),
        AGE,
        _CONTAINERS,
        _IMAGES,
        _SELECTOR,
    ),
    _cronjob_row,
)


# -- core


def _service_external_ip(o: Obj) -> str:
    spec = _spec(o)
    t = spec.get("type") or "ClusterIP"
    ext = list(spec.get("externalIPs") or [])
    if t in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else NONE
    if t == "ExternalName":
        return str(spec.get("externalName", ""))
    if t == "LoadBalancer":
        addrs = _lb_addresses(_status(o).get("loadBalancer")) + ext
        return ",".join(addrs) if addrs else "<pending>"
    return "<unknown>"


def _service_ports(o: Obj) -> str:
    out = []
    for p in _spec(o).get("ports") or []:
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            out.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            out.append(f"{p.get('port')}/{proto}")
    return ",".join(out) if out else NONE


SERVICE = Printer(
    (
        NAME,
        Column("Type", description="The type of the service."),
        Column("Cluster-IP", description="The IP address of the service in the cluster."),
        Column("External-IP", description="External addresses of the service."),
        Column("Port(s)", description="The ports the service exposes."),
        AGE,
        _wide("Selector", "Pods with these labels receive the service's traffic."),
    ),
    lambda o: [
        name_of(o),
        _spec(o).get("type") or "ClusterIP",
        _spec(o).get("clusterIP") or NONE,
        _service_external_ip(o),
        _service_ports(o),
        _age(o),
        _map_selector(_spec(o).get("selector")),
    ],
)


def _endpoints_cell(o: Obj) -> str:
    """``formatEndpoints``: per subset, per port, per address (a subset without ports lists
    its addresses alone); the first three, "+ N more..."."""
    shown: list[str] = []
    count = 0
    more = False
    for subset in o.get("subsets") or []:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == 3:
                    more = True
                    break
                shown.append(str(a.get("ip", "")))
            continue
        for p in ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == 3:
                    more = True
                    break
                ip = str(a.get("ip", ""))
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{p.get('port', 0)}")
    if not o.get("subsets"):
        return NONE
    out = ",".join(shown)
    return f"{out} + {count - 3} more..." if more else out


ENDPOINTS = Printer(
    (NAME, Column("Endpoints", description="Endpoints of the service."), AGE),
    lambda o: [name_of(o), _endpoints_cell(o), _age(o)],
)

NAMESPACE = Printer(
    (NAME, Column("Status", description="The phase of the namespace."), AGE),
    lambda o: [name_of(o), _status(o).get("phase", ""), _age(o)],
)

CONFIGMAP = Printer(
    (NAME, Column("Data", "integer", "Number of keys in the config map."), AGE),
    lambda o: [name_of(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)],
)

SECRET = Printer(
    (
        NAME,
        Column("Type", description="The type of the secret."),
        Column("Data", "integer", "Number of keys in the secret."),
        AGE,
    ),
    lambda o: [name_of(o), o.get("type", ""), len(o.get("data") or {}), _age(o)],
)

SERVICEACCOUNT = Printer(
    (NAME, Column("Secrets", "integer", "Number of secrets of the service account."), AGE),
    lambda o: [name_of(o), len(o.get("secrets") or []), _age(o)],
)


def _node_status(o: Obj) -> str:
    conds = {c.get("type"): c.get("status") for c in _status(o).get("conditions") or []}
    ready = conds.get("Ready")
    # printNode: any Ready condition not True is "NotReady" (Unknown too); none at all, "Unknown"
    s = "Unknown" if ready is None else ("Ready" if ready == "True" else "NotReady")
    if _spec(o).get("unschedulable"):
        s += ",SchedulingDisabled"
    return s


def _node_roles(o: Obj) -> str:
    roles = set()
    for k, v in (_md(o).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            roles.add(k.split("/", 1)[1])
        elif k == "kubernetes.io/role":
            roles.add(v)
    roles.discard("")
    return ",".join(sorted(roles)) if roles else NONE


def _node_address(o: Obj, kind: str) -> str:
    for a in _status(o).get("addresses") or []:
        if a.get("type") == kind:
            return str(a.get("address", ""))
    return NONE


def _node_row(o: Obj) -> list[Any]:
    info = _status(o).get("nodeInfo") or {}
    return [
        name_of(o),
        _node_status(o),
        _node_roles(o),
        _age(o),
        info.get("kubeletVersion", ""),
        _node_address(o, "InternalIP"),
        _node_address(o, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE = Printer(
    (
        NAME,
        Column("Status", description="The status of the node."),
        Column("Roles", description="The roles of the node."),
        AGE,
        Column("Version", description="Kubelet version."),
        _wide("Internal-IP", "Internal IP of the node."),
        _wide("External-IP", "External IP of the node."),
        _wide("OS-Image", "OS image reported by the node."),
        _wide("Kernel-Version", "Kernel version reported by the node."),
        _wide("Container-Runtime", "Container runtime reported by the node."),
    ),
    _node_row,
)


def _event_row(o: Obj) -> list[Any]:
    """``printEvent``: LAST SEEN is the series' last observation, else lastTimestamp, else
    the first one (firstTimestamp, else eventTime); COUNT the series' count, else count
    (1 for a singleton of the new API)."""
    inv = o.get("involvedObject") or {}
    first = age(o.get("firstTimestamp") or o.get("eventTime"))
    last = age(o.get("lastTimestamp")) if o.get("lastTimestamp") else first
    series = o.get("series")
    if isinstance(series, dict):
        last = age(series.get("lastObservedTime"))
        count = _int(series.get("count"))
    else:
        count = _int(o.get("count")) or 1
    src = o.get("source") or {}
    component = src.get("component") or o.get("reportingComponent") or ""
    instance = src.get("host") or o.get("reportingInstance") or ""
    kind = str(inv.get("kind", "")).lower()
    return [
        last,
        o.get("type", ""),
        o.get("reason", ""),
        f"{kind}/{inv['name']}" if inv.get("name") else kind,
        inv.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        str(o.get("message", "")).strip(),
        first,
        count,
        name_of(o),
    ]


EVENT = Printer(
    (
        Column("Last Seen", description="Time since the event was last observed."),
        Column("Type", description="Type of the event (Normal, Warning)."),
        Column("Reason", description="Why the event happened."),
        Column("Object", description="The object the event is about."),
        _wide("Subobject", "The part of the object the event is about."),
        _wide("Source", "The component that reported the event."),
        Column("Message", description="A human-readable description of the event."),
        _wide("First Seen", "Time since the event was first observed."),
        Column("Count", "integer", "How many times the event occurred.", priority=1),
        Column("Name", format="name", description="Name of the event.", priority=1),
    ),
    _event_row,
)


def _access_modes(modes: list[str] | None) -> str:
    """``GetAccessModesAsString``: each known mode once, in a fixed order."""
    have = set(modes or [])
    short = (
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    )
    return ",".join(abbr for mode, abbr in short if mode in have)


BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def _storage_class(o: Obj) -> str:
    """``GetPersistentVolume(Claim)Class``: the beta annotation wins over the field."""
    annotations = _md(o).get("annotations") or {}
    if BETA_STORAGE_CLASS in annotations:
        return str(annotations[BETA_STORAGE_CLASS])
    return str(_spec(o).get("storageClassName") or "")


def _pvc_row(o: Obj) -> list[Any]:
    spec = _spec(o)
    st = _status(o)
    phase = st.get("phase", "")
    if _md(o).get("deletionTimestamp"):
        phase = "Terminating"
    bound = bool(spec.get("volumeName"))
    return [
        name_of(o),
        phase,
        spec.get("volumeName", ""),
        ((st.get("capacity") or {}).get("storage", "")) if bound else "",
        _access_modes(st.get("accessModes")) if bound else "",
        _storage_class(o),
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(o),
        spec.get("volumeMode") or "Filesystem",
    ]


PVC = Printer(
    (
        NAME,
        Column("Status"),
        Column("Volume"),
        Column("Capacity"),
        Column("Access Modes"),
        Column("StorageClass"),
        Column("VolumeAttributesClass"),
        AGE,
        _wide("VolumeMode"),
    ),
    _pvc_row,
)


def _pv_row(o: Obj) -> list[Any]:
    spec = _spec(o)
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""
    phase = _status(o).get("phase", "")
    if _md(o).get("deletionTimestamp"):
        phase = "Terminating"
    return [
        name_of(o),
        (spec.get("capacity") or {}).get("storage", ""),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim,
        _storage_class(o),
        spec.get("volumeAttributesClassName") or "<unset>",
        _status(o).get("reason", ""),
        _age(o),
        spec.get("volumeMode") or "Filesystem",
    ]


PV = Printer(
    (
        NAME,
        Column("Capacity"),
        Column("Access Modes"),
        Column("Reclaim Policy"),
        Column("Status"),
        Column("Claim"),
        Column("StorageClass"),
        Column("VolumeAttributesClass"),
        Column("Reason"),
        AGE,
        _wide("VolumeMode"),
    ),
    _pv_row,
)


def _quota_cells(o: Obj) -> tuple[str, str]:
    """``printResourceQuota``: ``status.hard`` against ``status.used``, sorted by name; the
    ``limits.*`` names go to the Limit column, everything else to Request."""
    hard = _status(o).get("hard") or {}
    used = _status(o).get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for k in sorted(hard):
        pieces = k.split(".")
        out = limit if len(pieces) > 1 and pieces[0] == "limits" else request
        out.append(f"{k}: {used.get(k, '0')}/{hard[k]}")
    return ", ".join(request), ", ".join(limit)


RESOURCEQUOTA = Printer(
    (NAME, Column("Request"), Column("Limit"), AGE),
    lambda o: [name_of(o), *_quota_cells(o), _age(o)],
)

# -- other groups

LEASE = Printer(
    (NAME, Column("Holder", description="The holder of the lease."), AGE),
    lambda o: [name_of(o), _spec(o).get("holderIdentity", ""), _age(o)],
)

PRIORITYCLASS = Printer(
    (
        NAME,
        Column("Value", "integer"),
        Column("Global-Default", "boolean"),
        AGE,
        Column("PreemptionPolicy"),
    ),
    lambda o: [
        name_of(o),
        _int(o.get("value")),
        bool(o.get("globalDefault")),
        _age(o),
        o.get("preemptionPolicy") or "PreemptLowerPriority",
    ],
)


def _default_class(o: Obj) -> bool:
    """``IsDefaultAnnotation``: the GA or the beta annotation says "true"."""
    annotations = _md(o).get("annotations") or {}
    return "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    )


STORAGECLASS = Printer(
    (
        NAME,
        Column("Provisioner"),
        Column("ReclaimPolicy"),
        Column("VolumeBindingMode"),
        Column("AllowVolumeExpansion", "boolean"),
        AGE,
    ),
    lambda o: [
        name_of(o) + (" (default)" if _default_class(o) else ""),
        o.get("provisioner", ""),
        o.get("reclaimPolicy") or "Delete",
        o.get("volumeBindingMode") or "Immediate",
        bool(o.get("allowVolumeExpansion")),
        _age(o),
    ],
)


def _lb_addresses(lb: Obj | None) -> list[str]:
    """``loadBalancerStatusStringer``: each ingress point's IP, else hostname; sorted, once."""
    ing = (lb or {}).get("ingress") or []
    return sorted(
        {i.get("ip") or i.get("hostname") for i in ing if i.get("ip") or i.get("hostname")}
    )


def _ingress_hosts(rules: list[Obj]) -> str:
    """``formatHosts``: the first three hosts, "+ N more..." counting every further rule."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    out = ",".join(hosts)
    return f"{out} + {len(rules) - 3} more..." if more else out


def _ingress_row(o: Obj) -> list[Any]:
    spec = _spec(o)
    return [
        name_of(o),
        spec.get("ingressClassName") or NONE,
        _ingress_hosts(spec.get("rules") or []),
        ",".join(_lb_addresses(_status(o).get("loadBalancer"))),
        "80, 443" if spec.get("tls") else "80",
        _age(o),
    ]


def _ingress_class_parameters(o: Obj) -> str:
    params = _spec(o).get("parameters")
    if not isinstance(params, dict):
        return NONE
    kind = str(params.get("kind", ""))
    if params.get("apiGroup") is not None:
        kind += "." + str(params["apiGroup"])
    return f"{kind}/{params.get('name', '')}"


INGRESS = Printer(
    (NAME, Column("Class"), Column("Hosts"), Column("Address"), Column("Ports"), AGE),
    _ingress_row,
)

INGRESSCLASS = Printer(
    (NAME, Column("Controller"), Column("Parameters"), AGE),
    lambda o: [name_of(o), _spec(o).get("controller", ""), _ingress_class_parameters(o), _age(o)],
)


def _slice_row(o: Obj) -> list[Any]:
    all_ports = o.get("ports") or []
    ports = [
        str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*")
        for p in all_ports[:3]
    ]
    if len(all_ports) > 3:
        ports[-1] += f" + {len(all_ports) - 3} more..."
    addrs: list[str] = []
    total = 0
    for ep in o.get("endpoints") or []:
        for a in ep.get("addresses") or []:
            total += 1
            if len(addrs) < 3:
                addrs.append(a)
    cell = ",".join(addrs) + (f" + {total - 3} more..." if total > 3 else "")
    return [
        name_of(o),
        o.get("addressType", ""),
        ",".join(ports) if ports else "<unset>",
        cell or "<unset>",
        _age(o),
    ]


ENDPOINTSLICE = Printer(
    (NAME, Column("AddressType"), Column("Ports"), Column("Endpoints"), AGE),
    _slice_row,
)


def _binding_row(o: Obj) -> list[Any]:
    ref = o.get("roleRef") or {}
    subjects = o.get("subjects") or []

    def names(kind: str) -> str:
        out = []
        for s in subjects:
            if s.get("kind") != kind:
                continue
            if kind == "ServiceAccount":
                out.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
            else:
                out.append(str(s.get("name", "")))
        return ", ".join(out)

    return [
        name_of(o),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(o),
        names("User"),
        names("Group"),
        names("ServiceAccount"),
    ]


BINDING = Printer(
    (NAME, Column("Role"), AGE, _wide("Users"), _wide("Groups"), _wide("ServiceAccounts")),
    _binding_row,
)


def _hpa_metric(spec: Obj, status: Obj | None) -> str:
    """One entry of ``formatHPAMetrics``; ``status`` is the current metric at the same index."""
    kind = spec.get("type")
    unknown = "<unknown>"
    if kind in ("External", "Object"):
        key = "external" if kind == "External" else "object"
        target = (spec.get(key) or {}).get("target") or {}
        cur = ((status or {}).get(key) or {}).get("current") if status else None
        if target.get("averageValue") is not None:
            have = (cur or {}).get("averageValue") if cur is not None else None
            return f"{have if have is not None else unknown}/{target['averageValue']} (avg)"
        have = (cur or {}).get("value") if cur is not None else None
        return f"{have if have is not None else unknown}/{target.get('value', '0')}"
    if kind == "Pods":
        target = ((spec.get("pods") or {}).get("target") or {}).get("averageValue", "0")
        cur = ((status or {}).get("pods") or {}).get("current") if status else None
        have = (cur or {}).get("averageValue") if cur is not None else None
        return f"{have if have is not None else unknown}/{target}"
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        source = spec.get(key) or {}
        name = source.get("name", "")
        target = source.get("target") or {}
        cur = ((status or {}).get(key) or {}).get("current") if status else None
        if target.get("averageValue") is not None:
            have = (cur or {}).get("averageValue") if cur is not None else None
            return f"{name}: {have if have is not None else unknown}/{target['averageValue']}"
        util = (cur or {}).get("averageUtilization") if cur is not None else None
        have = f"{util}%" if util is not None else unknown
        want = target.get("averageUtilization")
        return f"{name}: {have}/{f'{want}%' if want is not None else '<auto>'}"
    return "<unknown type>"


def _hpa_targets(o: Obj) -> str:
    """``formatHPAMetrics``: each metric spec against the current metric at its index, two
    at most and "+ N more..."."""
    if o.get("apiVersion") == "autoscaling/v1":
        o = autoscaling_conversion.to_v2(o)
    specs = _spec(o).get("metrics") or []
    if not specs:
        return NONE
    statuses = _status(o).get("currentMetrics") or []
    parts = [
        _hpa_metric(m, statuses[i] if i < len(statuses) else None) for i, m in enumerate(specs)
    ]
    if len(parts) > 2:
        return ", ".join(parts[:2]) + f" + {len(parts) - 2} more..."
    return ", ".join(parts)


HPA = Printer(
    (
        NAME,
        Column("Reference"),
        Column("Targets"),
        Column("MinPods"),
        Column("MaxPods", "integer"),
        Column("Replicas", "integer"),
        AGE,
    ),
    lambda o: [
        name_of(o),
        f"{(_spec(o).get('scaleTargetRef') or {}).get('kind', '')}/"
        f"{(_spec(o).get('scaleTargetRef') or {}).get('name', '')}",
        _hpa_targets(o),
        str(_spec(o)["minReplicas"]) if _spec(o).get("minReplicas") is not None else "<unset>",
        _int(_spec(o).get("maxReplicas")),
        _int(_status(o).get("currentReplicas")),
        _age(o),
    ],
)

PDB = Printer(
    (
        NAME,
        Column("Min Available"),
        Column("Max Unavailable"),
        Column("Allowed Disruptions", "integer"),
        AGE,
    ),
    lambda o: [
        name_of(o),
        str(_spec(o).get("minAvailable", "N/A")),
        str(_spec(o).get("maxUnavailable", "N/A")),
        _int(_status(o).get("disruptionsAllowed")),
        _age(o),
    ],
)

NETWORKPOLICY = Printer(
    (NAME, Column("Pod-Selector"), AGE),
    lambda o: [
        name_of(o),
        "" if not _spec(o).get("podSelector") else _selector_string(_spec(o).get("podSelector")),
        _age(o),
    ],
)


def _csr_condition(o: Obj) -> str:
    """``extractCSRStatus``: Denied, else Approved, else Pending; then ",Failed" and
    ",Issued" (a certificate is there)."""
    types = {c.get("type") for c in _status(o).get("conditions") or []}
    status = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        status += ",Failed"
    if _status(o).get("certificate"):
        status += ",Issued"
    return status


CSR = Printer(
    (
        NAME,
        AGE,
        Column("SignerName"),
        Column("Requestor"),
        Column("RequestedDuration"),
        Column("Condition"),
    ),
    lambda o: [
        name_of(o),
        _age(o),
        _spec(o).get("signerName", ""),
        _spec(o).get("username", ""),
        NONE
        if _spec(o).get("expirationSeconds") is None
        else f"{_int(_spec(o).get('expirationSeconds')) // 60}m",
        _csr_condition(o),
    ],
)

RUNTIMECLASS = Printer(
    (NAME, Column("Handler"), AGE), lambda o: [name_of(o), o.get("handler", ""), _age(o)]
)


def _group_kind_name(ref: Obj) -> str:
    """``formatResourceName`` with the kind: ``kind.group/name`` (``kind/name`` in core)."""
    api_version = str(ref.get("apiVersion", ""))
    group = api_version.partition("/")[0] if "/" in api_version else ""
    kind = str(ref.get("kind", "")) + (f".{group}" if group else "")
    return f"{kind.lower()}/{ref.get('name', '')}"


CONTROLLERREVISION = Printer(
    (NAME, Column("Controller"), Column("Revision", "integer"), AGE),
    lambda o: [
        name_of(o),
        next(
            (
                _group_kind_name(r)
                for r in _md(o).get("ownerReferences") or []
                if r.get("controller")
            ),
            NONE,
        ),
        _int(o.get("revision")),
        _age(o),
    ],
)

WEBHOOKS = Printer(
    (NAME, Column("Webhooks", "integer"), AGE),
    lambda o: [name_of(o), len(o.get("webhooks") or []), _age(o)],
)

PODTEMPLATE = Printer(
    (NAME, Column("Containers"), Column("Images"), Column("Pod Labels")),
    lambda o: [
        name_of(o),
        *_containers((o.get("template") or {}).get("spec") or {}),
        _map_selector(((o.get("template") or {}).get("metadata") or {}).get("labels")),
    ],
)


def _apiservice_available(o: Obj) -> str:
    """kube-aggregator's table: the Available condition's status, with its reason when it
    is not True ("False (MissingEndpoints)")."""
    for c in _status(o).get("conditions") or []:
        if c.get("type") == "Available":
            status = str(c.get("status", ""))
            if status != "True" and c.get("reason"):
                return f"{status} ({c['reason']})"
            return status
    return "Unknown"


APISERVICE = Printer(
    (NAME, Column("Service"), Column("Available"), AGE),
    lambda o: [
        name_of(o),
        "Local"
        if not _spec(o).get("service")
        else f"{_spec(o)['service'].get('namespace')}/{_spec(o)['service'].get('name')}",
        _apiservice_available(o),
        _age(o),
    ],
)


def _cs_row(o: Obj) -> list[Any]:
    cond: Obj = next((c for c in o.get("conditions") or [] if c.get("type") == "Healthy"), {})
    status = {"True": "Healthy", "False": "Unhealthy"}.get(cond.get("status", ""), "Unknown")
    return [name_of(o), status, cond.get("message", ""), cond.get("error", "")]


COMPONENTSTATUS = Printer(
    (NAME, Column("Status"), Column("Message"), Column("Error")),
    _cs_row,
)


def _ip_parent(o: Obj) -> str:
    """``printIPAddress``: resource[.group][/namespace]/name, lower case."""
    ref = _spec(o).get("parentRef")
    if not isinstance(ref, dict):
        return NONE
    gr = str(ref.get("resource", "")) + (f".{ref['group']}" if ref.get("group") else "")
    out = gr.lower()
    if ref.get("namespace"):
        out += "/" + str(ref["namespace"])
    return out + "/" + str(ref.get("name", ""))


IPADDRESS = Printer((NAME, Column("ParentRef")), lambda o: [name_of(o), _ip_parent(o)])

SERVICECIDR = Printer(
    (NAME, Column("CIDRs"), AGE),
    lambda o: [name_of(o), ",".join(_spec(o).get("cidrs") or []), _age(o)],
)

VOLUMEATTACHMENT = Printer(
    (NAME, Column("Attacher"), Column("PV"), Column("Node"), Column("Attached", "boolean"), AGE),
    lambda o: [
        name_of(o),
        _spec(o).get("attacher", ""),
        (_spec(o).get("source") or {}).get("persistentVolumeName", ""),
        _spec(o).get("nodeName", ""),
        bool(_status(o).get("attached")),
        _age(o),
    ],
)

CSINODE = Printer(
    (NAME, Column("Drivers", "integer"), AGE),
    lambda o: [name_of(o), len(_spec(o).get("drivers") or []), _age(o)],
)

CSIDRIVER = Printer(
    (
        NAME,
        Column("AttachRequired", "boolean"),
        Column("PodInfoOnMount", "boolean"),
        Column("StorageCapacity", "boolean"),
        Column("TokenRequests"),
        Column("RequiresRepublish", "boolean"),
        Column("Modes"),
        AGE,
    ),
    lambda o: [
        name_of(o),
        _spec(o).get("attachRequired", True),
        bool(_spec(o).get("podInfoOnMount")),
        bool(_spec(o).get("storageCapacity")),
        (
            ",".join(t.get("audience", "") for t in _spec(o)["tokenRequests"])
            if isinstance(_spec(o).get("tokenRequests"), list)
            else "<unset>"
        ),
        bool(_spec(o).get("requiresRepublish")),
        ",".join(_spec(o).get("volumeLifecycleModes") or []) or NONE,
        _age(o),
    ],
)

CSISTORAGECAPACITY = Printer(
    (NAME, Column("StorageClassName"), Column("Capacity")),
    lambda o: [name_of(o), o.get("storageClassName", ""), o.get("capacity") or "<unset>"],
)

FLOWSCHEMA = Printer(
    (
        NAME,
        Column("PriorityLevel"),
        Column("MatchingPrecedence", "integer"),
        Column("DistinguisherMethod"),
        AGE,
        Column("MissingPL"),
    ),
    lambda o: [
        name_of(o),
        (_spec(o).get("priorityLevelConfiguration") or {}).get("name", ""),
        _int(_spec(o).get("matchingPrecedence")),
        (_spec(o).get("distinguisherMethod") or {}).get("type", NONE),
        _age(o),
        next(
            (
                c.get("status", "?")
                for c in _status(o).get("conditions") or []
                if c.get("type") == "Dangling"
            ),
            "?",
        ),
    ],
)


def _plc_row(o: Obj) -> list[Any]:
    spec = _spec(o)
    limited = spec.get("limited") or {}
    queuing = ((limited.get("limitResponse") or {}).get("queuing")) or {}
    has_queues = bool(queuing)
    return [
        name_of(o),
        spec.get("type", ""),
        limited.get("nominalConcurrencyShares", "<none>") if limited else "<none>",
        queuing.get("queues", "<none>") if has_queues else "<none>",
        queuing.get("handSize", "<none>") if has_queues else "<none>",
        queuing.get("queueLengthLimit", "<none>") if has_queues else "<none>",
        _age(o),
    ]


PRIORITYLEVEL = Printer(
    (
        NAME,
        Column("Type"),
        Column("NominalConcurrencyShares"),
        Column("Queues"),
        Column("HandSize"),
        Column("QueueLengthLimit"),
        AGE,
    ),
    _plc_row,
)


def _param_kind(o: Obj) -> str:
    kind = _spec(o).get("paramKind")
    if not isinstance(kind, dict):
        return "<unset>"
    return f"{kind.get('apiVersion', '')}/{kind.get('kind', '')}"


def _param_ref(o: Obj) -> str:
    """``printValidatingAdmissionPolicyBinding``: namespace/name, */name when the namespace
    is not known, else the selector."""
    ref = _spec(o).get("paramRef")
    if not isinstance(ref, dict):
        return "<unset>"
    if ref.get("name"):
        return f"{ref.get('namespace') or '*'}/{ref['name']}"
    if isinstance(ref.get("selector"), dict):
        selector = _selector_string(ref["selector"])
        return "" if selector == NONE else selector
    return "<unset>"


VAP = Printer(
    (NAME, Column("Validations", "integer"), Column("ParamKind"), AGE),
    lambda o: [name_of(o), len(_spec(o).get("validations") or []), _param_kind(o), _age(o)],
)

VAPB = Printer(
    (NAME, Column("PolicyName"), Column("ParamRef"), AGE),
    lambda o: [name_of(o), _spec(o).get("policyName", ""), _param_ref(o), _age(o)],
)

SCALE = Printer(
    (
        Column("Name", description="Name must be unique within a namespace."),
        Column("Desired", "integer", "desired number of instances for the scaled object."),
        Column("Available", "integer", "actual number of observed instances of the scaled object."),
        AGE,
    ),
    lambda o: [
        name_of(o),
        _int(_spec(o).get("replicas")),
        _int(_status(o).get("replicas")),
        _age(o),
    ],
)
"""``printScale``: what ``kubectl get <workload> --subresource=scale`` prints."""

EVENTS_V1 = Printer(EVENT.columns, lambda o: _event_row(events_conversion.to_core(o)))

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "componentstatuses"): COMPONENTSTATUS,
    ("networking.k8s.io", "ipaddresses"): IPADDRESS,
    ("networking.k8s.io", "servicecidrs"): SERVICECIDR,
    ("storage.k8s.io", "volumeattachments"): VOLUMEATTACHMENT,
    ("storage.k8s.io", "csinodes"): CSINODE,
    ("storage.k8s.io", "csidrivers"): CSIDRIVER,
    ("storage.k8s.io", "csistoragecapacities"): CSISTORAGECAPACITY,
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): FLOWSCHEMA,
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): PRIORITYLEVEL,
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): VAP,
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): VAPB,
    ("events.k8s.io", "events"): EVENTS_V1,
    ("", "pods"): POD,
    ("", "podtemplates"): PODTEMPLATE,
    ("", "replicationcontrollers"): REPLICATIONCONTROLLER,
    ("", "services"): SERVICE,
    ("", "endpoints"): ENDPOINTS,
    ("", "namespaces"): NAMESPACE,
    ("", "configmaps"): CONFIGMAP,
    ("", "secrets"): SECRET,
    ("", "serviceaccounts"): SERVICEACCOUNT,
    ("", "nodes"): NODE,
    ("", "events"): EVENT,
    ("", "persistentvolumeclaims"): PVC,
    ("", "persistentvolumes"): PV,
    ("", "resourcequotas"): RESOURCEQUOTA,
    ("apps", "deployments"): DEPLOYMENT,
    ("apps", "replicasets"): REPLICASET,
    ("apps", "statefulsets"): STATEFULSET,
    ("apps", "daemonsets"): DAEMONSET,
    ("apps", "controllerrevisions"): CONTROLLERREVISION,
    ("batch", "jobs"): JOB,
    ("batch", "cronjobs"): CRONJOB,
    ("coordination.k8s.io", "leases"): LEASE,
    ("scheduling.k8s.io", "priorityclasses"): PRIORITYCLASS,
    ("storage.k8s.io", "storageclasses"): STORAGECLASS,
    ("networking.k8s.io", "ingresses"): INGRESS,
    ("networking.k8s.io", "ingressclasses"): INGRESSCLASS,
    ("networking.k8s.io", "networkpolicies"): NETWORKPOLICY,
    ("discovery.k8s.io", "endpointslices"): ENDPOINTSLICE,
    ("rbac.authorization.k8s.io", "rolebindings"): BINDING,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): BINDING,
    ("autoscaling", "horizontalpodautoscalers"): HPA,
    ("policy", "poddisruptionbudgets"): PDB,
    ("certificates.k8s.io", "certificatesigningrequests"): CSR,
    ("node.k8s.io", "runtimeclasses"): RUNTIMECLASS,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): WEBHOOKS,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): WEBHOOKS,
    ("apiregistration.k8s.io", "apiservices"): APISERVICE,
}

PrinterLookup = Callable[[str, str], Printer | None]


def lookup(group: str, plural: str) -> Printer | None:
    return PRINTERS.get((group, plural))

"""The pod's API status from its spec and the runtime's view of it.

Mirrors ``pkg/kubelet/kubelet_pods.go`` (``generateAPIPodStatus``, ``getPhase``,
``convertToAPIContainerStatuses``), ``pkg/kubelet/status/generate.go``
(``GeneratePodReadyCondition``, ``GenerateContainersReadyCondition``,
``GeneratePodInitializedCondition``, ``GeneratePodReadyToStartContainersCondition``) and
``pkg/apis/core/v1/helper/qos/qos.go`` (``GetPodQOS``). Pure: every input is an argument.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.kubelet.runtime import actions
from pyk8s.kubelet.runtime.interface import ContainerState, ContainerStatus, SandboxState

Obj = dict[str, Any]
OWN_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")


@dataclass
class Observed:
    """What the pod worker learnt that the runtime does not record."""

    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    """container name → (reason, message) of why it is not running (ErrImagePull...)."""
    ready: dict[str, bool] = field(default_factory=dict)  # container id → readiness result
    started: dict[str, bool] = field(default_factory=dict)  # container id → startup result


def rfc3339(ns: int) -> str:
    t = datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def qos_class(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    all_c = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    guaranteed = True
    for c in all_c:
        res = c.get("resources") or {}
        req = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        requests.update(req)
        limits.update(lim)
        if set(lim) != {"cpu", "memory"}:
            guaranteed = False
        for k, v in req.items():
            if lim.get(k) != v:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _terminated(cs: ContainerStatus) -> Obj:
    t: Obj = {
        "exitCode": cs.exit_code,
        "reason": cs.reason or ("Completed" if cs.exit_code == 0 else "Error"),
        "startedAt": rfc3339(cs.started_at) if cs.started_at else None,
        "finishedAt": rfc3339(cs.finished_at) if cs.finished_at else None,
        "containerID": f"runc://{cs.id}",
    }
    if cs.message:
        t["message"] = cs.message
    return t


def _container_status(
    spec: Mapping[str, Any],
    status: actions.PodStatus,
    observed: Observed,
    default_waiting: str,
    is_init: bool,
) -> Obj:
    name = spec["name"]
    found = sorted(
        (c for c in status.containers if c.metadata.name == name),
        key=lambda c: c.created_at,
        reverse=True,
    )
    cur = found[0] if found else None
    prev = found[1] if len(found) > 1 else None
    out: Obj = {
        "name": name,
        "image": spec.get("image", ""),
        "imageID": "",
        "ready": False,
        "restartCount": cur.metadata.attempt if cur else 0,
        "started": False,
        "state": {},
        "lastState": {},
    }
    waiting = observed.waiting.get(name)
    if cur is None:
        reason, message = waiting or (default_waiting, "")
        out["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        return out
    out["containerID"] = f"runc://{cur.id}"
    out["imageID"] = cur.image_ref
    if cur.state == ContainerState.RUNNING:
        out["state"] = {"running": {"startedAt": rfc3339(cur.started_at or cur.created_at)}}
        started = observed.started.get(cur.id, not spec.get("startupProbe"))
        out["started"] = started
        if spec.get("readinessProbe"):
            out["ready"] = started and observed.ready.get(cur.id, False)
        else:
            out["ready"] = started and (not is_init or True)
        if prev is not None and prev.state == ContainerState.EXITED:
            out["lastState"] = {"terminated": _terminated(prev)}
    elif cur.state == ContainerState.EXITED:
        if waiting is not None:
            reason, message = waiting
            out["state"] = {"waiting": {"reason": reason, "message": message}}
            out["lastState"] = {"terminated": _terminated(cur)}
        else:
            out["state"] = {"terminated": _terminated(cur)}
            if prev is not None and prev.state == ContainerState.EXITED:
                out["lastState"] = {"terminated": _terminated(prev)}
    else:
        reason, message = waiting or ("ContainerCreating", "")
        out["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
    if is_init and not actions.is_restartable_init_container(spec):
        out["ready"] = cur.state == ContainerState.EXITED and cur.exit_code == 0
        out["started"] = cur.state == ContainerState.RUNNING
    return out


def _ephemeral_status(st: Obj) -> Obj:
    st["ready"] = False
    del st["started"]
    return st


def _initialized(pod: Obj, init_statuses: list[Obj]) -> bool:
    inits = (pod.get("spec") or {}).get("initContainers") or []
    for spec, st in zip(inits, init_statuses, strict=True):
        if actions.is_restartable_init_container(spec):
            if not st.get("started"):
                return False
        elif "terminated" not in st["state"] or st["state"]["terminated"]["exitCode"] != 0:
            return False
    return True


def phase(pod: Obj, init_statuses: list[Obj], statuses: list[Obj], initialized: bool) -> str:
    """``getPhase``."""
    policy = actions.restart_policy(pod)
    if not initialized:
        for st in init_statuses:
            term = st["state"].get("terminated") or (st["lastState"] or {}).get("terminated")
            if (
                policy == "Never"
                and term
                and term["exitCode"] != 0
                and "waiting" not in st["state"]
            ):
                return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for st in statuses:
        state = st["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"]["exitCode"] == 0:
                succeeded += 1
        elif "waiting" in state:
            if (st.get("lastState") or {}).get("terminated"):
                stopped += 1
            else:
                waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if policy == "Always":
            return "Running"
        if policy == "OnFailure":
            return "Succeeded" if stopped == succeeded else "Running"
        return "Succeeded" if stopped == succeeded else "Failed"
    return "Pending"


def _condition(
    type_: str, ok: bool, now: str, old: Mapping[str, Obj], reason: str = "", message: str = ""
) -> Obj:
    status = "True" if ok else "False"
    prev = old.get(type_) or {}
    c: Obj = {
        "type": type_,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": prev.get("lastTransitionTime")
        if prev.get("status") == status
        else now,
    }
    if not ok and reason:
        c["reason"] = reason
        if message:
            c["message"] = message
    return c


def generate(
    pod: Obj,
    status: actions.PodStatus,
    observed: Observed,
    *,
    host_ip: str,
    now: str,
    terminating: bool = False,
) -> Obj:
    """The status the kubelet writes for ``pod`` (``generateAPIPodStatus``)."""
    spec = pod.get("spec") or {}
    old_status = pod.get("status") or {}
    old_conds = {c.get("type", ""): c for c in old_status.get("conditions") or []}
    inits = list(spec.get("initContainers") or [])
    init_statuses = [_container_status(c, status, observed, "PodInitializing", True) for c in inits]
    initialized = _initialized(pod, init_statuses)
    statuses = [
        _container_status(
            c, status, observed, "ContainerCreating" if initialized else "PodInitializing", False
        )
        for c in spec.get("containers") or []
    ]
    ph = phase(pod, init_statuses, statuses, initialized)
    if old_status.get("phase") in ("Succeeded", "Failed"):
        ph = old_status["phase"]  # terminal phases never change back
    sandbox = status.latest_sandbox()
    sandbox_ready = sandbox is not None and sandbox.state == SandboxState.READY
    unready = [s["name"] for s in statuses if not s["ready"]]
    unready_msg = f"containers with unready status: [{' '.join(unready)}]"
    gates_ok = all(
        (old_conds.get(g.get("conditionType", "")) or {}).get("status") == "True"
        for g in spec.get("readinessGates") or []
    )
    all_ready = not unready and ph == "Running"
    not_init = [s["name"] for s, c in zip(init_statuses, inits, strict=True) if not s["ready"]]
    conds = [
        _condition("PodReadyToStartContainers", sandbox_ready, now, old_conds),
        _condition(
            "Initialized",
            initialized,
            now,
            old_conds,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(not_init)}]",
        ),
        _condition(
            "Ready",
            all_ready and gates_ok,
            now,
            old_conds,
            "PodCompleted" if ph in ("Succeeded", "Failed") else "ContainersNotReady",
            "" if ph in ("Succeeded", "Failed") else unready_msg,
        ),
        _condition(
            "ContainersReady",
            all_ready,
            now,
            old_conds,
            "PodCompleted" if ph in ("Succeeded", "Failed") else "ContainersNotReady",
            "" if ph in ("Succeeded", "Failed") else unready_msg,
        ),
    ]
    others = [c for t, c in old_conds.items() if t not in OWN_CONDITIONS]
    out: Obj = {
        "phase": ph,
        "conditions": others + conds,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": old_status.get("startTime") or now,
        "qosClass": old_status.get("qosClass") or qos_class(pod),
        "containerStatuses": statuses,
    }
    if inits:
        out["initContainerStatuses"] = init_statuses
    ephemeral = list(spec.get("ephemeralContainers") or [])
    if ephemeral:
        # never ready (they have no probes) and never restarted; the prober manager sets
        # ``started`` on the regular and init containers' statuses only
        out["ephemeralContainerStatuses"] = [
            _ephemeral_status(_container_status(c, status, observed, "ContainerCreating", False))
            for c in ephemeral
        ]
    ips = list(sandbox.ips) if sandbox is not None else []
    if spec.get("hostNetwork"):
        ips = [host_ip]
    if ips:
        out["podIP"] = ips[0]
        out["podIPs"] = [{"ip": ip} for ip in ips]
    if terminating:
        for s in statuses + init_statuses:
            s["ready"] = False
    return out

"""Small builders for pods and nodes as the API returns them (upstream's st.MakePod())."""

from __future__ import annotations

import itertools
from typing import Any

from pyk8s.scheduler.framework.types import NodeInfo

_uid = itertools.count(1)


def pod(
    name: str = "p",
    namespace: str = "default",
    *,
    cpu: str | None = None,
    memory: str | None = None,
    labels: dict[str, str] | None = None,
    node: str = "",
    priority: int | None = None,
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    overhead: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    node_selector: dict[str, str] | None = None,
    affinity: dict[str, Any] | None = None,
    spread: list[dict[str, Any]] | None = None,
    host_ports: list[int] | None = None,
    scheduler_name: str | None = None,
    gates: list[str] | None = None,
    image: str = "nginx",
    uid: str | None = None,
    owner: dict[str, Any] | None = None,
    start_time: str | None = None,
    nominated: str | None = None,
    preemption_policy: str | None = None,
) -> dict[str, Any]:
    requests: dict[str, str] = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    c: dict[str, Any] = {"name": "c", "image": image}
    if requests:
        c["resources"] = {"requests": requests}
    if host_ports:
        c["ports"] = [{"containerPort": p, "hostPort": p, "protocol": "TCP"} for p in host_ports]
    spec: dict[str, Any] = {"containers": containers if containers is not None else [c]}
    if init_containers:
        spec["initContainers"] = init_containers
    if overhead:
        spec["overhead"] = overhead
    if node:
        spec["nodeName"] = node
    if priority is not None:
        spec["priority"] = priority
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    if affinity:
        spec["affinity"] = affinity
    if spread:
        spec["topologySpreadConstraints"] = spread
    if scheduler_name:
        spec["schedulerName"] = scheduler_name
    if gates:
        spec["schedulingGates"] = [{"name": g} for g in gates]
    if preemption_policy:
        spec["preemptionPolicy"] = preemption_policy
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": uid or f"uid-{name}-{next(_uid)}",
    }
    if labels:
        meta["labels"] = labels
    if owner:
        meta["ownerReferences"] = [owner]
    status: dict[str, Any] = {}
    if start_time:
        status["startTime"] = start_time
    if nominated:
        status["nominatedNodeName"] = nominated
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def container(
    name: str = "c",
    *,
    cpu: str | None = None,
    memory: str | None = None,
    restart: str | None = None,
) -> dict[str, Any]:
    requests = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    c: dict[str, Any] = {"name": name, "image": "busybox", "resources": {"requests": requests}}
    if restart:
        c["restartPolicy"] = restart
    return c


def node(
    name: str = "n",
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
    images: list[tuple[list[str], int]] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    status: dict[str, Any] = {"allocatable": alloc, "capacity": dict(alloc)}
    if images:
        status["images"] = [{"names": n, "sizeBytes": s} for n, s in images]
    all_labels = {"kubernetes.io/hostname": name, **(labels or {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": spec,
        "status": status,
    }


def node_info(n: dict[str, Any], *pods: dict[str, Any]) -> NodeInfo:
    return NodeInfo(n, pods)


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, Any]:
    t = {"key": key, "effect": effect}
    if value:
        t["value"] = value
    return t

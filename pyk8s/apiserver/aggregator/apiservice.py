"""APIService helpers and the local APIServices of the built-in groups.

Mirrors ``pkg/controlplane/apiserver/aggregator.go`` (``makeAPIService``: one APIService
``<version>.<group>`` without ``spec.service`` per group-version the server itself serves,
with upstream's group and version priorities) and the kube-aggregator's local status
controller (``pkg/controllers/status/local``: a local APIService is ``Available`` with
reason ``Local``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyk8s.api import meta, scheme

Obj = dict[str, Any]

GROUP = "apiregistration.k8s.io"
PLURAL = "apiservices"
AVAILABLE = "Available"

# (group, version) -> (groupPriorityMinimum, versionPriority): upstream's table for the
# groups pyk8s serves; a group-version not listed gets a priority below all of them.
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("apiregistration.k8s.io", "v1"): (18000, 15),
}
FALLBACK_PRIORITY = (15000, 9)
CUSTOM_PRIORITY = (1000, 100)
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"


def name_of(group: str, version: str) -> str:
    return f"{version}.{group}"


@dataclass(frozen=True)
class ServiceRef:
    """``spec.service`` of an APIService that an extension server answers."""

    namespace: str
    name: str
    port: int


def service_of(obj: Obj) -> ServiceRef | None:
    svc = (obj.get("spec") or {}).get("service")
    if not svc:
        return None
    return ServiceRef(svc.get("namespace", ""), svc.get("name", ""), int(svc.get("port") or 443))


def condition(obj: Obj, type_: str = AVAILABLE) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def is_available(obj: Obj) -> bool:
    c = condition(obj)
    return c is not None and c.get("status") == "True"


def with_condition(obj: Obj, status: str, reason: str, message: str) -> Obj:
    """A copy of ``obj`` with its Available condition set (``SetAPIServiceCondition``: the
    transition time moves only when the status does)."""
    old = condition(obj)
    new: Obj = {
        "type": AVAILABLE,
        "status": status,
        "lastTransitionTime": meta.now(),
        "reason": reason,
        "message": message,
    }
    if old is not None and old.get("status") == status and old.get("lastTransitionTime"):
        new["lastTransitionTime"] = old["lastTransitionTime"]
    others = [
        c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") != AVAILABLE
    ]
    return {**obj, "status": {**(obj.get("status") or {}), "conditions": [*others, new]}}


def same_condition(a: Obj | None, b: Obj | None) -> bool:
    keys = ("status", "reason", "message")
    if a is None or b is None:
        return a is b
    return all(a.get(k) == b.get(k) for k in keys)


def local(group: str, version: str) -> Obj:
    """A built-in group-version's (``onstart``) or a custom resource's (``true``, priorities
    1000 and 100 as ``crdregistration_controller.go`` gives them)."""
    builtin = (group, version) in PRIORITIES or group.endswith(".k8s.io") or "." not in group
    if builtin:
        group_priority, version_priority = PRIORITIES.get((group, version), FALLBACK_PRIORITY)
    else:
        group_priority, version_priority = CUSTOM_PRIORITY
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "APIService",
        "metadata": {
            "name": name_of(group, version),
            "labels": {AUTOMANAGED: "onstart" if builtin else "true"},
        },
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": group_priority,
            "versionPriority": version_priority,
        },
    }


def locals_of(table: scheme.Scheme) -> list[Obj]:
    """The local APIServices of every group-version the table serves."""
    return [local(gv.group, gv.version) for gv in table.group_versions()]


LOCAL_REASON = "Local"
LOCAL_MESSAGE = "Local APIServices are always available"


def stale_custom(obj: Obj, wanted: set[str]) -> bool:
    """A local APIService we made for a custom resource group-version no longer served."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return (
        labels.get(AUTOMANAGED) == "true"
        and service_of(obj) is None
        and obj["metadata"]["name"] not in wanted
    )

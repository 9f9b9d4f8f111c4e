"""What makes a pod a StatefulSet member: its ordinal, name, labels, claims and revision.

Mirrors ``pkg/controller/statefulset/stateful_set_utils.go``: ordinals parsed from pod
names (``getParentNameAndOrdinal``), ``spec.ordinals.start``, identity (name,
``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index`` labels,
``hostname``/``subdomain``), storage (one PVC per volumeClaimTemplate named
``<template>-<set>-<ordinal>``), the PVC retention policy's owner references
(``isClaimOwnerUpToDate``, ``updateClaimOwnerRefForSetAndPod``), pod revisions,
``newVersionedStatefulSetPod``, ``completeRollingUpdate`` and ``inconsistentStatus``.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Mapping
from typing import Any

from pyk8s.controllers import ownership, pods

Object = Mapping[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
RETAIN = "Retain"
DELETE = "Delete"

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(pod: Object) -> tuple[str, int]:
    m = _ORDINAL.match(pod["metadata"].get("name") or "")
    if m is None:
        return "", -1
    value = int(m.group(2))
    return m.group(1), value if value < 2**31 else -1


def ordinal(pod: Object) -> int:
    return parent_and_ordinal(pod)[1]


def replicas(sts: Object) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def start_ordinal(sts: Object) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def end_ordinal(sts: Object) -> int:
    return start_ordinal(sts) + replicas(sts) - 1


def in_ordinal_range(pod: Object, sts: Object) -> bool:
    return start_ordinal(sts) <= ordinal(pod) <= end_ordinal(sts)


def pod_name(sts: Object, ord_: int) -> str:
    return f"{sts['metadata']['name']}-{ord_}"


def claim_name(sts: Object, template: Object, ord_: int) -> str:
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{ord_}"


def is_member(sts: Object, pod: Object) -> bool:
    return parent_and_ordinal(pod)[0] == str(sts["metadata"]["name"])


def _labels(obj: Object) -> Mapping[str, str]:
    return ownership.labels_of(obj)


def identity_matches(sts: Object, pod: Object) -> bool:
    parent, ord_ = parent_and_ordinal(pod)
    md = pod["metadata"]
    return (
        ord_ >= 0
        and parent == sts["metadata"]["name"]
        and md.get("name") == pod_name(sts, ord_)
        and md.get("namespace") == sts["metadata"].get("namespace")
        and _labels(pod).get(POD_NAME_LABEL) == md.get("name")
    )


def claim_templates(sts: Object) -> list[Object]:
    return list((sts.get("spec") or {}).get("volumeClaimTemplates") or [])


def storage_matches(sts: Object, pod: Object) -> bool:
    ord_ = ordinal(pod)
    if ord_ < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for template in claim_templates(sts):
        volume = volumes.get(template["metadata"]["name"])
        pvc = (volume or {}).get("persistentVolumeClaim")
        if not pvc or pvc.get("claimName") != claim_name(sts, template, ord_):
            return False
    return True


def claims_for(sts: Object, pod: Object) -> dict[str, dict[str, Any]]:
    """The PVCs ``pod`` needs, by template name (``getPersistentVolumeClaims``)."""
    ord_ = ordinal(pod)
    match_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    out: dict[str, dict[str, Any]] = {}
    for template in claim_templates(sts):
        claim = copy.deepcopy(dict(template))
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        md = claim["metadata"] = dict(claim.get("metadata") or {})
        md["name"] = claim_name(sts, template, ord_)
        md["namespace"] = sts["metadata"].get("namespace", "")
        md["labels"] = {**(md.get("labels") or {}), **match_labels}
        claim.pop("status", None)
        out[template["metadata"]["name"]] = claim
    return out


def update_storage(sts: Object, pod: dict[str, Any]) -> None:
    claims = claims_for(sts, pod)
    spec = pod.setdefault("spec", {})
    current = spec.get("volumes") or []
    volumes: list[dict[str, Any]] = [
        {"name": name, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
        for name, c in claims.items()
    ]
    volumes += [v for v in current if v.get("name") not in claims]
    if volumes:
        spec["volumes"] = volumes


def update_identity(sts: Object, pod: dict[str, Any]) -> None:
    ord_ = ordinal(pod)
    md = pod["metadata"]
    md["name"] = pod_name(sts, ord_)
    md["namespace"] = sts["metadata"].get("namespace", "")
    labels = md.setdefault("labels", {})
    labels[POD_NAME_LABEL] = md["name"]
    labels[POD_INDEX_LABEL] = str(ord_)


def pod_revision(pod: Object) -> str:
    return _labels(pod).get(REVISION_LABEL, "")


def new_pod(sts: Object, ord_: int, revision_name: str) -> dict[str, Any]:
    """The pod of ordinal ``ord_`` for ``sts`` at ``revision_name`` (``newStatefulSetPod``)."""
    template = (sts.get("spec") or {}).get("template") or {}
    owner = ownership.controller_ref(sts, "apps/v1", "StatefulSet")
    pod = pods.from_template(template, sts["metadata"].get("namespace", ""), "", owner)
    pod["metadata"].pop("generateName", None)
    pod["metadata"]["name"] = pod_name(sts, ord_)
    update_identity(sts, pod)
    pod["spec"]["hostname"] = pod["metadata"]["name"]
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    update_storage(sts, pod)
    pod["metadata"].setdefault("labels", {})[REVISION_LABEL] = revision_name
    return pod


def new_versioned_pod(
    current_set: Object, update_set: Object, current_rev: str, update_rev: str, ord_: int
) -> dict[str, Any]:
    """At the current revision below the partition (or the current replicas), else the update
    revision (``newVersionedStatefulSetPod``, with its operator precedence)."""
    strategy = (current_set.get("spec") or {}).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    start = start_ordinal(current_set)
    current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
    if (
        strategy.get("type", "RollingUpdate") == "RollingUpdate"
        and rolling is None
        and ord_ < start + current_replicas
    ) or (rolling is not None and ord_ < start + int(rolling.get("partition") or 0)):
        return new_pod(current_set, ord_, current_rev)
    return new_pod(update_set, ord_, update_rev)


# -- phases ------------------------------------------------------------------------------


def phase(pod: Object) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_created(pod: Object) -> bool:
    return phase(pod) != ""


def is_terminating(pod: Object) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_running_and_ready(pod: Object) -> bool:
    return phase(pod) == "Running" and pods.is_ready(pod)


def is_available(pod: Object, min_ready: int, now: datetime.datetime) -> bool:
    return pods.is_available(pod, min_ready, now)


def is_unavailable(pod: Object, min_ready: int, now: datetime.datetime) -> bool:
    """``isUnavailable``: not available, or on its way out."""
    return not is_available(pod, min_ready, now) or is_terminating(pod)


# -- PVC retention policy ----------------------------------------------------------------


def retention_policy(sts: Object) -> tuple[str, str]:
    """(whenScaled, whenDeleted), Retain where unset."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenScaled") or RETAIN, policy.get("whenDeleted") or RETAIN


def _refs(obj: Object) -> list[Mapping[str, Any]]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or [])


def _matches_ref(ref: Mapping[str, Any], obj: Object, api_version: str, kind: str) -> bool:
    return (
        ref.get("apiVersion") == api_version
        and ref.get("kind") == kind
        and ref.get("name") == obj["metadata"].get("name")
    )


def _is_set_ref(ref: Mapping[str, Any], sts: Object) -> bool:
    return _matches_ref(ref, sts, "apps/v1", "StatefulSet")


def _is_pod_ref(ref: Mapping[str, Any], pod: Object) -> bool:
    return _matches_ref(ref, pod, "v1", "Pod")


def has_owner_ref(target: Object, owner: Object) -> bool:
    uid = owner["metadata"].get("uid")
    return any(r.get("uid") == uid for r in _refs(target))


def has_stale_owner_ref(target: Object, obj: Object, api_version: str, kind: str) -> bool:
    for ref in _refs(target):
        if _matches_ref(ref, obj, api_version, kind):
            return bool(ref.get("uid") != obj["metadata"].get("uid"))
    return False


def has_unexpected_controller(claim: Object, sts: Object, pod: Object) -> bool:
    if retention_policy(sts) == (RETAIN, RETAIN):
        return False
    for ref in _refs(claim):
        if _is_set_ref(ref, sts):
            if ref.get("uid") != sts["metadata"].get("uid"):
                return True
            continue
        if _is_pod_ref(ref, pod):
            if ref.get("uid") != pod["metadata"].get("uid"):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(claim: Object, sts: Object, pod: Object) -> bool:
    uids = {sts["metadata"].get("uid"), pod["metadata"].get("uid")}
    return any(r.get("uid") in uids and not r.get("controller") for r in _refs(claim))


def claim_owner_up_to_date(claim: Object, sts: Object, pod: Object) -> bool:
    """``isClaimOwnerUpToDate``: the claim's owners are what the retention policy wants."""
    if has_stale_owner_ref(claim, sts, "apps/v1", "StatefulSet") or has_stale_owner_ref(
        claim, pod, "v1", "Pod"
    ):
        return True
    if has_unexpected_controller(claim, sts, pod):
        return not (has_owner_ref(claim, sts) or has_owner_ref(claim, pod))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    scaled, deleted = retention_policy(sts)
    set_ref, pod_ref = has_owner_ref(claim, sts), has_owner_ref(claim, pod)
    scaled_down = not in_ordinal_range(pod, sts)
    if scaled == DELETE and deleted == DELETE:
        return scaled_down != set_ref and scaled_down == pod_ref
    if scaled == DELETE:
        return not set_ref and scaled_down == pod_ref
    if deleted == DELETE:
        return set_ref and not pod_ref
    return not set_ref and not pod_ref


def claim_owner_refs(claim: Object, sts: Object, pod: Object) -> list[dict[str, Any]]:
    """The owner references the claim should have (``updateClaimOwnerRefForSetAndPod``)."""
    unexpected = has_unexpected_controller(claim, sts, pod)
    refs = [dict(r) for r in _refs(claim) if not (_is_set_ref(r, sts) or _is_pod_ref(r, pod))]
    if unexpected:
        return refs
    scaled, deleted = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)

    def add(owner: Object, api_version: str, kind: str) -> None:
        if not any(r.get("uid") == owner["metadata"].get("uid") for r in refs):
            refs.append(ownership.controller_ref(owner, api_version, kind))

    if scaled == DELETE and scaled_down:
        add(pod, "v1", "Pod")
    if deleted == DELETE and (scaled == RETAIN or not scaled_down):
        add(sts, "apps/v1", "StatefulSet")
    return refs


# -- status ------------------------------------------------------------------------------

STATUS_FIELDS = (
    "observedGeneration",
    "replicas",
    "currentReplicas",
    "readyReplicas",
    "updatedReplicas",
    "currentRevision",
    "availableReplicas",
    "updateRevision",
)


def complete_rolling_update(sts: Object, status: dict[str, Any]) -> None:
    strategy = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
    want = replicas(sts)
    if (
        strategy == "RollingUpdate"
        and status.get("updatedReplicas", 0) == want
        and status.get("readyReplicas", 0) == want
        and status.get("replicas", 0) == want
    ):
        status["currentReplicas"] = status.get("updatedReplicas", 0)
        status["currentRevision"] = status.get("updateRevision", "")


def inconsistent_status(sts: Object, status: Mapping[str, Any]) -> bool:
    old = sts.get("status") or {}
    if int(status.get("observedGeneration") or 0) > int(old.get("observedGeneration") or 0):
        return True
    for name in STATUS_FIELDS[1:]:
        blank: Any = "" if name.endswith("Revision") else 0
        if (status.get(name) or blank) != (old.get(name) or blank):
            return True
    return False

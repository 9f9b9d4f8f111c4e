"""Deployment helpers on revisions, hashes, annotations and replica arithmetic.

Mirrors ``pkg/controller/deployment/util/deployment_util.go`` (``Revision``,
``SetNewReplicaSetAnnotations``, ``annotationsToSkip``, ``ResolveFenceposts``,
``MaxSurge``, ``MaxUnavailable``, ``NewRSNewReplicas``, ``EqualIgnoreHash``,
``FindNewReplicaSet``, ``DeploymentComplete``, ``DeploymentProgressing``) and
``pkg/controller/controller_utils.go`` ``ComputeHash`` (an FNV-1a hash of the
template and the collision count, encoded with ``rand.SafeEncodeString``'s
alphabet; the hash input is canonical JSON rather than Go's spew dump).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

Object = Mapping[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"

SKIPPED_ANNOTATIONS = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: Object, collision_count: int | None) -> str:
    raw = orjson.dumps(semantic(template), option=orjson.OPT_SORT_KEYS)
    if collision_count:
        raw += str(collision_count).encode()
    return "".join(_ALPHABET[ord(c) % len(_ALPHABET)] for c in str(fnv32a(raw)))


def revision(obj: Object) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(value)
    except ValueError:
        return 0


def max_revision(sets: Sequence[Object]) -> int:
    return max((revision(rs) for rs in sets), default=0)


def replicas(obj: Object) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Object, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def semantic(value: Any) -> Any:
    """``value`` without nulls, empty maps and empty lists, which Go's types cannot tell
    apart from absent fields (kubectl sends ``creationTimestamp: null``, ``resources: {}``)."""
    if isinstance(value, Mapping):
        out = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v not in ({}, [])}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def template_without_hash(template: Object) -> dict[str, Any]:
    t: dict[str, Any] = semantic(copy.deepcopy(dict(template)))
    labels = (t.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        del labels[HASH_LABEL]
    return t


def equal_ignore_hash(a: Object, b: Object) -> bool:
    return template_without_hash(a) == template_without_hash(b)


def find_new(deployment: Object, sets: Sequence[Object]) -> Object | None:
    """The oldest ReplicaSet whose template is the deployment's (``FindNewReplicaSet``)."""
    template = (deployment.get("spec") or {}).get("template") or {}
    for rs in sorted(sets, key=_created):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def _created(obj: Object) -> tuple[str, str]:
    md = obj["metadata"]
    return (md.get("creationTimestamp") or "", md.get("name") or "")


def by_creation(sets: Sequence[Object]) -> list[Object]:
    return sorted(sets, key=_created)


def _int_or_percent(value: Any, total: int, round_up: bool, default: str) -> int:
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = int(text[:-1])
        scaled = pct * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(text)


def rolling_params(deployment: Object) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against spec.replicas (``ResolveFenceposts``)."""
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    ru = strategy.get("rollingUpdate") or {}
    total = replicas(deployment)
    surge = _int_or_percent(ru.get("maxSurge"), total, True, "25%")
    unavailable = _int_or_percent(ru.get("maxUnavailable"), total, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, total)


def new_rs_replicas(deployment: Object, all_sets: Sequence[Object], new_rs: Object) -> int:
    """How big the new ReplicaSet may be now (``NewRSNewReplicas``)."""
    strategy = ((deployment.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")
    if strategy != "RollingUpdate":
        return replicas(deployment)
    surge, _ = rolling_params(deployment)
    current = sum(replicas(rs) for rs in all_sets)
    max_total = replicas(deployment) + surge
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(deployment) - replicas(new_rs))
    return replicas(new_rs) + scale_up


def copy_annotations(deployment: Object, rs_annotations: dict[str, str]) -> bool:
    """Copy the deployment's annotations onto a ReplicaSet's; True if anything changed."""
    changed = False
    for k, v in ((deployment.get("metadata") or {}).get("annotations") or {}).items():
        if k in SKIPPED_ANNOTATIONS or rs_annotations.get(k) == v:
            continue
        rs_annotations[k] = v
        changed = True
    return changed


def set_new_rs_annotations(
    deployment: Object, annotations: dict[str, str], new_revision: int
) -> bool:
    """Annotations of the new ReplicaSet (``SetNewReplicaSetAnnotations``); True if changed."""
    changed = copy_annotations(deployment, annotations)
    old = annotations.get(REVISION, "")
    try:
        old_int = int(old) if old else 0
    except ValueError:
        old_int = 0
    if old_int < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old:
            history = annotations.get(REVISION_HISTORY)
            annotations[REVISION_HISTORY] = f"{history},{old}" if history else old
    surge, _ = rolling_params(deployment)
    desired = str(replicas(deployment))
    maximum = str(replicas(deployment) + surge)
    if annotations.get(DESIRED_REPLICAS) != desired or annotations.get(MAX_REPLICAS) != maximum:
        annotations[DESIRED_REPLICAS] = desired
        annotations[MAX_REPLICAS] = maximum
        changed = True
    return changed

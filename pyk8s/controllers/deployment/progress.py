"""Deployment status and its Available and Progressing conditions.

Mirrors ``pkg/controller/deployment/sync.go`` (``calculateStatus``,
``syncDeploymentStatus``) and ``progress.go`` (``syncRolloutStatus``: complete ->
NewReplicaSetAvailable, progressing -> ReplicaSetUpdated, past the deadline ->
ProgressDeadlineExceeded; ``requeueStuckDeployment``), with the reasons and
messages ``kubectl rollout status`` and ``kubectl describe`` show.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import meta
from pyk8s.controllers.deployment import revisions

Object = Mapping[str, Any]

DEFAULT_PROGRESS_DEADLINE = 600


def condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: str,
) -> None:
    """Set a condition; lastTransitionTime moves only when the status changes (as upstream)."""
    for i, c in enumerate(conditions):
        if c.get("type") != type_:
            continue
        if c.get("status") == status and c.get("reason") == reason:
            if c.get("message") != message:
                conditions[i] = {**c, "message": message, "lastUpdateTime": now}
            return
        transition = c.get("lastTransitionTime") if c.get("status") == status else now
        conditions[i] = {
            "type": type_,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": transition or now,
            "reason": reason,
            "message": message,
        }
        return
    conditions.append(
        {
            "type": type_,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


def calculate_status(
    deployment: Object, all_sets: Sequence[Object], new_rs: Object | None
) -> dict[str, Any]:
    available = sum(revisions.status_int(rs, "availableReplicas") for rs in all_sets)
    total = sum(revisions.status_int(rs, "replicas") for rs in all_sets)
    old = deployment.get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": total,
        "updatedReplicas": revisions.status_int(new_rs, "replicas") if new_rs else 0,
        "readyReplicas": sum(revisions.status_int(rs, "readyReplicas") for rs in all_sets),
        "availableReplicas": available,
        "unavailableReplicas": max(revisions.replicas(deployment) - available, 0),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    conditions = [dict(c) for c in old.get("conditions") or []]
    _, max_unavailable = revisions.rolling_params(deployment)
    now = meta.now()
    if available >= revisions.replicas(deployment) - max_unavailable:
        set_condition(
            conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        set_condition(
            conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    status["conditions"] = conditions
    return status


def complete(deployment: Object, status: Mapping[str, Any]) -> bool:
    want = revisions.replicas(deployment)
    return (
        status.get("updatedReplicas") == want
        and status.get("replicas") == want
        and status.get("availableReplicas") == want
        and int(status.get("observedGeneration") or 0)
        >= int(deployment["metadata"].get("generation") or 1)
    )


def progressing(deployment: Object, status: Mapping[str, Any]) -> bool:
    old = deployment.get("status") or {}
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = int(status.get("replicas") or 0) - int(status.get("updatedReplicas") or 0)
    return (
        int(status.get("updatedReplicas") or 0) > int(old.get("updatedReplicas") or 0)
        or new_old < old_old
        or int(status.get("readyReplicas") or 0) > int(old.get("readyReplicas") or 0)
        or int(status.get("availableReplicas") or 0) > int(old.get("availableReplicas") or 0)
    )


def deadline(deployment: Object) -> int | None:
    value = (deployment.get("spec") or {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
    return None if value is None else int(value)


def rollout_status(
    deployment: Object,
    status: dict[str, Any],
    new_rs: Object | None,
    now: datetime.datetime,
) -> float | None:
    """Set Progressing in ``status``; returns seconds until the deadline should be checked."""
    limit = deadline(deployment)
    conditions: list[dict[str, Any]] = status["conditions"]
    current = condition(status, "Progressing")
    stamp = meta.format_time(now)
    name = new_rs["metadata"]["name"] if new_rs else ""
    if limit is None or (current is not None and current.get("reason") == "DeploymentPaused"):
        return None
    if (
        current is not None
        and current.get("reason") == "ProgressDeadlineExceeded"
        and not progressing(deployment, status)
        and not complete(deployment, status)
    ):
        return None
    if new_rs is not None and complete(deployment, status):
        set_condition(
            conditions,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{name}" has successfully progressed.',
            stamp,
        )
        return None
    if new_rs is not None and progressing(deployment, status):
        reason = "ReplicaSetUpdated"
        message = f'ReplicaSet "{name}" is progressing.'
        if (
            current is not None
            and current.get("status") == "True"
            and current.get("reason")
            in ("NewReplicaSetCreated", "FoundNewReplicaSet", "ReplicaSetUpdated")
        ):
            updated = {**current, "reason": reason, "message": message, "lastUpdateTime": stamp}
            conditions[:] = [updated if c.get("type") == "Progressing" else c for c in conditions]
        else:
            set_condition(conditions, "Progressing", "True", reason, message, stamp)
        return float(limit)
    if current is not None and current.get("lastUpdateTime"):
        since = meta.parse_time(current["lastUpdateTime"])
        left = (since + datetime.timedelta(seconds=limit) - now).total_seconds()
        if left <= 0:
            set_condition(
                conditions,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{name}" has timed out progressing.',
                stamp,
            )
            return None
        return left + 1.0
    return float(limit)

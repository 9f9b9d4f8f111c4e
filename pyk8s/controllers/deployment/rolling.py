"""The two rollout strategies: RollingUpdate and Recreate.

Mirrors ``pkg/controller/deployment/rolling.go`` (``rolloutRolling``,
``reconcileNewReplicaSet``, ``reconcileOldReplicaSets`` with
``cleanupUnhealthyReplicas`` and ``scaleDownOldReplicaSetsForRollingUpdate``)
and ``recreate.go`` (``rolloutRecreate``: scale the old sets to zero, wait until
their pods are gone, then scale up the new one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyk8s.controllers import pods as pods_
from pyk8s.controllers.deployment import progress, revisions

if TYPE_CHECKING:
    from pyk8s.controllers.deployment.controller import DeploymentController

Object = Mapping[str, Any]


async def rollout_rolling(ctl: DeploymentController, d: dict[str, Any], sets: list[Object]) -> None:
    new_rs, old = await ctl.get_new_and_old(d, sets, create=True)
    assert new_rs is not None
    all_sets = [*old, new_rs]
    if await reconcile_new(ctl, d, all_sets, new_rs) or await reconcile_old(
        ctl, d, all_sets, old, new_rs
    ):
        await sync_rollout_status(ctl, d, all_sets, new_rs)
        return
    status = progress.calculate_status(d, all_sets, new_rs)
    if progress.complete(d, status):
        await ctl.cleanup(d, old)
    await sync_rollout_status(ctl, d, all_sets, new_rs)


async def reconcile_new(
    ctl: DeploymentController, d: Object, all_sets: list[Object], new_rs: Object
) -> bool:
    want = revisions.replicas(d)
    have = revisions.replicas(new_rs)
    if have == want:
        return False
    if have > want:
        scaled, _ = await ctl.scale_rs(d, new_rs, want)
        return scaled
    scaled, _ = await ctl.scale_rs(d, new_rs, revisions.new_rs_replicas(d, all_sets, new_rs))
    return scaled


async def reconcile_old(
    ctl: DeploymentController,
    d: Object,
    all_sets: list[Object],
    old: list[Object],
    new_rs: Object,
) -> bool:
    if sum(revisions.replicas(rs) for rs in old) == 0:
        return False
    all_pods = sum(revisions.replicas(rs) for rs in all_sets)
    _, max_unavailable = revisions.rolling_params(d)
    min_available = revisions.replicas(d) - max_unavailable
    new_unavailable = revisions.replicas(new_rs) - revisions.status_int(new_rs, "availableReplicas")
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    cleaned, old = await _cleanup_unhealthy(ctl, d, old, max_scaled_down)
    available = sum(revisions.status_int(rs, "availableReplicas") for rs in [*old, new_rs])
    scaled_down = 0
    if available > min_available:
        budget = available - min_available
        for rs in revisions.by_creation(old):
            if budget <= 0:
                break
            size = revisions.replicas(rs)
            if size == 0:
                continue
            step = min(size, budget)
            await ctl.scale_rs(d, rs, size - step)
            budget -= step
            scaled_down += step
    return cleaned + scaled_down > 0


async def _cleanup_unhealthy(
    ctl: DeploymentController, d: Object, old: list[Object], max_cleanup: int
) -> tuple[int, list[Object]]:
    """Scale down old sets' unavailable replicas first: they serve nobody."""
    total = 0
    out: list[Object] = []
    for rs in revisions.by_creation(old):
        size = revisions.replicas(rs)
        unhealthy = size - revisions.status_int(rs, "availableReplicas")
        if total >= max_cleanup or size == 0 or unhealthy <= 0:
            out.append(rs)
            continue
        step = min(max_cleanup - total, unhealthy)
        _, scaled = await ctl.scale_rs(d, rs, size - step)
        total += step
        out.append(scaled)
    return total, out


async def rollout_recreate(
    ctl: DeploymentController, d: dict[str, Any], sets: list[Object]
) -> None:
    new_rs, old = await ctl.get_new_and_old(d, sets, create=False)
    all_sets = [*old, *([new_rs] if new_rs else [])]
    active_old = [rs for rs in old if revisions.replicas(rs) > 0]
    if active_old:
        for rs in active_old:
            await ctl.scale_rs(d, rs, 0)
        await sync_rollout_status(ctl, d, all_sets, new_rs)
        return
    if _old_pods_running(ctl, d, old):
        await sync_rollout_status(ctl, d, all_sets, new_rs)
        return
    if new_rs is None:
        new_rs, old = await ctl.get_new_and_old(d, sets, create=True)
        assert new_rs is not None
        all_sets = [*old, new_rs]
    if revisions.replicas(new_rs) != revisions.replicas(d):
        await ctl.scale_rs(d, new_rs, revisions.replicas(d))
    status = progress.calculate_status(d, all_sets, new_rs)
    if progress.complete(d, status):
        await ctl.cleanup(d, old)
    await sync_rollout_status(ctl, d, all_sets, new_rs)


def _old_pods_running(ctl: DeploymentController, d: Object, old: list[Object]) -> bool:
    if any(revisions.status_int(rs, "replicas") > 0 for rs in old):
        return True
    uids = {rs["metadata"]["uid"] for rs in old}
    for pod in ctl.pods.namespace(d["metadata"]["namespace"]).list():
        ref = next(
            (r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None
        )
        if ref is None or ref.get("uid") not in uids:
            continue
        phase = (pod.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed") or pods_.is_terminating(pod):
            return True
    return False


async def sync_rollout_status(
    ctl: DeploymentController, d: dict[str, Any], all_sets: list[Object], new_rs: Object | None
) -> None:
    status = progress.calculate_status(d, all_sets, new_rs)
    now = ctl.clock.wall()
    recheck = progress.rollout_status(d, status, new_rs, now)
    await ctl.write_status(d, status)
    if recheck is not None:
        ctl.queue.add_after(f"{d['metadata']['namespace']}/{d['metadata']['name']}", recheck)

"""The StatefulSet algorithm: revisions, then pods in ordinal order, then status.

Mirrors ``pkg/controller/statefulset/stateful_set_control.go``: ``UpdateStatefulSet``
(list and sort revisions, ``performUpdate``, ``truncateHistory``),
``getStatefulSetRevisions`` (reuse the newest equal revision, renumber an older
equal one -- a rollback --, or create one), ``updateStatefulSet`` (replicas by
ordinal, condemned pods above the range, ``processReplica`` and ``processCondemned``
run in order under OrderedReady -- stopping at the first pod that is not Running
and Ready -- or all at once under Parallel, then the rolling update from the highest
ordinal down to the partition; OnDelete stops before it), ``updateStatefulSetStatus``
with ``completeRollingUpdate``. MaxUnavailableStatefulSet is alpha (off) in 1.33, so
one pod is replaced at a time.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from pyk8s.api import errors
from pyk8s.controllers import history
from pyk8s.controllers.statefulset import identity as ident

Object = Mapping[str, Any]

MAX_BATCH = 500
COUNTS = ("replicas", "readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas")


class PodControl(Protocol):
    """The side effects the algorithm asks for (``StatefulPodControl``)."""

    async def create_pod(self, sts: Object, pod: dict[str, Any]) -> None: ...
    async def update_pod(self, sts: Object, pod: dict[str, Any]) -> None: ...
    async def delete_pod(self, sts: Object, pod: Object) -> None: ...
    async def create_missing_claims(self, sts: Object, pod: Object) -> None: ...
    def claim_is_stale(self, sts: Object, pod: Object) -> bool: ...
    def claims_match_policy(self, sts: Object, pod: Object) -> bool: ...
    async def update_claims_for_policy(self, sts: Object, pod: Object) -> None: ...


class RevisionStore(Protocol):
    def list_for(self, parent: Object, selector: Any) -> list[Object]: ...
    async def create(
        self, parent: Object, revision: dict[str, Any], collision_count: int
    ) -> tuple[Object, int]: ...
    async def update_revision(self, cr: Object, revision: int) -> Object: ...
    async def delete(self, cr: Object) -> None: ...


def new_revision(sts: Object, number: int, collision_count: int) -> dict[str, Any]:
    """The revision of ``sts``'s current template, with the set's annotations (``newRevision``)."""
    template_labels = (((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels"
    )
    cr = history.new_revision(
        sts,
        "apps/v1",
        "StatefulSet",
        template_labels,
        history.template_patch(sts),
        number,
        collision_count,
    )
    annotations = (sts.get("metadata") or {}).get("annotations")
    if annotations:
        cr["metadata"]["annotations"] = dict(annotations)
    return cr


class StatefulSetControl:
    def __init__(
        self,
        pod_control: PodControl,
        revisions: RevisionStore,
        update_status: Callable[[Object, dict[str, Any]], Awaitable[None]],
        now: Callable[[], datetime.datetime],
    ) -> None:
        self.pods = pod_control
        self.revisions = revisions
        self.update_status = update_status
        self.now = now

    async def update(self, sts: Object, selector: Any, pods: Sequence[Object]) -> dict[str, Any]:
        """One sync of ``sts`` (``UpdateStatefulSet``); returns the status it wrote."""
        revisions = history.sort_revisions(self.revisions.list_for(sts, selector))
        current: Object | None = None
        update: Object | None = None
        try:
            current, update, collision_count = await self._revisions(sts, revisions)
            status, error = await self._update_pods(sts, current, update, collision_count, pods)
            await self._write_status(sts, status)
            if error is not None:
                raise error
            return status
        finally:
            await self._truncate_history(sts, pods, revisions, current, update)

    async def _revisions(self, sts: Object, revisions: list[Object]) -> tuple[Object, Object, int]:
        collision_count = int((sts.get("status") or {}).get("collisionCount") or 0)
        candidate = new_revision(sts, history.next_revision(revisions), collision_count)
        equal = history.find_equal(revisions, candidate)
        update: Object
        if equal and history.equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            update = await self.revisions.update_revision(equal[-1], candidate["revision"])
        else:
            update, collision_count = await self.revisions.create(sts, candidate, collision_count)
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == current_name), update)
        return current, update, collision_count

    async def _truncate_history(
        self,
        sts: Object,
        pods: Sequence[Object],
        revisions: list[Object],
        current: Object | None,
        update: Object | None,
    ) -> None:
        live = {r["metadata"]["name"] for r in (current, update) if r is not None}
        live |= {ident.pod_revision(p) for p in pods}
        old = [r for r in revisions if r["metadata"]["name"] not in live]
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        if limit < 0 or len(old) <= limit:
            return
        for cr in old[: len(old) - limit]:
            await self.revisions.delete(cr)

    def _status_counts(
        self,
        status: dict[str, Any],
        min_ready: int,
        current: Object,
        update: Object,
        *lists: Sequence[Object],
    ) -> None:
        now = self.now()
        counts = dict.fromkeys(COUNTS, 0)
        for pods in lists:
            for pod in pods:
                created = ident.is_created(pod)
                if created:
                    counts["replicas"] += 1
                if ident.is_running_and_ready(pod):
                    counts["readyReplicas"] += 1
                    if ident.is_available(pod, min_ready, now):
                        counts["availableReplicas"] += 1
                if created and not ident.is_terminating(pod):
                    rev = ident.pod_revision(pod)
                    if rev == current["metadata"]["name"]:
                        counts["currentReplicas"] += 1
                    if rev == update["metadata"]["name"]:
                        counts["updatedReplicas"] += 1
        status.update(counts)

    async def _update_pods(
        self,
        sts: Object,
        current: Object,
        update: Object,
        collision_count: int,
        pods: Sequence[Object],
    ) -> tuple[dict[str, Any], BaseException | None]:
        """``updateStatefulSet``: the status to record and the error to retry on, if any."""
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        current_set = history.apply_template_patch(sts, current["data"])
        update_set = history.apply_template_patch(sts, update["data"])
        status: dict[str, Any] = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "currentRevision": current["metadata"]["name"],
            "updateRevision": update["metadata"]["name"],
            "collisionCount": collision_count,
        }
        self._status_counts(status, min_ready, current, update, pods)
        start, count = ident.start_ordinal(sts), ident.replicas(sts)
        slots: list[Object | None] = [None] * count
        condemned: list[Object] = []
        for pod in pods:
            ord_ = ident.ordinal(pod)
            if ident.in_ordinal_range(pod, sts):
                slots[ord_ - start] = pod
            elif ord_ >= 0:
                condemned.append(pod)
        replicas: list[Object] = [
            pod
            if pod is not None
            else ident.new_versioned_pod(
                current_set,
                update_set,
                current["metadata"]["name"],
                update["metadata"]["name"],
                start + i,
            )
            for i, pod in enumerate(slots)
        ]
        condemned.sort(key=ident.ordinal, reverse=True)
        now = self.now()
        first_unhealthy: Object | None = next(
            (p for p in replicas if ident.is_unavailable(p, min_ready, now)), None
        )
        if first_unhealthy is None:
            first_unhealthy = next(
                (p for p in reversed(condemned) if ident.is_unavailable(p, min_ready, now)), None
            )
        if sts["metadata"].get("deletionTimestamp"):
            return status, None
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"

        def recount() -> None:
            self._status_counts(status, min_ready, current, update, replicas, condemned)

        async def process_replica(i: int) -> bool:
            return await self._process_replica(sts, update_set, monotonic, replicas, i, min_ready)

        async def fix_claims(i: int) -> bool:
            if not self.pods.claims_match_policy(update_set, condemned[i]):
                await self.pods.update_claims_for_policy(update_set, condemned[i])
            return False

        async def process_condemned(i: int) -> bool:
            pod = condemned[i]
            if ident.is_terminating(pod):
                return bool(monotonic)
            if monotonic and pod is not first_unhealthy:
                if not ident.is_running_and_ready(pod):
                    return True
                if not ident.is_available(pod, min_ready, self.now()):
                    return True
            await self.pods.delete_pod(sts, pod)
            return True

        for fn, items in (
            (process_replica, replicas),
            (fix_claims, condemned),
            (process_condemned, condemned),
        ):
            try:
                stop = await run_for_all(len(items), fn, monotonic)
            except errors.ApiError as e:
                recount()
                return status, e
            if stop:
                recount()
                return status, None
        recount()
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "OnDelete":
            return status, None
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        update_name = update["metadata"]["name"]
        for target in range(len(replicas) - 1, partition - 1, -1):
            pod = replicas[target]
            if ident.pod_revision(pod) != update_name and not ident.is_terminating(pod):
                try:
                    await self.pods.delete_pod(sts, pod)
                except errors.NotFound:
                    pass
                except errors.ApiError as e:
                    return status, e
                status["currentReplicas"] -= 1
                return status, None
            if ident.is_unavailable(pod, min_ready, self.now()):
                return status, None
        return status, None

    async def _process_replica(
        self,
        sts: Object,
        update_set: Object,
        monotonic: bool,
        replicas: list[Object],
        i: int,
        min_ready: int,
    ) -> bool:
        """``processReplica``: True to stop this pass."""
        pod = replicas[i]
        if ident.phase(pod) in ("Failed", "Succeeded"):
            if not ident.is_terminating(pod):
                await self.pods.delete_pod(sts, pod)
            return True
        if not ident.is_created(pod):
            if self.pods.claim_is_stale(sts, pod):
                return True  # a claim still belongs to an earlier pod: wait for it to go
            created = copy.deepcopy(dict(pod))
            await self.pods.create_pod(sts, created)
            replicas[i] = created
            if monotonic:
                return True
            pod = created
        if ident.phase(pod) == "Pending":
            await self.pods.create_missing_claims(sts, pod)
        if ident.is_terminating(pod) and monotonic:
            return True
        if monotonic and not ident.is_running_and_ready(pod):
            return True
        if monotonic and not ident.is_available(pod, min_ready, self.now()):
            return True
        try:
            retention_match = self.pods.claims_match_policy(update_set, pod)
        except errors.ApiError:
            retention_match = True
        if ident.identity_matches(sts, pod) and ident.storage_matches(sts, pod) and retention_match:
            return False
        await self.pods.update_pod(update_set, copy.deepcopy(dict(pod)))
        return False

    async def _write_status(self, sts: Object, status: dict[str, Any]) -> None:
        ident.complete_rolling_update(sts, status)
        old = sts.get("status") or {}
        same_collisions = int(old.get("collisionCount") or 0) == status["collisionCount"]
        if same_collisions and not ident.inconsistent_status(sts, status):
            return
        await self.update_status(sts, status)


async def run_for_all(count: int, fn: Callable[[int], Awaitable[bool]], monotonic: bool) -> bool:
    """Call ``fn`` for each index: in order, stopping when it says so (OrderedReady), or in
    doubling batches (Parallel, ``slowStartBatch``). True when a call asked to stop."""
    if monotonic:
        for i in range(count):
            if await fn(i):
                return True
        return False
    done = 0
    batch = min(count, 1)
    while batch > 0:
        results = await asyncio.gather(
            *(fn(i) for i in range(done, done + batch)), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r
        done += batch
        batch = min(2 * batch, count - done, MAX_BATCH)
    return False

"""The ReplicaSet and ReplicationController controllers: keep N pods matching a template.

Mirrors ``pkg/controller/replicaset/replica_set.go`` (event handlers mapping pods
to their controller through ControllerRef or, for orphans, through selectors;
``syncReplicaSet`` -> ``claimPods`` -> ``manageReplicas`` -> ``calculateStatus``
and ``updateReplicaSetStatus``; ``slowStartBatch``; ``burstReplicas``;
``getPodsToDelete``) and ``replica_set_utils.go`` (status and the
``ReplicaFailure`` condition). ReplicationControllers run the same code with a
map selector, as upstream's ``pkg/controller/replication`` adapts them.

WARNING: pods from the lister are shared with the cache and read-only; copy
before changing anything (``copy.deepcopy``).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors, meta, selectors
from pyk8s.client import events, rest
from pyk8s.client.cache import store
from pyk8s.controllers import (
    base,
    expectations,
    mutation_cache,
    ownership,
    pod_control,
    podowner,
    pods,
)
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import PODS, REPLICASETS, REPLICATIONCONTROLLERS

log = logging.getLogger(__name__)

BURST_REPLICAS = 500
"""At most this many pods are created or deleted in one sync (upstream ``BurstReplicas``)."""
SLOW_START_INITIAL_BATCH = 1

Object = Mapping[str, Any]


@dataclass(frozen=True)
class Kind:
    ref: rest.ResourceRef
    api_version: str
    kind: str
    component: str

    def selector(self, obj: Object) -> selectors.LabelSelector:
        spec = obj.get("spec") or {}
        if self.kind == "ReplicationController":
            sel = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get(
                "labels"
            )
            if not sel:
                return selectors.LabelSelector(nothing=True)
            return selectors.from_label_selector({"matchLabels": sel})
        return selectors.from_label_selector(spec.get("selector"))


REPLICASET = Kind(REPLICASETS, "apps/v1", "ReplicaSet", "replicaset-controller")
REPLICATIONCONTROLLER = Kind(
    REPLICATIONCONTROLLERS, "v1", "ReplicationController", "replication-controller"
)


class ReplicaSetController(podowner.PodOwnerController):
    workers = 5
    expectations: expectations.Expectations
    ready_requeue_extra = 1.0

    def __init__(self, ctx: manager_.ControllerContext, kind: Kind = REPLICASET) -> None:
        super().__init__(ctx.clock)
        self.kind = kind
        self.name = f"{kind.kind.lower()}-controller"
        self.owner_resource = kind.ref
        self.owner_api_version = kind.api_version
        self.owner_kind = kind.kind
        self.client = ctx.client
        self.recorder: events.EventRecorder = ctx.recorder(kind.component)
        self.pod_control = pod_control.PodControl(self.client, self.recorder)
        self.expectations = expectations.Expectations(ctx.clock)
        self.burst_replicas = BURST_REPLICAS
        self.sets = self.owners = ctx.informers.lister(kind.ref)
        self.mutations = mutation_cache.MutationCache(ctx.clock)
        self.pods = ctx.informers.lister(PODS)
        self.watch(
            ctx.informers.for_resource(kind.ref),
            add=self.enqueue,
            update=self._set_updated,
            delete=self._set_deleted,
        )
        self.watch_pods(ctx.informers.for_resource(PODS))

    def owner_selector(self, owner: Object) -> selectors.LabelSelector:
        return self.kind.selector(owner)

    # -- event handlers: map to keys, never call the API ----------------------------------

    def _set_updated(self, old: Object, new: Object) -> None:
        self.enqueue(new)

    def _set_deleted(self, obj: Object) -> None:
        key = store.meta_namespace_key(obj)
        self.expectations.delete(key)
        self.mutations.forget(obj["metadata"].get("uid", ""))
        self.queue.add(key)

    # -- reconcile: read, decide, act, write status ---------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, name = store.split_key(key)
        try:
            rs = self.mutations.newest(self.sets.namespace(namespace).get(name))
        except errors.NotFound:
            self.expectations.delete(key)
            return
        try:
            selector = self.kind.selector(rs)
        except selectors.SelectorError as e:
            log.error("%s %s has an invalid selector: %s", self.kind.kind, key, e)
            return
        needs_sync = self.expectations.satisfied(key)
        # Ours and orphans only, through the index: not every pod of the namespace.
        active = [p for p in self.pod_candidates(rs) if pods.is_active(p)]
        owned = await self.claim_pods(rs, selector, active)
        manage_error: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                await self._manage(rs, owned, key)
            except errors.ApiError as e:
                manage_error = e
        status = self._calculate_status(rs, owned, manage_error)
        updated = await self._update_status(rs, status)
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        st = updated.get("status") or {}
        if (
            manage_error is None
            and min_ready > 0
            and st.get("readyReplicas") == _replicas(updated)
            and st.get("availableReplicas") != _replicas(updated)
        ):
            self.queue.add_after(key, float(min_ready))
        if manage_error is not None:
            raise manage_error

    async def _manage(self, rs: Object, owned: list[Object], key: str) -> None:
        diff = len(owned) - _replicas(rs)
        if diff < 0:
            await self._create_pods(rs, key, min(-diff, self.burst_replicas))
        elif diff > 0:
            await self._delete_pods(rs, key, owned, min(diff, self.burst_replicas))

    async def _create_pods(self, rs: Object, key: str, count: int) -> None:
        self.expectations.expect_creations(key, count)
        template = (rs.get("spec") or {}).get("template") or {}
        owner_ref = ownership.controller_ref(rs, self.kind.api_version, self.kind.kind)
        md = rs["metadata"]
        body = pods.from_template(template, md["namespace"], f"{md['name']}-", owner_ref)

        async def create_one() -> None:
            await self.pod_control.create(rs, copy.deepcopy(body), md["namespace"])

        succeeded, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH, create_one)
        skipped = count - succeeded
        if skipped > 0:
            self.expectations.lower_creations(key, skipped)
        if error is not None:
            raise error

    async def _delete_pods(self, rs: Object, key: str, owned: list[Object], count: int) -> None:
        victims = pods.deletion_order(owned, owned)[:count]
        victim_keys = [store.meta_namespace_key(p) for p in victims]
        self.expectations.expect_deletions(key, victim_keys)

        failed = await self.pod_control.delete_all(rs, victims, self.expectations, key)
        if failed:
            raise failed[0]

    def _calculate_status(
        self, rs: Object, owned: list[Object], manage_error: Exception | None
    ) -> dict[str, Any]:
        spec = rs.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.wall()
        fully_labeled = ready = available = 0
        for pod in owned:
            labels = ownership.labels_of(pod)
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if pods.is_ready(pod):
                ready += 1
                if pods.is_available(pod, min_ready, now):
                    available += 1
        old = rs.get("status") or {}
        status: dict[str, Any] = {
            "replicas": len(owned),
            "fullyLabeledReplicas": fully_labeled,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        failure = next(
            (c for c in old.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None
        )
        if manage_error is not None:
            diff = len(owned) - _replicas(rs)
            reason = "FailedCreate" if diff < 0 else "FailedDelete"
            message = str(manage_error)
            if failure is not None and failure.get("reason") == reason:
                conditions.append(failure)
            else:
                conditions.append(
                    {
                        "type": "ReplicaFailure",
                        "status": "True",
                        "lastTransitionTime": base_time(self),
                        "reason": reason,
                        "message": message,
                    }
                )
        if conditions:
            status["conditions"] = conditions
        return status

    async def _update_status(self, rs: Object, status: dict[str, Any]) -> Object:
        old = rs.get("status") or {}
        if all(old.get(k, 0) == v for k, v in status.items() if k != "conditions") and (
            old.get("conditions") or []
        ) == (status.get("conditions") or []):
            return rs
        body = copy.deepcopy(dict(rs))
        body["status"] = {**old, **status}
        if "conditions" not in status:
            body["status"].pop("conditions", None)
        try:
            written = await self.client.update(self.kind.ref, body, subresource="status")
            self.mutations.mutated(written)
            return written
        except errors.NotFound:
            return rs
        except errors.Conflict:
            fresh = await self.client.get(
                self.kind.ref, rs["metadata"]["name"], rs["metadata"]["namespace"]
            )
            if fresh["metadata"].get("uid") != rs["metadata"].get("uid"):
                return rs
            fresh["status"] = {**(fresh.get("status") or {}), **status}
            written = await self.client.update(self.kind.ref, fresh, subresource="status")
            self.mutations.mutated(written)
            return written


def base_time(ctl: base.Controller) -> str:
    return meta.format_time(ctl.clock.wall())


def _replicas(rs: Object) -> int:
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


async def slow_start_batch(count: int, initial: int, fn: Any) -> tuple[int, BaseException | None]:
    """Call ``fn`` ``count`` times in doubling batches, stopping after a failing batch.

    Returns (successes, first error). Upstream ``slowStartBatch``: a quota or
    admission error costs one call, not hundreds.
    """
    remaining = count
    succeeded = 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errs = [r for r in results if isinstance(r, BaseException)]
        succeeded += batch - len(errs)
        if errs:
            return succeeded, errs[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return succeeded, None


def new_replicaset(ctx: manager_.ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(ctx, REPLICASET)


def new_replicationcontroller(ctx: manager_.ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(ctx, REPLICATIONCONTROLLER)

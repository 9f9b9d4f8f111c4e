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
from pyk8s.controllers import base, expectations, mutation_cache, ownership, pods
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


class ReplicaSetController(base.Controller):
    workers = 5

    def __init__(self, ctx: manager_.ControllerContext, kind: Kind = REPLICASET) -> None:
        super().__init__(ctx.clock)
        self.kind = kind
        self.name = f"{kind.kind.lower()}-controller"
        self.client: rest.Interface = ctx.client
        self.recorder: events.EventRecorder = ctx.recorder(kind.component)
        self.expectations = expectations.Expectations(ctx.clock)
        self.burst_replicas = BURST_REPLICAS
        self.sets = ctx.informers.lister(kind.ref)
        self.mutations = mutation_cache.MutationCache(ctx.clock)
        self.pods = ctx.informers.lister(PODS)
        self.watch(
            ctx.informers.for_resource(kind.ref),
            add=self.enqueue,
            update=self._set_updated,
            delete=self._set_deleted,
        )
        pod_informer = ctx.informers.for_resource(PODS)
        ownership.ensure_controller_index(pod_informer)
        self.watch(
            pod_informer,
            add=self._pod_added,
            update=self._pod_updated,
            delete=self._pod_deleted,
        )

    # -- event handlers: map to keys, never call the API ----------------------------------

    def _set_updated(self, old: Object, new: Object) -> None:
        self.enqueue(new)

    def _set_deleted(self, obj: Object) -> None:
        key = store.meta_namespace_key(obj)
        self.expectations.delete(key)
        self.mutations.forget(obj["metadata"].get("uid", ""))
        self.queue.add(key)

    def _owner_key(self, pod: Object, ref: Mapping[str, Any] | None) -> str | None:
        """The key of the set ``ref`` names, if it is one of ours and still the same object."""
        if ref is None or ref.get("kind") != self.kind.kind:
            return None
        if ref.get("apiVersion", "").split("/")[0] != self.kind.api_version.split("/")[0]:
            return None
        ns = pod["metadata"].get("namespace", "")
        try:
            owner = self.sets.namespace(ns).get(ref["name"])
        except errors.NotFound:
            return None
        if owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return f"{ns}/{ref['name']}"

    def _sets_selecting(self, pod: Object) -> list[str]:
        ns = pod["metadata"].get("namespace", "")
        labels = ownership.labels_of(pod)
        out = []
        for rs in self.sets.namespace(ns).list():
            try:
                if self.kind.selector(rs).matches(labels):
                    out.append(store.meta_namespace_key(rs))
            except selectors.SelectorError:
                continue
        return out

    def _pod_added(self, pod: Object) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        ref = ownership.controller_of(pod)
        if ref is not None:
            key = self._owner_key(pod, ref)
            if key is not None:
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for key in self._sets_selecting(pod):
            self.queue.add(key)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if old is new or old["metadata"].get("resourceVersion") == new["metadata"].get(
            "resourceVersion"
        ):
            return
        labels_changed = ownership.labels_of(old) != ownership.labels_of(new)
        if new["metadata"].get("deletionTimestamp"):
            # Graceful deletion started: count it as gone now, as upstream does.
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_ref, new_ref = ownership.controller_of(old), ownership.controller_of(new)
        if old_ref != new_ref and old_ref is not None:
            key = self._owner_key(old, old_ref)
            if key is not None:
                self.queue.add(key)
        if new_ref is not None:
            key = self._owner_key(new, new_ref)
            if key is None:
                return
            self.queue.add(key)
            if not pods.is_ready(old) and pods.is_ready(new):
                try:
                    rs = self.sets.namespace(new["metadata"]["namespace"]).get(new_ref["name"])
                    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
                except errors.NotFound:
                    min_ready = 0
                if min_ready > 0:
                    self.queue.add_after(key, min_ready + 1.0)
            return
        if labels_changed or old_ref != new_ref:
            for key in self._sets_selecting(new):
                self.queue.add(key)

    def _pod_deleted(self, pod: Object) -> None:
        ref = ownership.controller_of(pod)
        key = self._owner_key(pod, ref)
        if key is None:
            return
        self.expectations.deletion_observed(key, store.meta_namespace_key(pod))
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
        index = self.pods.store.by_index
        candidates = index(ownership.CONTROLLER_UID_INDEX, rs["metadata"]["uid"]) + index(
            ownership.CONTROLLER_UID_INDEX, ownership.orphan_key(namespace)
        )
        active = [p for p in candidates if pods.is_active(p)]
        owned = await self._claim(rs, selector, active)
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

    async def _claim(
        self, rs: Object, selector: selectors.LabelSelector, active: list[Object]
    ) -> list[Object]:
        async def can_adopt() -> None:
            await ownership.recheck_not_deleting(self.client, self.kind.ref, rs)

        manager = ownership.RefManager(
            self.client,
            PODS,
            rs,
            self.kind.api_version,
            self.kind.kind,
            selector,
            can_adopt,
        )
        return await manager.claim(active)

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
            try:
                pod = await self.client.create(PODS, copy.deepcopy(body), md["namespace"])
            except errors.ApiError as e:
                self.recorder.event(
                    rs, events.WARNING, "FailedCreate", "Create", f"Error creating: {e}"
                )
                raise
            self.recorder.event(
                rs,
                events.NORMAL,
                "SuccessfulCreate",
                "Create",
                f"Created pod: {pod['metadata']['name']}",
            )

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

        async def delete_one(pod: Object, pod_key: str) -> None:
            md = pod["metadata"]
            try:
                await self.client.delete(PODS, md["name"], md["namespace"])
            except errors.NotFound:
                self.expectations.deletion_observed(key, pod_key)
                return
            except errors.ApiError as e:
                self.expectations.deletion_observed(key, pod_key)
                self.recorder.event(
                    rs, events.WARNING, "FailedDelete", "Delete", f"Error deleting: {e}"
                )
                raise
            self.recorder.event(
                rs, events.NORMAL, "SuccessfulDelete", "Delete", f"Deleted pod: {md['name']}"
            )

        results = await asyncio.gather(
            *(delete_one(p, k) for p, k in zip(victims, victim_keys, strict=True)),
            return_exceptions=True,
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r

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

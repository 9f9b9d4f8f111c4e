"""The deployment controller: handlers, ReplicaSet bookkeeping, and the sync dispatch.

Mirrors ``pkg/controller/deployment/deployment_controller.go`` (handlers for
deployments, their ReplicaSets and pods; ``syncDeployment`` dispatching to the
paused, scaling, Recreate and RollingUpdate paths; ``getReplicaSetsForDeployment``
claiming through ControllerRef) and ``sync.go`` (``getNewReplicaSet`` with the
revision and collision bookkeeping, ``scaleReplicaSet`` with the desired and
max replicas annotations, ``scale`` for proportional scaling, ``cleanupDeployment``
by ``revisionHistoryLimit``, ``syncDeploymentStatus``).

Its own writes (ReplicaSets, its status) go through a mutation cache, so the next sync
does not act on the copy from before them; a ReplicaSet write that conflicts only with
the ReplicaSet controller's status writes is retried over the fresh object.

Rollback needs nothing here: ``kubectl rollout undo`` copies an old
ReplicaSet's template into the deployment, and the old ReplicaSet becomes the
new one with the next revision number.

WARNING: objects from the listers are shared read-only cache entries; copy first.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors, meta, selectors
from pyk8s.client import events, rest
from pyk8s.client.cache import store
from pyk8s.controllers import base, mutation_cache, ownership
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.deployment import progress, revisions, rolling
from pyk8s.controllers.resources import DEPLOYMENTS, PODS, REPLICASETS

log = logging.getLogger(__name__)

Object = Mapping[str, Any]

DEFAULT_HISTORY_LIMIT = 10


class DeploymentController(base.Controller):
    name = "deployment-controller"
    workers = 5

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.recorder: events.EventRecorder = ctx.recorder("deployment-controller")
        self.deployments = ctx.informers.lister(DEPLOYMENTS)
        self.sets = ctx.informers.lister(REPLICASETS)
        self.pods = ctx.informers.lister(PODS)
        self.mutations = mutation_cache.MutationCache(ctx.clock)
        self.watch(
            ctx.informers.for_resource(DEPLOYMENTS),
            add=self.enqueue,
            update=lambda old, new: self.enqueue(new),
            delete=self._deployment_deleted,
        )
        self.watch(
            ctx.informers.for_resource(REPLICASETS),
            add=self._rs_changed,
            update=self._rs_updated,
            delete=self._rs_deleted,
        )
        self.watch(ctx.informers.for_resource(PODS), delete=self._pod_deleted)

    # -- handlers ---------------------------------------------------------------------

    def _owner_key(self, obj: Object) -> str | None:
        ref = ownership.controller_of(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        ns = obj["metadata"].get("namespace", "")
        try:
            d = self.deployments.namespace(ns).get(ref["name"])
        except errors.NotFound:
            return None
        if d["metadata"].get("uid") != ref.get("uid"):
            return None
        return f"{ns}/{ref['name']}"

    def _deployment_deleted(self, d: Object) -> None:
        self.mutations.forget(d["metadata"].get("uid", ""))
        self.enqueue(d)

    def _rs_deleted(self, rs: Object) -> None:
        self.mutations.forget(rs["metadata"].get("uid", ""))
        self._rs_changed(rs)

    def _rs_changed(self, rs: Object) -> None:
        key = self._owner_key(rs)
        if key is not None:
            self.queue.add(key)
            return
        if ownership.controller_of(rs) is None:
            for d in self._deployments_selecting(rs):
                self.enqueue(d)

    def _rs_updated(self, old: Object, new: Object) -> None:
        if old is new:
            return
        self._rs_changed(new)
        if ownership.controller_of(old) != ownership.controller_of(new):
            key = self._owner_key(old)
            if key is not None:
                self.queue.add(key)

    def _deployments_selecting(self, rs: Object) -> list[Object]:
        labels = ownership.labels_of(rs)
        out = []
        for d in self.deployments.namespace(rs["metadata"].get("namespace", "")).list():
            try:
                sel = selectors.from_label_selector((d.get("spec") or {}).get("selector"))
            except selectors.SelectorError:
                continue
            if not sel.empty and sel.matches(labels):
                out.append(d)
        return out

    def _pod_deleted(self, pod: Object) -> None:
        # Recreate waits for the old pods to be gone: look again when one goes.
        ref = ownership.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        try:
            rs = self.sets.namespace(pod["metadata"].get("namespace", "")).get(ref["name"])
        except errors.NotFound:
            return
        key = self._owner_key(rs)
        if key is not None:
            self.queue.add(key)

    # -- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, name = store.split_key(key)
        try:
            cached = self.mutations.newest(self.deployments.namespace(namespace).get(name))
        except errors.NotFound:
            return
        d: dict[str, Any] = copy.deepcopy(dict(cached))
        spec = d.get("spec") or {}
        try:
            selector = selectors.from_label_selector(spec.get("selector"))
        except selectors.SelectorError as e:
            log.error("deployment %s has an invalid selector: %s", key, e)
            return
        if selector.empty:
            self.recorder.event(
                d,
                events.WARNING,
                "SelectingAll",
                "Select",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            return
        sets = await self._claim(d, selector)
        if d["metadata"].get("deletionTimestamp"):
            await self.sync_status(d, sets, None)
            return
        if spec.get("paused") or self._is_scaling_event(d, sets):
            await self.sync(d, sets)
            return
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            await rolling.rollout_recreate(self, d, sets)
        else:
            await rolling.rollout_rolling(self, d, sets)

    async def _claim(self, d: Object, selector: selectors.LabelSelector) -> list[Object]:
        async def can_adopt() -> None:
            await ownership.recheck_not_deleting(self.client, DEPLOYMENTS, d)

        manager = ownership.RefManager(
            self.client, REPLICASETS, d, "apps/v1", "Deployment", selector, can_adopt
        )
        listed = self.sets.namespace(d["metadata"]["namespace"]).list()
        return await manager.claim([self.mutations.newest(rs) for rs in listed])

    def _is_scaling_event(self, d: Object, sets: list[Object]) -> bool:
        new_rs = revisions.find_new(d, sets)
        active = [rs for rs in sets if revisions.replicas(rs) > 0]
        if new_rs is None:
            return False
        want = str(revisions.replicas(d))
        for rs in active:
            desired = (rs["metadata"].get("annotations") or {}).get(revisions.DESIRED_REPLICAS)
            if desired is not None and desired != want:
                return True
        return False

    # -- the new ReplicaSet -------------------------------------------------------------

    async def get_new_and_old(
        self, d: dict[str, Any], sets: list[Object], create: bool
    ) -> tuple[Object | None, list[Object]]:
        """(new ReplicaSet, old ones); creates or updates the new one when ``create``."""
        existing = revisions.find_new(d, sets)
        old = [
            rs
            for rs in sets
            if existing is None or rs["metadata"]["uid"] != existing["metadata"]["uid"]
        ]
        new_revision = revisions.max_revision(old) + 1
        if existing is not None:
            new_rs = await self._update_existing_new_rs(d, existing, new_revision)
        elif create:
            new_rs = await self._create_new_rs(d, sets, old, new_revision)
        else:
            return None, old
        await self._sync_deployment_revision(d, new_rs)
        return new_rs, old

    async def _update_existing_new_rs(
        self, d: dict[str, Any], rs: Object, new_revision: int
    ) -> Object:
        body: dict[str, Any] = copy.deepcopy(dict(rs))
        annotations = body["metadata"].setdefault("annotations", {})
        changed = revisions.set_new_rs_annotations(d, annotations, new_revision)
        min_ready = (d.get("spec") or {}).get("minReadySeconds", 0)
        if (body.get("spec") or {}).get("minReadySeconds", 0) != min_ready:
            body["spec"]["minReadySeconds"] = min_ready
            changed = True
        if not changed:
            return rs
        return await self._update_rs(rs, body)

    async def _create_new_rs(
        self, d: dict[str, Any], sets: list[Object], old: list[Object], new_revision: int
    ) -> Object:
        spec = d["spec"]
        status = d.get("status") or {}
        collisions = status.get("collisionCount")
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = revisions.compute_hash(template, collisions)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), revisions.HASH_LABEL: pod_hash}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {
            **(selector.get("matchLabels") or {}),
            revisions.HASH_LABEL: pod_hash,
        }
        name = f"{d['metadata']['name']}-{pod_hash}"
        annotations: dict[str, str] = {}
        revisions.set_new_rs_annotations(d, annotations, new_revision)
        body: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": d["metadata"]["namespace"],
                "labels": dict(tmeta["labels"]),
                "annotations": annotations,
                "ownerReferences": [ownership.controller_ref(d, "apps/v1", "Deployment")],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        body["spec"]["replicas"] = revisions.new_rs_replicas(d, sets, body)
        try:
            created = await self.client.create(REPLICASETS, body)
            self.mutations.mutated(created)
        except errors.AlreadyExists:
            try:
                rs = await self.client.get(REPLICASETS, name, d["metadata"]["namespace"])
            except errors.NotFound:
                raise
            controller = ownership.controller_of(rs)
            if (
                controller is not None
                and controller.get("uid") == d["metadata"]["uid"]
                and revisions.equal_ignore_hash(rs["spec"]["template"], spec.get("template") or {})
            ):
                return rs
            # A hash collision: bump collisionCount so the next try gets another name.
            d.setdefault("status", {})["collisionCount"] = int(collisions or 0) + 1
            await self.client.update(DEPLOYMENTS, d, subresource="status")
            raise
        replicas = created["spec"]["replicas"]
        if replicas > 0:
            self.recorder.event(
                d,
                events.NORMAL,
                "ScalingReplicaSet",
                "Scaling",
                f"Scaled up replica set {name} from 0 to {replicas}",
            )
        conditions = [dict(c) for c in (d.get("status") or {}).get("conditions") or []]
        progress.set_condition(
            conditions,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            f'Created new replica set "{name}"',
            meta.now(),
        )
        d.setdefault("status", {})["conditions"] = conditions
        return created

    async def _sync_deployment_revision(self, d: dict[str, Any], new_rs: Object) -> None:
        want = (new_rs["metadata"].get("annotations") or {}).get(revisions.REVISION)
        have = (d["metadata"].get("annotations") or {}).get(revisions.REVISION)
        if want is None or want == have:
            return
        updated = await self.client.patch(
            DEPLOYMENTS,
            d["metadata"]["name"],
            {"metadata": {"annotations": {revisions.REVISION: want}}},
            d["metadata"]["namespace"],
        )
        self.mutations.mutated(updated)
        d["metadata"]["annotations"] = updated["metadata"].get("annotations")
        d["metadata"]["resourceVersion"] = updated["metadata"].get("resourceVersion")

    # -- scaling -----------------------------------------------------------------------

    async def scale_rs(self, d: Object, rs: Object, size: int) -> tuple[bool, Object]:
        """Set ``rs`` to ``size`` replicas with the deployment's annotations."""
        body: dict[str, Any] = copy.deepcopy(dict(rs))
        annotations = body["metadata"].setdefault("annotations", {})
        surge, _ = revisions.rolling_params(d)
        desired = str(revisions.replicas(d))
        maximum = str(revisions.replicas(d) + surge)
        old_size = revisions.replicas(rs)
        if (
            old_size == size
            and annotations.get(revisions.DESIRED_REPLICAS) == desired
            and annotations.get(revisions.MAX_REPLICAS) == maximum
        ):
            return False, rs
        annotations[revisions.DESIRED_REPLICAS] = desired
        annotations[revisions.MAX_REPLICAS] = maximum
        body["spec"]["replicas"] = size
        updated = await self._update_rs(rs, body)
        if old_size != size:
            direction = "up" if size > old_size else "down"
            self.recorder.event(
                d,
                events.NORMAL,
                "ScalingReplicaSet",
                "Scaling",
                f"Scaled {direction} replica set {rs['metadata']['name']}"
                f" from {old_size} to {size}",
            )
        return old_size != size, updated

    async def _update_rs(self, cached: Object, body: dict[str, Any]) -> Object:
        """Write ``body`` (``cached`` changed); on a conflict that only the ReplicaSet
        controller's status writes caused, write it again over the fresh object.

        Upstream gives up the whole sync on any conflict. Here a conflict costs a write
        round trip (an fsync) and a requeue, and most are status-only: the spec and
        annotations the decision read are unchanged and no replica became unavailable,
        so the decision stands and retrying at once is as safe as resyncing.
        """
        try:
            written = await self.client.update(REPLICASETS, body)
        except errors.Conflict:
            md = cached["metadata"]
            fresh = await self.client.get(REPLICASETS, md["name"], md["namespace"])
            if not _only_status_moved(cached, fresh):
                raise
            retry = copy.deepcopy(body)
            retry["metadata"]["resourceVersion"] = fresh["metadata"]["resourceVersion"]
            retry["status"] = fresh.get("status") or {}
            written = await self.client.update(REPLICASETS, retry)
        self.mutations.mutated(written)
        return written

    async def sync(self, d: dict[str, Any], sets: list[Object]) -> None:
        """Paused deployments and scaling events: scale, clean up, write status (``sync``)."""
        new_rs, old = await self.get_new_and_old(d, sets, create=False)
        await self.scale(d, new_rs, old)
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused:
            await self.cleanup(d, old)
        all_sets = old + ([new_rs] if new_rs is not None else [])
        await self.sync_status(d, all_sets, new_rs)

    async def scale(self, d: Object, new_rs: Object | None, old: list[Object]) -> None:
        active = [rs for rs in old + ([new_rs] if new_rs else []) if revisions.replicas(rs) > 0]
        want = revisions.replicas(d)
        if len(active) <= 1:
            target = active[0] if active else new_rs
            if target is not None and revisions.replicas(target) != want:
                await self.scale_rs(d, target, want)
            return
        if (
            new_rs is not None
            and revisions.replicas(new_rs) == want
            and revisions.status_int(new_rs, "availableReplicas") == want
        ):
            for rs in old:
                if revisions.replicas(rs) > 0:
                    await self.scale_rs(d, rs, 0)
            return
        # Proportional scaling: share the change among active sets by their size.
        surge, _ = revisions.rolling_params(d)
        allowed = want + surge
        current = sum(revisions.replicas(rs) for rs in active)
        delta = allowed - current
        if delta == 0:
            for rs in active:
                await self.scale_rs(d, rs, revisions.replicas(rs))  # refresh annotations
            return
        ordered = sorted(active, key=lambda rs: -revisions.replicas(rs))
        left = delta
        for i, rs in enumerate(ordered):
            if i == len(ordered) - 1:
                share = left
            else:
                share = int(delta * revisions.replicas(rs) / max(current, 1))
                if delta < 0:
                    share = max(share, -revisions.replicas(rs))
            left -= share
            await self.scale_rs(d, rs, max(revisions.replicas(rs) + share, 0))

    async def cleanup(self, d: Object, old: list[Object]) -> None:
        """Delete the oldest unused ReplicaSets past ``revisionHistoryLimit``."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit", DEFAULT_HISTORY_LIMIT)
        if limit is None:
            return
        unused = [
            rs
            for rs in old
            if revisions.replicas(rs) == 0
            and revisions.status_int(rs, "replicas") == 0
            and not rs["metadata"].get("deletionTimestamp")
        ]
        excess = len(unused) - int(limit)
        if excess <= 0:
            return
        for rs in sorted(
            unused,
            key=lambda r: (revisions.revision(r), r["metadata"].get("creationTimestamp") or ""),
        )[:excess]:
            md = rs["metadata"]
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(
                    REPLICASETS, md["name"], md["namespace"], preconditions={"uid": md["uid"]}
                )

    async def sync_status(
        self, d: dict[str, Any], all_sets: list[Object], new_rs: Object | None
    ) -> dict[str, Any]:
        status = progress.calculate_status(d, all_sets, new_rs)
        paused = bool((d.get("spec") or {}).get("paused"))
        current = progress.condition(d.get("status") or {}, "Progressing")
        now = meta.now()
        if paused and (current is None or current.get("reason") != "DeploymentPaused"):
            progress.set_condition(
                status["conditions"],
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                now,
            )
        elif not paused and current is not None and current.get("reason") == "DeploymentPaused":
            progress.set_condition(
                status["conditions"],
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                now,
            )
        return await self.write_status(d, status)

    async def write_status(self, d: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        if _same_status(d.get("status") or {}, status):
            return d
        body = copy.deepcopy(d)
        body["status"] = status
        try:
            written = await self.client.update(DEPLOYMENTS, body, subresource="status")
        except errors.NotFound:
            return d
        self.mutations.mutated(written)
        return written


def _only_status_moved(cached: Object, fresh: Object) -> bool:
    """Same object, same spec, labels, annotations and owners; no replica less ready or
    available than the decision assumed."""
    cm, fm = cached["metadata"], fresh["metadata"]
    for field in ("uid", "labels", "annotations", "ownerReferences", "deletionTimestamp"):
        if cm.get(field) != fm.get(field):
            return False
    if cached.get("spec") != fresh.get("spec"):
        return False
    old, new = cached.get("status") or {}, fresh.get("status") or {}
    return all(
        int(new.get(k) or 0) >= int(old.get(k) or 0) for k in ("availableReplicas", "readyReplicas")
    )


def _same_status(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    def strip(s: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in s.items() if k != "conditions" and v not in (0, None)}
        out["conditions"] = sorted(
            (
                (c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
                for c in s.get("conditions") or []
            ),
            key=str,
        )
        return out

    return strip(old) == strip(new)


def new(ctx: manager_.ControllerContext) -> DeploymentController:
    return DeploymentController(ctx)

"""The StatefulSet controller: handlers, claiming pods and revisions, and the side effects.

Mirrors ``pkg/controller/statefulset/stateful_set.go`` (pod handlers mapping to the
owning set through ControllerRef or, for orphans, through selectors; ``sync``:
adopt orphan ControllerRevisions, claim member pods, run the algorithm, requeue
after ``minReadySeconds``), ``stateful_pod_control.go`` (create the pod's PVCs
before the pod; identity and storage repairs; PVC owner references for the
retention policy; events "create Pod web-0 in StatefulSet web successful") and
``stateful_set_status_updater.go``.

WARNING: objects from the listers are shared read-only cache entries; copy first.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client import events
from pyk8s.client.cache import store
from pyk8s.controllers import history, ownership, podowner
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import (
    CONTROLLERREVISIONS,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    STATEFULSETS,
)
from pyk8s.controllers.statefulset import control
from pyk8s.controllers.statefulset import identity as ident

log = logging.getLogger(__name__)

Object = Mapping[str, Any]


class StatefulSetController(podowner.PodOwnerController):
    name = "statefulset-controller"
    workers = 5
    owner_resource = STATEFULSETS
    owner_api_version = "apps/v1"
    owner_kind = "StatefulSet"
    terminating_is_deleted = False
    ready_requeue_extra = 0.0

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client = ctx.client
        self.recorder: events.EventRecorder = ctx.recorder("statefulset-controller")
        self.sets = self.owners = ctx.informers.lister(STATEFULSETS)
        self.pods = ctx.informers.lister(PODS)
        self.claims = ctx.informers.lister(PERSISTENTVOLUMECLAIMS)
        self.history = history.History(self.client, ctx.informers.lister(CONTROLLERREVISIONS))
        self.control = control.StatefulSetControl(
            self, self.history, self._update_status, self.clock.wall
        )
        self.watch(
            ctx.informers.for_resource(STATEFULSETS),
            add=self.enqueue,
            update=lambda old, new: self.enqueue(new),
            delete=self.enqueue,
        )
        self.watch_pods(ctx.informers.for_resource(PODS))
        self.watch(ctx.informers.for_resource(CONTROLLERREVISIONS))
        self.watch(ctx.informers.for_resource(PERSISTENTVOLUMECLAIMS))

    # -- sync --------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, name = store.split_key(key)
        try:
            sts = self.sets.namespace(namespace).get(name)
        except errors.NotFound:
            return
        selector = self.usable_selector(
            sts, self.recorder, "This StatefulSet is selecting all pods"
        )
        if selector is None:
            return
        sts = copy.deepcopy(dict(sts))
        await self._adopt_orphan_revisions(sts, selector)
        members = await self._claim_pods(sts, selector)
        status = await self.control.update(sts, selector, members)
        min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and status.get("availableReplicas") != ident.replicas(sts):
            self.queue.add_after(key, float(min_ready))

    async def _adopt_orphan_revisions(self, sts: Object, selector: Any) -> None:
        orphans = [
            cr for cr in self.history.list_for(sts, selector) if ownership.controller_of(cr) is None
        ]
        if not orphans:
            return
        await ownership.recheck_not_deleting(self.client, STATEFULSETS, sts)
        for cr in orphans:
            try:
                await self.history.adopt(sts, "apps/v1", "StatefulSet", cr)
            except errors.NotFound:
                continue

    async def _claim_pods(self, sts: Object, selector: Any) -> list[Object]:
        ns = sts["metadata"].get("namespace", "")
        candidates = self.pods.namespace(ns).list()
        return await self.claim_pods(sts, selector, candidates, lambda p: ident.is_member(sts, p))

    async def _update_status(self, sts: Object, status: dict[str, Any]) -> None:
        body = copy.deepcopy(dict(sts))
        body["status"] = {**(sts.get("status") or {}), **status}
        for _ in range(5):
            try:
                await self.client.update(STATEFULSETS, body, subresource="status")
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                md = sts["metadata"]
                fresh = await self.client.get(STATEFULSETS, md["name"], md.get("namespace"))
                if fresh["metadata"].get("uid") != md.get("uid"):
                    return
                fresh["status"] = {**(fresh.get("status") or {}), **status}
                body = fresh
        name = sts["metadata"]["name"]
        raise errors.Conflict(f"could not update the status of statefulset {name}")

    # -- pod control (control.PodControl) ----------------------------------------------

    def _event(self, sts: Object, verb: str, what: str, error: BaseException | None) -> None:
        name = sts["metadata"]["name"]
        if error is None:
            reason = f"Successful{verb.capitalize()}"
            message = f"{verb} {what} in StatefulSet {name} successful"
            self.recorder.event(sts, events.NORMAL, reason, verb.capitalize(), message)
        else:
            reason = f"Failed{verb.capitalize()}"
            message = f"{verb} {what} in StatefulSet {name} failed error: {error}"
            self.recorder.event(sts, events.WARNING, reason, verb.capitalize(), message)

    def _claim(self, namespace: str, name: str) -> Object | None:
        try:
            return self.claims.namespace(namespace).get(name)
        except errors.NotFound:
            return None

    async def _create_claims(self, sts: Object, pod: Object) -> None:
        failures: list[str] = []
        for claim in ident.claims_for(sts, pod).values():
            md = claim["metadata"]
            existing = self._claim(md["namespace"], md["name"])
            if existing is not None:
                if existing["metadata"].get("deletionTimestamp"):
                    failures.append(f"pvc {md['name']} is being deleted")
                continue
            what = f"Claim {md['name']} Pod {pod['metadata']['name']}"
            try:
                await self.client.create(PERSISTENTVOLUMECLAIMS, claim, md["namespace"])
            except errors.AlreadyExists:
                continue
            except errors.ApiError as e:
                failures.append(f"failed to create PVC {md['name']}: {e}")
                self._event(sts, "create", what, e)
                continue
            self._event(sts, "create", what, None)
        if failures:
            raise errors.InternalError("; ".join(failures))

    async def create_pod(self, sts: Object, pod: dict[str, Any]) -> None:
        try:
            await self._create_claims(sts, pod)
        except errors.ApiError as e:
            self._event(sts, "create", f"Pod {pod['metadata']['name']}", e)
            raise
        try:
            created = await self.client.create(PODS, pod, pod["metadata"]["namespace"])
        except errors.AlreadyExists:
            raise
        except errors.ApiError as e:
            self._event(sts, "create", f"Pod {pod['metadata']['name']}", e)
            raise
        await self.update_claims_for_policy(sts, created)
        self._event(sts, "create", f"Pod {pod['metadata']['name']}", None)

    async def update_pod(self, sts: Object, pod: dict[str, Any]) -> None:
        for _ in range(5):
            consistent = True
            if not ident.identity_matches(sts, pod):
                ident.update_identity(sts, pod)
                consistent = False
            if not ident.storage_matches(sts, pod):
                ident.update_storage(sts, pod)
                consistent = False
                await self._create_claims(sts, pod)
            if not self.claims_match_policy(sts, pod):
                await self.update_claims_for_policy(sts, pod)
                consistent = False
            if consistent:
                return
            try:
                await self.client.update(PODS, pod, pod["metadata"]["namespace"])
            except errors.Conflict:
                md = pod["metadata"]
                pod = await self.client.get(PODS, md["name"], md["namespace"])
                continue
            except errors.ApiError as e:
                self._event(sts, "update", f"Pod {pod['metadata']['name']}", e)
                raise
            self._event(sts, "update", f"Pod {pod['metadata']['name']}", None)
            return

    async def delete_pod(self, sts: Object, pod: Object) -> None:
        md = pod["metadata"]
        try:
            await self.client.delete(
                PODS, md["name"], md["namespace"], preconditions={"uid": md["uid"]}
            )
        except errors.ApiError as e:
            self._event(sts, "delete", f"Pod {md['name']}", e)
            raise
        self._event(sts, "delete", f"Pod {md['name']}", None)

    async def create_missing_claims(self, sts: Object, pod: Object) -> None:
        await self._create_claims(sts, pod)

    def claim_is_stale(self, sts: Object, pod: Object) -> bool:
        if ident.retention_policy(sts)[0] == ident.RETAIN:
            return False
        for claim in ident.claims_for(sts, pod).values():
            md = claim["metadata"]
            existing = self._claim(md["namespace"], md["name"])
            if existing is not None and ident.has_stale_owner_ref(existing, pod, "v1", "Pod"):
                return True
        return False

    def claims_match_policy(self, sts: Object, pod: Object) -> bool:
        ord_ = ident.ordinal(pod)
        for template in ident.claim_templates(sts):
            claim = self._claim(
                sts["metadata"].get("namespace", ""), ident.claim_name(sts, template, ord_)
            )
            if claim is not None and not ident.claim_owner_up_to_date(claim, sts, pod):
                return False
        return True

    async def update_claims_for_policy(self, sts: Object, pod: Object) -> None:
        ord_ = ident.ordinal(pod)
        ns = sts["metadata"].get("namespace", "")
        for template in ident.claim_templates(sts):
            name = ident.claim_name(sts, template, ord_)
            claim = self._claim(ns, name)
            if claim is None:
                continue
            if ident.has_unexpected_controller(claim, sts, pod):
                self.recorder.event(
                    sts,
                    events.WARNING,
                    "ConflictingController",
                    "Update",
                    f"PersistentVolumeClaim {name} has a conflicting OwnerReference that acts as "
                    "a manging controller, the retention policy is ignored for this claim",
                )
            if ident.claim_owner_up_to_date(claim, sts, pod):
                continue
            refs = ident.claim_owner_refs(claim, sts, pod)
            patch = {"metadata": {"ownerReferences": refs or None, "uid": claim["metadata"]["uid"]}}
            await self.client.patch(PERSISTENTVOLUMECLAIMS, name, patch, ns)


def new(ctx: manager_.ControllerContext) -> StatefulSetController:
    return StatefulSetController(ctx)

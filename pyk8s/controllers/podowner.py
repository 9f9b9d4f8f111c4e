"""What every controller that owns pods shares: mapping pod events to the owner's key, and
claiming the owner's pods.

Mirrors the handlers that ``pkg/controller/replicaset/replica_set.go``,
``daemon/daemon_controller.go`` and ``statefulset/stateful_set.go`` each write out
(``addPod``, ``updatePod``, ``deletePod``: a pod with a ControllerRef wakes the owner it
names, if that owner is of our kind and still the same object (``resolveControllerRef``);
an orphan wakes every owner whose selector matches it (``getPodReplicaSets``, empty
selectors matching nothing); a pod that turns ready wakes its owner again after
``minReadySeconds``) and ``controller_ref_manager.go``'s ``PodControllerRefManager``
(``ClaimPods`` with ``RecheckDeletionTimestamp``; see :mod:`pyk8s.controllers.ownership`).

A subclass sets ``owners`` (the lister of its own kind), ``pods``, ``owner_resource``,
``owner_api_version``, ``owner_kind``, and says how its handlers differ from the
ReplicaSet's through three class attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from pyk8s.api import errors, selectors
from pyk8s.client import events, rest
from pyk8s.client.cache import listers, store
from pyk8s.controllers import base, expectations, ownership, pods
from pyk8s.controllers.resources import PODS

Object = Mapping[str, Any]

_UNSET: Any = object()


class PodOwnerController(base.Controller):
    client: rest.Interface
    owners: listers.Lister
    pods: listers.Lister
    owner_resource: rest.ResourceRef
    owner_api_version: str
    owner_kind: str
    expectations: expectations.Expectations | None = None
    """Creations and deletions in flight, observed by the pod handlers (None: not kept)."""

    terminating_is_deleted: ClassVar[bool] = True
    """A pod whose graceful deletion started counts as deleted (ReplicaSet, DaemonSet)."""
    ready_requeue_extra: ClassVar[float | None] = None
    """A pod turning ready wakes its owner again after ``minReadySeconds`` plus this
    (None: it does not)."""

    def owner_selector(self, owner: Object) -> selectors.LabelSelector:
        return selectors.from_label_selector((owner.get("spec") or {}).get("selector"))

    def usable_selector(
        self, owner: Object, recorder: events.EventRecorder, selecting_all: str
    ) -> selectors.LabelSelector | None:
        """The owner's selector; None, with a warning event on the owner, when it is invalid
        or empty (``selecting_all`` is the controller's text for the latter)."""
        try:
            selector = self.owner_selector(owner)
        except selectors.SelectorError as e:
            recorder.event(owner, events.WARNING, "InvalidSelector", "Sync", str(e))
            return None
        if selector.empty:
            recorder.event(owner, events.WARNING, "SelectingAll", "Sync", selecting_all)
            return None
        return selector

    def watch_pods(self, informer: Any) -> None:
        ownership.ensure_controller_index(informer)
        self.watch(informer, add=self.pod_added, update=self.pod_updated, delete=self.pod_deleted)

    # -- handlers: map to keys, never call the API ------------------------------------

    def owner_key(self, obj: Object, ref: Mapping[str, Any] | None = _UNSET) -> str | None:
        """The key of the owner ``obj``'s ControllerRef names, if of our kind and the same
        object (uid) as in the cache."""
        if ref is _UNSET:
            ref = ownership.controller_of(obj)
        if ref is None or ref.get("kind") != self.owner_kind:
            return None
        if ref.get("apiVersion", "").split("/")[0] != self.owner_api_version.split("/")[0]:
            return None
        ns = obj["metadata"].get("namespace", "")
        try:
            owner = self.owners.namespace(ns).get(ref["name"])
        except errors.NotFound:
            return None
        if owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return f"{ns}/{ref['name']}"

    def owners_selecting(self, pod: Object) -> list[str]:
        labels = ownership.labels_of(pod)
        out = []
        for owner in self.owners.namespace(pod["metadata"].get("namespace", "")).list():
            try:
                sel = self.owner_selector(owner)
            except selectors.SelectorError:
                continue
            if not sel.empty and sel.matches(labels):
                out.append(store.meta_namespace_key(owner))
        return out

    def pod_added(self, pod: Object) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self.pod_deleted(pod)
            return
        ref = ownership.controller_of(pod)
        if ref is not None:
            key = self.owner_key(pod, ref)
            if key is not None:
                if self.expectations is not None:
                    self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for key in self.owners_selecting(pod):
            self.queue.add(key)

    def pod_updated(self, old: Object, new: Object) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        labels_changed = ownership.labels_of(old) != ownership.labels_of(new)
        if self.terminating_is_deleted and new["metadata"].get("deletionTimestamp"):
            self.pod_deleted(new)
            if labels_changed:
                self.pod_deleted(old)
            return
        old_ref, new_ref = ownership.controller_of(old), ownership.controller_of(new)
        if old_ref != new_ref and old_ref is not None:
            key = self.owner_key(old, old_ref)
            if key is not None:
                self.queue.add(key)
        if new_ref is not None:
            key = self.owner_key(new, new_ref)
            if key is None:
                return
            self.queue.add(key)
            extra = self.ready_requeue_extra
            if extra is not None and not pods.is_ready(old) and pods.is_ready(new):
                self._requeue_after_min_ready(key, new, new_ref, extra)
            return
        if labels_changed or old_ref != new_ref:
            for key in self.owners_selecting(new):
                self.queue.add(key)

    def _requeue_after_min_ready(
        self, key: str, pod: Object, ref: Mapping[str, Any], extra: float
    ) -> None:
        try:
            owner = self.owners.namespace(pod["metadata"]["namespace"]).get(ref["name"])
        except errors.NotFound:
            return
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0:
            self.queue.add_after(key, min_ready + extra)

    def pod_deleted(self, pod: Object) -> None:
        key = self.owner_key(pod)
        if key is None:
            return
        if self.expectations is not None:
            self.expectations.deletion_observed(key, store.meta_namespace_key(pod))
        self.queue.add(key)

    # -- claiming ------------------------------------------------------------------------

    def pod_candidates(self, owner: Object) -> list[Object]:
        """The owner's pods and the namespace's orphans, from the controller-uid index."""
        ns = owner["metadata"].get("namespace", "")
        index = self.pods.store.by_index
        return index(ownership.CONTROLLER_UID_INDEX, owner["metadata"]["uid"]) + index(
            ownership.CONTROLLER_UID_INDEX, ownership.orphan_key(ns)
        )

    async def claim_pods(
        self,
        owner: Object,
        selector: Any,
        candidates: Sequence[Object],
        extra: Callable[[Object], bool] | None = None,
    ) -> list[Object]:
        """``ClaimPods``: adopt matching orphans (after a fresh read shows the owner is not
        being deleted), release ours that stopped matching; the pods the owner controls."""

        async def can_adopt() -> None:
            await ownership.recheck_not_deleting(self.client, self.owner_resource, owner)

        manager = ownership.RefManager(
            self.client, PODS, owner, self.owner_api_version, self.owner_kind, selector, can_adopt
        )
        return await manager.claim(candidates, extra)

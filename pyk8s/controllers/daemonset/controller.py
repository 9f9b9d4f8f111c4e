"""The DaemonSet controller: one pod per eligible node, rolled out by revision.

Mirrors ``pkg/controller/daemon/daemon_controller.go`` (handlers for daemon sets,
their pods, nodes and ControllerRevisions; ``syncDaemonSet``: history first, then
``manage`` -- ``podsShouldBeOnNode`` per node, ``syncNodes`` creating pods pinned to
their node by affinity with the daemon tolerations and the ``controller-revision-hash``
label, in slow-start batches under expectations -- then the update strategy, history
cleanup and ``updateDaemonSetStatus``) and ``update.go`` (``constructHistory``,
``snapshot``, ``dedupCurHistories``, ``cleanupHistory``, ``rollingUpdate`` with
maxUnavailable or maxSurge). Failed pods are replaced without upstream's back-off.

WARNING: objects from the listers are shared read-only cache entries; copy first.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.client import events
from pyk8s.client.cache import store
from pyk8s.controllers import expectations, history, ownership, pod_control, podowner, pods
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.daemonset import nodes as nodes_
from pyk8s.controllers.deployment import revisions as deployment_revisions
from pyk8s.controllers.replicaset import slow_start_batch
from pyk8s.controllers.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS

log = logging.getLogger(__name__)

Object = Mapping[str, Any]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
BURST_REPLICAS = 250


def _scaled(value: Any, total: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        return math.ceil(int(text[:-1]) * total / 100)
    return int(text)


def _created(pod: Object) -> tuple[str, int, str]:
    """Oldest first; among equals, the pod further along (``podByCreationTimestampAndPhase``)."""
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    rank = {"Running": 0, "Unknown": 1, "Pending": 2}.get(phase, 3)
    md = pod["metadata"]
    return (md.get("creationTimestamp") or "", rank, md.get("name") or "")


class DaemonSetController(podowner.PodOwnerController):
    name = "daemonset-controller"
    workers = 2
    owner_resource = DAEMONSETS
    owner_api_version = "apps/v1"
    owner_kind = "DaemonSet"
    expectations: expectations.Expectations

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client = ctx.client
        self.recorder: events.EventRecorder = ctx.recorder("daemonset-controller")
        self.pod_control = pod_control.PodControl(self.client, self.recorder)
        self.expectations = expectations.Expectations(ctx.clock)
        self.sets = self.owners = ctx.informers.lister(DAEMONSETS)
        self.pods = ctx.informers.lister(PODS)
        self.nodes = ctx.informers.lister(NODES)
        self.history = history.History(self.client, ctx.informers.lister(CONTROLLERREVISIONS))
        self.watch(
            ctx.informers.for_resource(DAEMONSETS),
            add=self.enqueue,
            update=lambda old, new: self.enqueue(new),
            delete=self._set_deleted,
        )
        self.watch_pods(ctx.informers.for_resource(PODS))
        self.watch(
            ctx.informers.for_resource(NODES), add=self._node_changed, update=self._node_updated
        )
        self.watch(
            ctx.informers.for_resource(CONTROLLERREVISIONS),
            add=self._owned_changed,
            delete=self._owned_changed,
        )

    # -- handlers ----------------------------------------------------------------------

    def _set_deleted(self, ds: Object) -> None:
        key = store.meta_namespace_key(ds)
        self.expectations.delete(key)
        self.queue.add(key)

    def _owned_changed(self, obj: Object) -> None:
        key = self.owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _node_changed(self, node: Object) -> None:
        for ds in self.sets.list():
            self.enqueue(ds)

    def _node_updated(self, old: Object, new: Object) -> None:
        def relevant(n: Object) -> tuple[Any, ...]:
            return (
                ownership.labels_of(n),
                (n.get("spec") or {}).get("taints"),
                (n.get("spec") or {}).get("unschedulable"),
            )

        if relevant(old) != relevant(new):
            self._node_changed(new)

    # -- sync --------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, name = store.split_key(key)
        try:
            ds = self.sets.namespace(namespace).get(name)
        except errors.NotFound:
            self.expectations.delete(key)
            return
        selector = self.usable_selector(
            ds,
            self.recorder,
            "This daemon set is selecting all pods. A non-empty selector is required.",
        )
        if selector is None:
            return
        if ds["metadata"].get("deletionTimestamp"):
            return
        ds = copy.deepcopy(dict(ds))
        node_list = self.nodes.list()
        current, old = await self._construct_history(ds, selector)
        hash_ = ((current.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL, "")
        if not self.expectations.satisfied(key):
            await self._update_status(ds, selector, node_list, hash_, observed=False)
            return
        error: BaseException | None = None
        try:
            await self._manage(ds, selector, node_list, hash_, key)
            if self.expectations.satisfied(key):
                strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
                if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                    await self._rolling_update(ds, selector, node_list, hash_, key)
            await self._cleanup_history(ds, selector, old)
        except errors.ApiError as e:
            error = e
        await self._update_status(ds, selector, node_list, hash_, observed=True)
        if error is not None:
            raise error

    # -- pods per node -----------------------------------------------------------------

    async def _node_to_pods(self, ds: Object, selector: Any) -> dict[str, list[Object]]:
        claimed = await self.claim_pods(ds, selector, self.pod_candidates(ds))
        out: dict[str, list[Object]] = {}
        for pod in claimed:
            out.setdefault(nodes_.target_node(pod), []).append(pod)
        return out

    def _pods_for_node(
        self, ds: Object, node: Object, daemon_pods: Sequence[Object], hash_: str
    ) -> tuple[bool, list[Object]]:
        """``podsShouldBeOnNode``: (needs a daemon pod, pods to delete)."""
        run, keep = nodes_.should_run(ds, node)
        to_delete: list[Object] = []
        if run and not daemon_pods:
            return True, []
        if keep:
            running = []
            for pod in daemon_pods:
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                phase = (pod.get("status") or {}).get("phase")
                if phase in ("Failed", "Succeeded"):
                    to_delete.append(pod)
                else:
                    running.append(pod)
            running.sort(key=_created)
            if len(running) > 1:
                if not _allows_surge(ds):
                    to_delete += running[1:]
                else:
                    seen_new = seen_old = False
                    for pod in running:
                        is_new = ownership.labels_of(pod).get(HASH_LABEL) == hash_
                        if is_new and not seen_new:
                            seen_new = True
                        elif not is_new and not seen_old:
                            seen_old = True
                        else:
                            to_delete.append(pod)
        elif daemon_pods:
            to_delete = [p for p in daemon_pods if not p["metadata"].get("deletionTimestamp")]
        return False, to_delete

    async def _manage(
        self, ds: Object, selector: Any, node_list: Sequence[Object], hash_: str, key: str
    ) -> None:
        by_node = await self._node_to_pods(ds, selector)
        need: list[str] = []
        to_delete: list[Object] = []
        names = set()
        for node in node_list:
            name = node["metadata"]["name"]
            names.add(name)
            needs, delete = self._pods_for_node(ds, node, by_node.get(name, []), hash_)
            if needs:
                need.append(name)
            to_delete += delete
        for node_name, daemon_pods in by_node.items():
            if node_name in names:
                continue
            to_delete += [
                p
                for p in daemon_pods
                if not (p.get("spec") or {}).get("nodeName")
                and not p["metadata"].get("deletionTimestamp")
            ]
        await self._sync_nodes(ds, to_delete, need, hash_, key)

    async def _sync_nodes(
        self, ds: Object, to_delete: Sequence[Object], need: Sequence[str], hash_: str, key: str
    ) -> None:
        need = list(need)[:BURST_REPLICAS]
        to_delete = list(to_delete)[:BURST_REPLICAS]
        delete_keys = [store.meta_namespace_key(p) for p in to_delete]
        self.expectations.expect(key, len(need), delete_keys)
        md = ds["metadata"]
        template = copy.deepcopy(dict((ds.get("spec") or {}).get("template") or {}))
        tmd = template.setdefault("metadata", {})
        labels = tmd.setdefault("labels", {})
        generation = (md.get("annotations") or {}).get(GENERATION_ANNOTATION)
        if generation:
            labels[GENERATION_LABEL] = generation
        if hash_:
            labels[HASH_LABEL] = hash_
        spec = template.setdefault("spec", {})
        nodes_.add_daemon_tolerations(spec)
        owner = ownership.controller_ref(ds, "apps/v1", "DaemonSet")
        pending = list(need)
        first_error: BaseException | None = None

        async def create_one() -> None:
            node_name = pending.pop(0)
            body = pods.from_template(template, md["namespace"], f"{md['name']}-", owner)
            nodes_.pin_to_node(body["spec"], node_name)
            await self.pod_control.create(ds, body, md["namespace"])

        if need:
            created, first_error = await slow_start_batch(len(need), 1, create_one)
            if created < len(need):
                self.expectations.lower_creations(key, len(need) - created)

        failed = await self.pod_control.delete_all(ds, to_delete, self.expectations, key)
        if failed and first_error is None:
            first_error = failed[0]
        if first_error is not None:
            raise first_error

    # -- rolling update ----------------------------------------------------------------

    def _is_updated(self, pod: Object, ds: Object, hash_: str) -> bool:
        labels = ownership.labels_of(pod)
        generation = (ds["metadata"].get("annotations") or {}).get(GENERATION_ANNOTATION)
        return bool(hash_ and labels.get(HASH_LABEL) == hash_) or bool(
            generation and labels.get(GENERATION_LABEL) == generation
        )

    def _updated_and_old(
        self, ds: Object, daemon_pods: Sequence[Object], hash_: str
    ) -> tuple[Object | None, Object | None, bool]:
        new = old = None
        for pod in daemon_pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            if self._is_updated(pod, ds, hash_):
                if new is not None:
                    return None, None, False
                new = pod
            else:
                if old is not None:
                    return None, None, False
                old = pod
        return new, old, True

    async def _rolling_update(
        self, ds: Object, selector: Any, node_list: Sequence[Object], hash_: str, key: str
    ) -> None:
        by_node = await self._node_to_pods(ds, selector)
        spec = ds.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        desired = sum(1 for n in node_list if nodes_.should_run(ds, n)[0])
        ru = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_surge = _scaled(ru.get("maxSurge"), desired, 0)
        max_unavailable = _scaled(ru.get("maxUnavailable"), desired, 1)
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        now = self.clock.wall()

        def available(pod: Object) -> bool:
            return pods.is_available(pod, min_ready, now)

        if max_surge == 0:
            unavailable = 0
            replacements: list[Object] = []
            candidates: list[Object] = []
            for _node, daemon_pods in sorted(by_node.items()):
                new, old, ok = self._updated_and_old(ds, daemon_pods, hash_)
                if not ok or (new is None) == (old is None):
                    unavailable += 1
                elif new is not None:
                    if not available(new):
                        unavailable += 1
                elif old is not None:
                    if not available(old):
                        replacements.append(old)
                    elif unavailable < max_unavailable:
                        candidates.append(old)
            room = max(0, min(max_unavailable - unavailable, len(candidates)))
            await self._sync_nodes(ds, replacements + candidates[:room], [], hash_, key)
            return
        surge = 0
        old_to_delete: list[Object] = []
        stray: list[Object] = []
        candidate_nodes: list[str] = []
        allowed_nodes: list[str] = []
        node_by_name = {n["metadata"]["name"]: n for n in node_list}
        for node_name, daemon_pods in sorted(by_node.items()):
            new, old, ok = self._updated_and_old(ds, daemon_pods, hash_)
            if not ok:
                surge += 1
                continue
            if old is None:
                continue
            if new is None:
                if not available(old):
                    node = node_by_name.get(node_name)
                    if node is None or not nodes_.should_run(ds, node)[0]:
                        stray.append(old)
                        continue
                    allowed_nodes.append(node_name)
                elif surge < max_surge:
                    candidate_nodes.append(node_name)
                continue
            if not available(new):
                surge += 1
                continue
            old_to_delete.append(old)
        room = max(0, min(max_surge - surge, len(candidate_nodes)))
        await self._sync_nodes(
            ds, old_to_delete + stray, allowed_nodes + candidate_nodes[:room], hash_, key
        )

    # -- history -----------------------------------------------------------------------

    async def _controlled_histories(self, ds: Object, selector: Any) -> list[Object]:
        ns = ds["metadata"].get("namespace", "")
        candidates = self.history.lister.namespace(ns).list()

        async def can_adopt() -> None:
            await ownership.recheck_not_deleting(self.client, DAEMONSETS, ds)

        manager = ownership.RefManager(
            self.client, CONTROLLERREVISIONS, ds, "apps/v1", "DaemonSet", selector, can_adopt
        )
        return await manager.claim(candidates)

    async def _construct_history(self, ds: Object, selector: Any) -> tuple[Object, list[Object]]:
        """(the revision of the current template, the older ones) (``constructHistory``)."""
        patch = history.template_patch(ds)
        raw = history.go_json(patch)
        current: list[Object] = []
        old: list[Object] = []
        ns = ds["metadata"]["namespace"]
        for found in await self._controlled_histories(ds, selector):
            cr = found
            if HASH_LABEL not in ownership.labels_of(cr):
                body = copy.deepcopy(dict(cr))
                body["metadata"].setdefault("labels", {})[HASH_LABEL] = body["metadata"]["name"]
                cr = await self.client.update(CONTROLLERREVISIONS, body, ns)
            if history.go_json(cr.get("data")) == raw:
                current.append(cr)
            else:
                old.append(cr)
        next_number = max((history.revision_of(c) for c in old), default=0) + 1
        if not current:
            return await self._snapshot(ds, patch, next_number), old
        keep = await self._dedup(ds, current)
        if history.revision_of(keep) < next_number:
            keep = await self.history.update_revision(keep, next_number)
        return keep, old

    async def _snapshot(self, ds: Object, patch: dict[str, Any], number: int) -> Object:
        md = ds["metadata"]
        collision_count = (ds.get("status") or {}).get("collisionCount")
        template = (ds.get("spec") or {}).get("template") or {}
        hash_ = deployment_revisions.compute_hash(template, collision_count)
        name = f"{md['name']}-{hash_}"
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[HASH_LABEL] = hash_
        cr_md: dict[str, Any] = {
            "name": name,
            "namespace": md["namespace"],
            "labels": labels,
            "ownerReferences": [ownership.controller_ref(ds, "apps/v1", "DaemonSet")],
        }
        if md.get("annotations"):
            cr_md["annotations"] = dict(md["annotations"])
        body = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": cr_md,
            "data": patch,
            "revision": number,
        }
        try:
            return await self.client.create(CONTROLLERREVISIONS, body, md["namespace"])
        except errors.AlreadyExists as outer:
            existing = await self.client.get(CONTROLLERREVISIONS, name, md["namespace"])
            if history.go_json(existing.get("data")) == history.go_json(patch):
                return existing
            fresh = await self.client.get(DAEMONSETS, md["name"], md["namespace"])
            fresh_count = (fresh.get("status") or {}).get("collisionCount")
            if fresh_count != collision_count:
                raise errors.Conflict(
                    f"found a stale collision count ({collision_count}, expected {fresh_count}) "
                    f"of DaemonSet {md['name']!r} while processing; will retry until it is updated"
                ) from outer
            fresh.setdefault("status", {})["collisionCount"] = int(fresh_count or 0) + 1
            await self.client.update(DAEMONSETS, fresh, md["namespace"], subresource="status")
            raise

    async def _dedup(self, ds: Object, current: list[Object]) -> Object:
        if len(current) == 1:
            return current[0]
        keep = max(current, key=history.revision_of)
        keep_hash = ownership.labels_of(keep).get(HASH_LABEL, "")
        by_node = await self._node_to_pods(ds, self.owner_selector(ds))
        for cr in current:
            if cr is keep:
                continue
            dup_hash = ownership.labels_of(cr).get(HASH_LABEL)
            for daemon_pods in by_node.values():
                for pod in daemon_pods:
                    if ownership.labels_of(pod).get(HASH_LABEL) == dup_hash:
                        pmd = pod["metadata"]
                        patch = {"metadata": {"labels": {HASH_LABEL: keep_hash}}}
                        with contextlib.suppress(errors.NotFound):
                            await self.client.patch(PODS, pmd["name"], patch, pmd["namespace"])
            await self.history.delete(cr)
        return keep

    async def _cleanup_history(self, ds: Object, selector: Any, old: list[Object]) -> None:
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        excess = len(old) - limit
        if excess <= 0:
            return
        by_node = await self._node_to_pods(ds, selector)
        live = {
            ownership.labels_of(p).get(HASH_LABEL)
            for daemon_pods in by_node.values()
            for p in daemon_pods
        }
        for cr in sorted(old, key=history.revision_of):
            if excess <= 0:
                break
            if ownership.labels_of(cr).get(HASH_LABEL) in live:
                continue
            await self.history.delete(cr)
            excess -= 1

    # -- status ------------------------------------------------------------------------

    async def _update_status(
        self, ds: Object, selector: Any, node_list: Sequence[Object], hash_: str, observed: bool
    ) -> None:
        by_node = await self._node_to_pods(ds, selector)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = self.clock.wall()
        desired = current = misscheduled = ready = updated = available = 0
        for node in node_list:
            run, _ = nodes_.should_run(ds, node)
            daemon_pods = by_node.get(node["metadata"]["name"]) or []
            if run:
                desired += 1
                if not daemon_pods:
                    continue
                current += 1
                pod = sorted(daemon_pods, key=_created)[0]
                if pods.is_ready(pod):
                    ready += 1
                    if pods.is_available(pod, min_ready, now):
                        available += 1
                if self._is_updated(pod, ds, hash_):
                    updated += 1
            elif daemon_pods:
                misscheduled += 1
        status: dict[str, Any] = {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
        }
        generation = int(ds["metadata"].get("generation") or 0)
        old = ds.get("status") or {}
        if observed:
            status["observedGeneration"] = generation
        same = all(int(old.get(k) or 0) == v for k, v in status.items())
        if same and int(old.get("observedGeneration") or 0) >= generation:
            pass
        else:
            await self._store_status(ds, status)
        if min_ready > 0 and ready != available:
            self.enqueue_after(ds, float(min_ready))

    async def _store_status(self, ds: Object, status: dict[str, Any]) -> None:
        md = ds["metadata"]
        body = copy.deepcopy(dict(ds))
        for _ in range(3):
            body["status"] = {**(body.get("status") or {}), **status}
            if not status.get("numberUnavailable"):
                body["status"].pop("numberUnavailable", None)
            try:
                await self.client.update(DAEMONSETS, body, md["namespace"], subresource="status")
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                body = await self.client.get(DAEMONSETS, md["name"], md["namespace"])
                if body["metadata"].get("uid") != md.get("uid"):
                    return
        raise errors.Conflict(f"could not update the status of daemonset {md['name']}")


def _allows_surge(ds: Object) -> bool:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return False
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge")
    return surge not in (None, 0, "0", "0%")


def new(ctx: manager_.ControllerContext) -> DaemonSetController:
    return DaemonSetController(ctx)

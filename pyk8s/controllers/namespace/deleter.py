"""Deletes everything in a terminating namespace and reports progress as conditions.

Mirrors ``pkg/controller/namespace/deletion/namespaced_resources_deleter.go``
(``Delete``, ``deleteAllContent``, ``deleteAllContentForGroupVersionResource``,
``estimateGracefulTermination``, the ``NamespaceDeletion*`` conditions and
their reasons and messages, ``finalizeNamespace`` through ``/finalize``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client import clock as clock_
from pyk8s.client import rest
from pyk8s.controllers.resources import NAMESPACES, PODS, discovered

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"

CONDITION_ORDER = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)

_OK = {
    "NamespaceDeletionDiscoveryFailure": (
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": (
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
}


class ContentRemaining(Exception):
    """Some content is still there; look again after ``estimate`` seconds."""

    def __init__(self, estimate: float) -> None:
        super().__init__(f"some content remains; checking again in {estimate:.0f}s")
        self.estimate = estimate


@dataclass
class _Progress:
    estimate: float = 0.0
    failures: list[str] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)
    finalizers: dict[str, int] = field(default_factory=dict)


class NamespacedResourcesDeleter:
    def __init__(
        self,
        client: rest.Interface,
        resources: Sequence[rest.ResourceRef],
        clock: clock_.Clock,
    ) -> None:
        self.client = client
        self.resources = list(resources)
        self.clock = clock

    async def delete(self, name: str) -> None:
        """Empty namespace ``name`` and finalize it; ``ContentRemaining`` to look again later."""
        try:
            ns = await self.client.get(NAMESPACES, name)
        except errors.NotFound:
            return
        if not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        progress = await self._delete_all_content(name)
        ns = await self._update_conditions(ns, progress)
        if progress.failures:
            raise RuntimeError(
                f"deleting content of namespace {name}: " + "; ".join(progress.failures[:5])
            )
        if progress.remaining or progress.estimate > 0:
            raise ContentRemaining(max(progress.estimate, 1.0))
        await self._finalize(ns)

    async def _delete_all_content(self, namespace: str) -> _Progress:
        progress = _Progress()
        try:
            found = await discovered(self.client, "list", "delete")
        except errors.ApiError as e:
            progress.failures.append(f"discovery: {e}")
            found = []
        known = {(r.group, r.plural) for r in self.resources}
        extra = [r for r in found if r.namespaced and (r.group, r.plural) not in known]
        for ref in [*self.resources, *extra]:
            try:
                await self._delete_collection(ref, namespace)
            except errors.NotFound:
                continue
            except (errors.MethodNotAllowed, errors.Forbidden) as e:
                log.debug("namespace %s: cannot delete %s: %s", namespace, ref.qualified, e)
                continue
            except errors.ApiError as e:
                progress.failures.append(f"{ref.qualified}: {e}")
                continue
            try:
                listing = await self.client.list(ref, namespace)
            except errors.ApiError as e:
                progress.failures.append(f"{ref.qualified}: {e}")
                continue
            items = listing.get("items") or []
            if not items:
                continue
            label = f"{ref.plural}.{ref.group}" if ref.group else f"{ref.plural}."
            progress.remaining[label] = len(items)
            for item in items:
                for fin in item["metadata"].get("finalizers") or []:
                    progress.finalizers[fin] = progress.finalizers.get(fin, 0) + 1
            if ref == PODS:
                progress.estimate = max(progress.estimate, self._estimate_pods(items))
        return progress

    async def _delete_collection(self, ref: rest.ResourceRef, namespace: str) -> None:
        try:
            await self.client.delete_collection(ref, namespace, propagation_policy="Background")
            return
        except errors.MethodNotAllowed:
            pass
        listing = await self.client.list(ref, namespace)
        for item in listing.get("items") or []:
            if item["metadata"].get("deletionTimestamp"):
                continue
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(
                    ref, item["metadata"]["name"], namespace, propagation_policy="Background"
                )

    def _estimate_pods(self, pods: list[Mapping[str, Any]]) -> float:
        """Seconds until the slowest pod's grace period ends (``estimateGracefulTermination``)."""
        estimate = 0.0
        now = self.clock.wall()
        for pod in pods:
            md = pod["metadata"]
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            left = float(grace or 0)
            if md.get("deletionTimestamp"):
                at = meta.parse_time(md["deletionTimestamp"])
                left = (at - now).total_seconds()
            estimate = max(estimate, left)
        return max(estimate, 0.0)

    async def _update_conditions(self, ns: dict[str, Any], progress: _Progress) -> dict[str, Any]:
        wanted: dict[str, tuple[str, str, str]] = {t: ("False", *_OK[t]) for t in CONDITION_ORDER}
        if progress.failures:
            wanted["NamespaceDeletionContentFailure"] = (
                "True",
                "ContentDeletionFailed",
                "Failed to delete all resource types, "
                + f"{len(progress.failures)} remaining: "
                + ", ".join(progress.failures),
            )
        if progress.remaining:
            wanted["NamespaceContentRemaining"] = (
                "True",
                "SomeResourcesRemain",
                "Some resources are remaining: "
                + ", ".join(
                    f"{k} has {v} resource instances" for k, v in sorted(progress.remaining.items())
                ),
            )
        if progress.finalizers:
            wanted["NamespaceFinalizersRemaining"] = (
                "True",
                "SomeFinalizersRemain",
                "Some content in the namespace has finalizers remaining: "
                + ", ".join(
                    f"{k} in {v} resource instances" for k, v in sorted(progress.finalizers.items())
                ),
            )
        status = ns.get("status") or {}
        old = {c.get("type"): c for c in status.get("conditions") or []}
        now = _now(self.clock.wall())
        conditions = []
        changed = False
        for t in CONDITION_ORDER:
            s, reason, message = wanted[t]
            prev = old.get(t)
            if prev and (prev.get("status"), prev.get("reason"), prev.get("message")) == (
                s,
                reason,
                message,
            ):
                conditions.append(prev)
                continue
            changed = True
            conditions.append(
                {
                    "type": t,
                    "status": s,
                    "lastTransitionTime": now,
                    "reason": reason,
                    "message": message,
                }
            )
        if not changed:
            return ns
        body = copy.deepcopy(ns)
        body["status"] = {**status, "conditions": conditions}
        try:
            return await self.client.update(NAMESPACES, body, subresource="status")
        except errors.NotFound:
            return ns

    async def _finalize(self, ns: dict[str, Any]) -> None:
        body = copy.deepcopy(ns)
        spec = body.get("spec") or {}
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        body["spec"] = spec
        with contextlib.suppress(errors.NotFound):
            await self.client.update(NAMESPACES, body, subresource="finalize")


def _now(t: datetime.datetime) -> str:
    return meta.format_time(t)

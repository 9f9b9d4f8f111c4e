"""The PVC protection controller: a claim in use by a pod is not deleted under it.

Mirrors ``pkg/controller/volume/pvcprotection/pvc_protection_controller.go``: claims carry
the ``kubernetes.io/pvc-protection`` finalizer (the StorageObjectInUseProtection admission
plugin adds it on create; this controller adds it to older claims). A claim being deleted
keeps it while a pod scheduled to a node names the claim in its volumes (``podUsesPVC``);
the informer's answer "unused" is checked against a live list of the namespace's pods
(``askAPIServer``) before the finalizer goes, so a pod the cache has not seen yet still
holds its claim. Pod events wake the claims they name.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.client.cache import store
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import PERSISTENTVOLUMECLAIMS, PODS

log = logging.getLogger(__name__)

Object = Mapping[str, Any]
FINALIZER = "kubernetes.io/pvc-protection"


def claims_of(pod: Object) -> list[str]:
    """The claims a pod names: its ``persistentVolumeClaim`` volumes and ephemeral ones."""
    name = (pod.get("metadata") or {}).get("name", "")
    out = []
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if isinstance(v.get("persistentVolumeClaim"), Mapping):
            out.append(str(v["persistentVolumeClaim"].get("claimName") or ""))
        elif v.get("ephemeral") is not None:
            out.append(f"{name}-{v.get('name', '')}")
    return out


def pod_uses_claim(pod: Object, claim: str) -> bool:
    """``podUsesPVC``: only scheduled pods count (the kubelet starts no pod on a claim
    being deleted)."""
    return bool((pod.get("spec") or {}).get("nodeName")) and claim in claims_of(pod)


def _finalizers(obj: Object) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


class PVCProtectionController(base.Controller):
    name = "persistentvolumeclaim-protection-controller"
    workers = 1

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.claims = ctx.informers.lister(PERSISTENTVOLUMECLAIMS)
        self.pods = ctx.informers.lister(PODS)
        self.watch(
            ctx.informers.for_resource(PERSISTENTVOLUMECLAIMS),
            add=self._claim_changed,
            update=lambda old, new: self._claim_changed(new),
        )
        self.watch(
            ctx.informers.for_resource(PODS),
            add=self._pod_changed,
            update=lambda old, new: self._pod_changed(new),
            delete=self._pod_changed,
        )

    def _claim_changed(self, claim: Object) -> None:
        deleting = bool((claim.get("metadata") or {}).get("deletionTimestamp"))
        has = FINALIZER in _finalizers(claim)
        if has == deleting:  # to release, or to protect
            self.enqueue(claim)

    def _pod_changed(self, pod: Object) -> None:
        ns = (pod.get("metadata") or {}).get("namespace", "")
        for claim in claims_of(pod):
            self.queue.add(f"{ns}/{claim}")

    async def reconcile(self, key: str) -> None:
        ns, name = store.split_key(key)
        try:
            claim = self.claims.namespace(ns).get(name)
        except errors.NotFound:
            return
        md = claim.get("metadata") or {}
        finalizers = _finalizers(claim)
        if not md.get("deletionTimestamp"):
            if FINALIZER not in finalizers:
                await self._set_finalizers(claim, [*finalizers, FINALIZER])
            return
        if FINALIZER not in finalizers:
            return
        if any(pod_uses_claim(p, name) for p in self.pods.namespace(ns).list()):
            return  # a pod event brings the claim back
        listed = await self.client.list(PODS, ns)
        if any(pod_uses_claim(p, name) for p in listed.get("items") or []):
            return
        await self._set_finalizers(claim, [f for f in finalizers if f != FINALIZER])
        log.info("pvc protection: claim %s/%s is no longer in use", ns, name)

    async def _set_finalizers(self, claim: Object, finalizers: list[str]) -> None:
        updated = copy.deepcopy(dict(claim))
        updated["metadata"]["finalizers"] = finalizers
        with contextlib.suppress(errors.NotFound):
            await self.client.update(
                PERSISTENTVOLUMECLAIMS, updated, updated["metadata"]["namespace"]
            )


def new(ctx: manager_.ControllerContext) -> PVCProtectionController:
    return PVCProtectionController(ctx)

"""The PV protection controller: a bound volume is not deleted under its claim.

Mirrors ``pkg/controller/volume/pvprotection/pv_protection_controller.go``: volumes carry
the ``kubernetes.io/pv-protection`` finalizer (added on create by the
StorageObjectInUseProtection admission plugin; here also to older volumes). A volume being
deleted keeps it while its phase is Bound (``isBeingUsed``); once its claim is gone and
the volume Released (or it was never bound) the finalizer is removed and the delete ends.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client import rest
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import PERSISTENTVOLUMES

log = logging.getLogger(__name__)

Object = Mapping[str, Any]
FINALIZER = "kubernetes.io/pv-protection"


def _finalizers(obj: Object) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


class PVProtectionController(base.Controller):
    name = "persistentvolume-protection-controller"
    workers = 1

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.volumes = ctx.informers.lister(PERSISTENTVOLUMES)
        self.watch(
            ctx.informers.for_resource(PERSISTENTVOLUMES),
            add=self._changed,
            update=lambda old, new: self._changed(new),
        )

    def _changed(self, volume: Object) -> None:
        deleting = bool((volume.get("metadata") or {}).get("deletionTimestamp"))
        if (FINALIZER in _finalizers(volume)) == deleting:
            self.enqueue(volume)

    async def reconcile(self, key: str) -> None:
        try:
            volume = self.volumes.get(key)
        except errors.NotFound:
            return
        finalizers = _finalizers(volume)
        if not (volume.get("metadata") or {}).get("deletionTimestamp"):
            if FINALIZER not in finalizers:
                await self._set_finalizers(volume, [*finalizers, FINALIZER])
            return
        if FINALIZER not in finalizers:
            return
        if (volume.get("status") or {}).get("phase") == "Bound":
            return  # its update to Released brings it back
        await self._set_finalizers(volume, [f for f in finalizers if f != FINALIZER])
        log.info("pv protection: volume %s is no longer in use", key)

    async def _set_finalizers(self, volume: Object, finalizers: list[str]) -> None:
        updated = copy.deepcopy(dict(volume))
        updated["metadata"]["finalizers"] = finalizers
        with contextlib.suppress(errors.NotFound):
            await self.client.update(PERSISTENTVOLUMES, updated)


def new(ctx: manager_.ControllerContext) -> PVProtectionController:
    return PVProtectionController(ctx)

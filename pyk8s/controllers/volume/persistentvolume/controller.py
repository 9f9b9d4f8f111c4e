"""The PersistentVolume controller's binder: claims bound to volumes, volumes released.

Mirrors ``pkg/controller/volume/persistentvolume/pv_controller.go`` and
``pv_controller_base.go``:

- ``syncClaim``: a claim without ``pv.kubernetes.io/bind-completed`` is unbound. With no
  ``spec.volumeName`` it takes the best match of :mod:`.index`; when none fits, a claim
  with no class gets the default StorageClass (retroactively, as upstream does), a claim
  whose class binds on first consumer waits (``WaitForFirstConsumer``, or
  ``WaitForPodScheduled`` naming the unscheduled pods that use it), a claim with a
  class waits for a provisioner (this cluster has none in-tree: ``ExternalProvisioning``,
  or ``ProvisioningFailed`` when the class does not exist), and a claim with none is told
  ``no persistent volumes available for this claim and no storage class is set``. A claim
  naming a volume is bound to it if it fits (``VolumeMismatch`` otherwise). A bound claim
  whose volume is gone or taken becomes ``Lost``.
- ``bind``: the volume gets ``claimRef`` (and ``pv.kubernetes.io/bound-by-controller``
  when the controller chose it) and phase Bound; the claim gets ``volumeName``,
  ``bind-completed`` (and ``bound-by-controller``), then status Bound with the volume's
  access modes and capacity. Each write is an update at the cached resourceVersion, so a
  stale cache loses with a Conflict and is retried instead of binding twice.
- ``syncVolume``: an unclaimed volume is Available; a volume whose claim is gone becomes
  Released and its reclaim policy runs: Retain keeps it; Delete removes a ``hostPath``
  volume's directory when it lies under ``/tmp/`` (as upstream's hostPath deleter, the
  only place it deletes host data) and then the PersistentVolume object, and marks any
  other volume Failed (``VolumeFailedDelete``); Recycle is deprecated and has no recycler
  here (Failed, ``VolumeFailedRecycle``). A volume a controller bound to a claim that
  went to another volume is unbound again.

Everything is resynced every ``PERIOD`` seconds (upstream ``--pvclaimbinder-sync-period``);
a volume turning Available also wakes the unbound claims at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import shutil
from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client import events, rest
from pyk8s.client.cache import store
from pyk8s.controllers import base
from pyk8s.controllers import manager as manager_
from pyk8s.controllers.resources import (
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    STORAGECLASSES,
)
from pyk8s.controllers.volume import pvcprotection
from pyk8s.controllers.volume.persistentvolume import index

log = logging.getLogger(__name__)

Object = Mapping[str, Any]

PERIOD = 15.0
RESYNC = "resync"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
HOST_PATH_DELETABLE = re.compile(r"^/tmp/.+")
NO_CLASS_MESSAGE = "no persistent volumes available for this claim and no storage class is set"


def _md(obj: Object) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Object) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _phase(obj: Object) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def _annotated(obj: Object, key: str) -> bool:
    return key in (_md(obj).get("annotations") or {})


def _as_claim(obj: Object) -> dict[str, Any]:
    return {**obj, "apiVersion": "v1", "kind": "PersistentVolumeClaim"}


def _as_volume(obj: Object) -> dict[str, Any]:
    return {**obj, "apiVersion": "v1", "kind": "PersistentVolume"}


def claim_ref(claim: Object) -> dict[str, Any]:
    """``reference.GetReference`` of a claim, as ``pv.spec.claimRef`` holds it."""
    md = _md(claim)
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": md.get("namespace", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
        "apiVersion": "v1",
        "resourceVersion": md.get("resourceVersion", ""),
    }


def is_default_class(sc: Object) -> bool:
    annotations = _md(sc).get("annotations") or {}
    return annotations.get(DEFAULT_CLASS, annotations.get(BETA_DEFAULT_CLASS)) == "true"


def check_volume_satisfies_claim(volume: Object, claim: Object) -> str | None:
    """``checkVolumeSatisfyClaim``: why a volume the claim names cannot serve it, or None."""
    if _md(volume).get("deletionTimestamp"):
        return f'the volume is marked for deletion "{_md(volume).get("name")}"'
    if index.capacity(volume) < index.requested(claim):
        return "requested PV is too small"
    if index.volume_class(volume) != index.claim_class(claim):
        return "storageClassName does not match"
    if index.volume_mode_mismatch(claim, volume):
        return "incompatible volumeMode"
    if not index.access_modes_fit(claim, volume):
        return "incompatible accessMode"
    return None


class PersistentVolumeController(base.Controller):
    name = "persistentvolume-binder-controller"
    workers = 1  # claims compete for volumes: one binding at a time, as upstream's single worker

    def __init__(self, ctx: manager_.ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: rest.Interface = ctx.client
        self.recorder: events.EventRecorder = ctx.recorder("persistentvolume-controller")
        self.volumes = ctx.informers.lister(PERSISTENTVOLUMES)
        self.claims = ctx.informers.lister(PERSISTENTVOLUMECLAIMS)
        self.classes = ctx.informers.lister(STORAGECLASSES)
        self.pods = ctx.informers.lister(PODS)
        self.period = PERIOD
        self.watch(
            ctx.informers.for_resource(PERSISTENTVOLUMES),
            add=self._volume_changed,
            update=lambda old, new: self._volume_changed(new),
            delete=self._volume_deleted,
        )
        self.watch(
            ctx.informers.for_resource(PERSISTENTVOLUMECLAIMS),
            add=self._enqueue_claim,
            update=lambda old, new: self._enqueue_claim(new),
            delete=self._claim_deleted,
        )
        self.watch(
            ctx.informers.for_resource(STORAGECLASSES),
            add=lambda sc: self._wake_unbound_claims(),
            update=lambda old, new: self._wake_unbound_claims(),
        )
        self.watch(ctx.informers.for_resource(PODS))
        self.queue.add(RESYNC)

    # -- events -> keys ------------------------------------------------------------------

    def _enqueue_claim(self, claim: Object) -> None:
        self.queue.add("pvc:" + store.meta_namespace_key(claim))

    def _enqueue_volume(self, name: str) -> None:
        self.queue.add("pv:" + name)

    def _volume_changed(self, volume: Object) -> None:
        self._enqueue_volume(str(_md(volume).get("name")))
        ref = _spec(volume).get("claimRef")
        if ref:
            self.queue.add(f"pvc:{ref.get('namespace')}/{ref.get('name')}")
        elif _phase(volume) == "Available":
            self._wake_unbound_claims()

    def _volume_deleted(self, volume: Object) -> None:
        ref = _spec(volume).get("claimRef")
        if ref:
            self.queue.add(f"pvc:{ref.get('namespace')}/{ref.get('name')}")

    def _claim_deleted(self, claim: Object) -> None:
        name = _spec(claim).get("volumeName")
        if name:
            self._enqueue_volume(str(name))

    def _wake_unbound_claims(self) -> None:
        for claim in self.claims.list():
            if not _annotated(claim, BIND_COMPLETED):
                self._enqueue_claim(claim)

    # -- reconcile -----------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        if key == RESYNC:
            try:
                for volume in self.volumes.list():
                    self._enqueue_volume(str(_md(volume).get("name")))
                for claim in self.claims.list():
                    self._enqueue_claim(claim)
            finally:
                self.queue.add_after(RESYNC, self.period)
            return
        kind, _, rest_ = key.partition(":")
        if kind == "pv":
            try:
                volume = self.volumes.get(rest_)
            except errors.NotFound:
                return
            await self.sync_volume(volume)
        else:
            ns, name = store.split_key(rest_)
            try:
                claim = self.claims.namespace(ns).get(name)
            except errors.NotFound:
                return
            await self.sync_claim(claim)

    async def sync_claim(self, claim: Object) -> None:
        if _annotated(claim, BIND_COMPLETED):
            await self.sync_bound_claim(claim)
        else:
            await self.sync_unbound_claim(claim)

    def _delay_binding(self, claim: Object) -> bool:
        """``IsDelayBindingMode``: the claim's class binds when a pod first uses it."""
        name = index.claim_class(claim)
        if not name:
            return False
        try:
            sc = self.classes.get(name)
        except errors.NotFound:
            return False
        return sc.get("volumeBindingMode") == "WaitForFirstConsumer"

    def _default_class(self) -> Object | None:
        """``GetDefaultClass``: the newest class annotated as default."""
        defaults = [sc for sc in self.classes.list() if is_default_class(sc)]
        if not defaults:
            return None
        return max(
            defaults, key=lambda sc: (_md(sc).get("creationTimestamp") or "", _md(sc)["name"])
        )

    async def sync_unbound_claim(self, claim: Object) -> None:
        wanted = _spec(claim).get("volumeName")
        if not wanted:
            delay = self._delay_binding(claim)
            volume = index.find_best_match(claim, self.volumes.list(), delay)
            if volume is not None:
                await self.bind(volume, claim)
                return
            if await self._assign_default_class(claim):
                return
            if delay:
                self._wait_for_consumer(claim)
            elif index.claim_class(claim):
                self._provision(claim)
                return
            else:
                self.recorder.event(
                    _as_claim(claim), events.NORMAL, "FailedBinding", "Binding", NO_CLASS_MESSAGE
                )
            await self.update_claim_status(claim, "Pending", None)
            return
        try:
            volume = self.volumes.get(str(wanted))
        except errors.NotFound:
            await self.update_claim_status(claim, "Pending", None)  # it may be created later
            return
        if not _spec(volume).get("claimRef"):
            problem = check_volume_satisfies_claim(volume, claim)
            if problem is None:
                await self.bind(volume, claim)
                return
            self.recorder.event(
                _as_claim(claim),
                events.WARNING,
                "VolumeMismatch",
                "Binding",
                f'Cannot bind to requested volume "{wanted}": {problem}',
            )
            await self.update_claim_status(claim, "Pending", None)
        elif index.bound_to_claim(volume, claim):
            await self.bind(volume, claim)  # finish a binding half done
        else:
            self.recorder.event(
                _as_claim(claim),
                events.WARNING,
                "FailedBinding",
                "Binding",
                f'volume "{wanted}" already bound to a different claim.',
            )
            await self.update_claim_status(claim, "Pending", None)

    def _wait_for_consumer(self, claim: Object) -> None:
        """``emitEventForUnboundDelayBindingClaim``: name the unscheduled pods, if any."""
        name = _md(claim).get("name", "")
        waiting = sorted(
            _md(p).get("name", "")
            for p in self.pods.namespace(str(_md(claim).get("namespace") or "")).list()
            if not _spec(p).get("nodeName")
            and _phase(p) not in ("Succeeded", "Failed")
            and name in pvcprotection.claims_of(p)
        )
        reason, message = (
            "WaitForFirstConsumer",
            "waiting for first consumer to be created before binding",
        )
        if len(waiting) == 1:
            reason, message = "WaitForPodScheduled", f"waiting for pod {waiting[0]} to be scheduled"
        elif waiting:
            reason = "WaitForPodScheduled"
            message = f"waiting for pods {','.join(waiting)} to be scheduled"
        self.recorder.event(_as_claim(claim), events.NORMAL, reason, "Binding", message)

    async def _assign_default_class(self, claim: Object) -> bool:
        """``assignDefaultStorageClass``: a claim that names no class gets the default one."""
        if index.claim_has_class(claim):
            return False
        sc = self._default_class()
        if sc is None:
            return False
        updated = copy.deepcopy(dict(claim))
        updated.setdefault("spec", {})["storageClassName"] = _md(sc)["name"]
        await self.client.update(PERSISTENTVOLUMECLAIMS, updated, _md(claim).get("namespace"))
        return True

    def _provision(self, claim: Object) -> None:
        """``provisionClaim`` for a cluster without in-tree provisioners: say who should."""
        name = index.claim_class(claim)
        try:
            sc = self.classes.get(name)
        except errors.NotFound:
            self.recorder.event(
                _as_claim(claim),
                events.WARNING,
                "ProvisioningFailed",
                "Provisioning",
                f'storageclass.storage.k8s.io "{name}" not found',
            )
            return
        self.recorder.event(
            _as_claim(claim),
            events.NORMAL,
            "ExternalProvisioning",
            "Provisioning",
            "Waiting for a volume to be created either by the external provisioner "
            f"'{sc.get('provisioner', '')}' or manually by the system administrator. If volume "
            "creation is delayed, please verify that the provisioner is running and correctly "
            "registered.",
        )

    async def sync_bound_claim(self, claim: Object) -> None:
        name = _spec(claim).get("volumeName")
        if not name:
            await self._claim_lost(
                claim,
                "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            )
            return
        try:
            volume = self.volumes.get(str(name))
        except errors.NotFound:
            await self._claim_lost(
                claim,
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
            )
            return
        ref = _spec(volume).get("claimRef")
        if not ref or ref.get("uid") == _md(claim).get("uid"):
            await self.bind(volume, claim)  # makes sure every half is written
        else:
            await self._claim_lost(
                claim,
                "ClaimMisbound",
                "Two claims are bound to the same volume, this one is bound incorrectly",
            )

    async def _claim_lost(self, claim: Object, reason: str, message: str) -> None:
        if _phase(claim) == "Lost":
            return
        updated = await self.update_claim_status(claim, "Lost", None)
        self.recorder.event(_as_claim(updated), events.WARNING, reason, "Binding", message)

    # -- binding -------------------------------------------------------------------------

    async def bind(self, volume: Object, claim: Object) -> None:
        """``bind``: both objects point at each other, then both statuses say Bound."""
        volume = await self.bind_volume_to_claim(volume, claim)
        volume = await self.update_volume_phase(volume, "Bound")
        claim = await self.bind_claim_to_volume(claim, volume)
        await self.update_claim_status(claim, "Bound", volume)
        log.info(
            "persistentvolume: claim %s/%s bound to volume %s",
            _md(claim).get("namespace"),
            _md(claim).get("name"),
            _md(volume).get("name"),
        )

    async def bind_volume_to_claim(self, volume: Object, claim: Object) -> Object:
        ref = _spec(volume).get("claimRef") or {}
        md = _md(claim)
        if (
            ref.get("name") == md.get("name")
            and ref.get("namespace") == md.get("namespace")
            and ref.get("uid") == md.get("uid")
        ):
            return volume
        by_controller = not index.bound_to_claim(volume, claim)
        updated = copy.deepcopy(dict(volume))
        updated.setdefault("spec", {})["claimRef"] = claim_ref(claim)
        if by_controller:
            updated["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
        return await self.client.update(PERSISTENTVOLUMES, updated)

    async def bind_claim_to_volume(self, claim: Object, volume: Object) -> Object:
        name = _md(volume).get("name")
        annotations = _md(claim).get("annotations") or {}
        if _spec(claim).get("volumeName") == name and BIND_COMPLETED in annotations:
            return claim
        updated = copy.deepcopy(dict(claim))
        new_annotations = updated["metadata"].setdefault("annotations", {})
        if _spec(claim).get("volumeName") != name:
            updated.setdefault("spec", {})["volumeName"] = name
            new_annotations[BOUND_BY_CONTROLLER] = "yes"
        new_annotations[BIND_COMPLETED] = "yes"
        return await self.client.update(
            PERSISTENTVOLUMECLAIMS, updated, _md(claim).get("namespace")
        )

    async def update_claim_status(self, claim: Object, phase: str, volume: Object | None) -> Object:
        """``updateClaimStatus``: phase, and the volume's access modes and capacity once bound."""
        status: dict[str, Any] = dict(claim.get("status") or {})
        old = dict(status)
        status["phase"] = phase
        if volume is None:
            status.pop("accessModes", None)
            status.pop("capacity", None)
        else:
            status["accessModes"] = list(_spec(volume).get("accessModes") or [])
            if _phase(claim) != phase:  # a bound claim's capacity may differ on purpose
                status["capacity"] = dict(_spec(volume).get("capacity") or {})
        if status == old:
            return claim
        updated = {**claim, "status": status}
        return await self.client.update(
            PERSISTENTVOLUMECLAIMS, updated, _md(claim).get("namespace"), subresource="status"
        )

    async def update_volume_phase(self, volume: Object, phase: str, message: str = "") -> Object:
        if _phase(volume) == phase:
            return volume
        status = {k: v for k, v in (volume.get("status") or {}).items() if k not in ("message",)}
        status["phase"] = phase
        if message:
            status["message"] = message
        return await self.client.update(
            PERSISTENTVOLUMES, {**volume, "status": status}, subresource="status"
        )

    async def _volume_failed(self, volume: Object, reason: str, message: str) -> Object:
        if _phase(volume) == "Failed":
            return volume
        updated = await self.update_volume_phase(volume, "Failed", message)
        self.recorder.event(_as_volume(updated), events.WARNING, reason, "Reclaim", message)
        return updated

    # -- volumes -------------------------------------------------------------------------

    async def sync_volume(self, volume: Object) -> None:
        ref = _spec(volume).get("claimRef")
        if not ref or not ref.get("uid"):
            # unused, or reserved for a claim that has not been bound to it yet
            await self.update_volume_phase(volume, "Available")
            return
        ns, name = str(ref.get("namespace") or ""), str(ref.get("name") or "")
        claim: Object | None
        try:
            claim = self.claims.namespace(ns).get(name)
        except errors.NotFound:
            claim = None
        if claim is None and _phase(volume) not in ("Released", "Failed"):
            # the cache may lag behind a binding made elsewhere: ask before reclaiming
            with contextlib.suppress(errors.NotFound):
                claim = await self.client.get(PERSISTENTVOLUMECLAIMS, name, ns)
        if claim is not None and _md(claim).get("uid") != ref.get("uid"):
            try:
                claim = await self.client.get(PERSISTENTVOLUMECLAIMS, name, ns)
            except errors.NotFound:
                claim = None
            if claim is not None and _md(claim).get("uid") != ref.get("uid"):
                claim = None  # deleted and created again: not ours
        if claim is None:
            if _phase(volume) not in ("Released", "Failed"):
                log.info(
                    "persistentvolume: volume %s released (claim %s/%s is gone), policy %s",
                    _md(volume).get("name"),
                    ns,
                    name,
                    _spec(volume).get("persistentVolumeReclaimPolicy"),
                )
                volume = await self.update_volume_phase(volume, "Released")
            await self.reclaim(volume)
            return
        claimed = _spec(claim).get("volumeName")
        if not claimed:
            if index.volume_mode_mismatch(claim, volume):
                self.recorder.event(
                    _as_volume(volume),
                    events.WARNING,
                    "VolumeMismatch",
                    "Binding",
                    "Cannot bind PersistentVolume to requested PersistentVolumeClaim "
                    f'"{name}" due to incompatible volumeMode.',
                )
                self.recorder.event(
                    _as_claim(claim),
                    events.WARNING,
                    "VolumeMismatch",
                    "Binding",
                    f'Cannot bind PersistentVolume "{_md(volume).get("name")}" to requested '
                    "PersistentVolumeClaim due to incompatible volumeMode.",
                )
                return
            self._enqueue_claim(claim)  # the claim's sync finishes the binding
            return
        if claimed == _md(volume).get("name"):
            await self.update_volume_phase(volume, "Bound")
            return
        # the claim went to another volume
        if (
            _annotated(volume, DYNAMICALLY_PROVISIONED)
            and _spec(volume).get("persistentVolumeReclaimPolicy") == "Delete"
        ):
            if _phase(volume) not in ("Released", "Failed"):
                volume = await self.update_volume_phase(volume, "Released")
            await self.reclaim(volume)
            return
        await self.unbind_volume(volume)

    async def unbind_volume(self, volume: Object) -> None:
        """``unbindVolume``: drop a claimRef the controller set; keep a user's pre-binding."""
        updated = copy.deepcopy(dict(volume))
        if _annotated(volume, BOUND_BY_CONTROLLER):
            updated["spec"].pop("claimRef", None)
            updated["metadata"]["annotations"].pop(BOUND_BY_CONTROLLER, None)
        else:
            updated["spec"]["claimRef"].pop("uid", None)
        new = await self.client.update(PERSISTENTVOLUMES, updated)
        await self.update_volume_phase(new, "Available")

    async def reclaim(self, volume: Object) -> None:
        """``reclaimVolume``: what the volume's policy says to do once its claim is gone."""
        policy = _spec(volume).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain":
            return
        if policy == "Recycle":
            await self._volume_failed(
                volume, "VolumeFailedRecycle", "No recycler plugin found for the volume!"
            )
            return
        if policy != "Delete":
            await self._volume_failed(
                volume,
                "VolumeUnknownReclaimPolicy",
                "Volume has unrecognized PersistentVolumeReclaimPolicy",
            )
            return
        name = str(_md(volume).get("name"))
        host_path = _spec(volume).get("hostPath")
        if not isinstance(host_path, Mapping):
            await self._volume_failed(
                volume,
                "VolumeFailedDelete",
                f'error getting deleter volume plugin for volume "{name}": '
                "no deletable volume plugin matched",
            )
            return
        path = str(host_path.get("path") or "")
        if not HOST_PATH_DELETABLE.match(path):
            await self._volume_failed(
                volume,
                "VolumeFailedDelete",
                f"host_path deleter only supports /tmp/.+ but received provided {path}",
            )
            return
        try:
            await asyncio.to_thread(shutil.rmtree, path)
        except FileNotFoundError:
            pass
        except OSError as e:
            await self._volume_failed(volume, "VolumeFailedDelete", str(e))
            return
        with contextlib.suppress(errors.NotFound):
            await self.client.delete(
                PERSISTENTVOLUMES, name, preconditions={"uid": str(_md(volume).get("uid"))}
            )
        log.info("persistentvolume: deleted volume %s and its directory %s", name, path)


def new(ctx: manager_.ControllerContext) -> PersistentVolumeController:
    return PersistentVolumeController(ctx)

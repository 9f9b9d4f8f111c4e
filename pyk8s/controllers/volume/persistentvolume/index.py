"""Matching a PersistentVolumeClaim to the PersistentVolume that should serve it.

Mirrors ``pkg/controller/volume/persistentvolume/index.go`` (``findByClaim``: volumes are
grouped by their set of access modes; the groups holding every mode the claim asks for
are tried from the fewest modes to the most, so a ReadWriteOnce claim takes a
ReadWriteOnce volume before a ReadWriteOnce+ReadWriteMany one) and
``component-helpers/storage/volume/pv_helpers.go`` (``FindMatchingVolume``: a volume
pre-bound to the claim wins; otherwise the smallest Available, unclaimed volume whose
capacity, volumeMode, labels (the claim's selector) and StorageClass fit;
``IsVolumeBoundToClaim``, ``CheckAccessModes``, ``CheckVolumeModeMismatches``,
``GetPersistentVolume(Claim)Class``). No I/O: the controller passes its cache's volumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from pyk8s.api import resource, selectors

Object = Mapping[str, Any]

BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


def _spec(obj: Object) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def claim_class(claim: Object) -> str:
    """``GetPersistentVolumeClaimClass``: the beta annotation, then the field; "" for none."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if BETA_STORAGE_CLASS in annotations:
        return str(annotations[BETA_STORAGE_CLASS])
    return str(_spec(claim).get("storageClassName") or "")


def claim_has_class(claim: Object) -> bool:
    """``PersistentVolumeClaimHasClass``: the claim names a class, even the empty one."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    return BETA_STORAGE_CLASS in annotations or _spec(claim).get("storageClassName") is not None


volume_class = claim_class  # ``GetPersistentVolumeClass`` reads the same two places


def storage(quantities: Mapping[str, Any] | None) -> Fraction:
    q = (quantities or {}).get("storage")
    return Fraction(0) if q is None else resource.parse_quantity(q)


def requested(claim: Object) -> Fraction:
    return storage((_spec(claim).get("resources") or {}).get("requests"))


def capacity(volume: Object) -> Fraction:
    return storage(_spec(volume).get("capacity"))


def access_modes_fit(claim: Object, volume: Object) -> bool:
    """``CheckAccessModes``: the volume offers every mode the claim asks for."""
    offered = set(_spec(volume).get("accessModes") or ())
    return set(_spec(claim).get("accessModes") or ()) <= offered


def volume_mode_mismatch(claim: Object, volume: Object) -> bool:
    """``CheckVolumeModeMismatches``: unset means Filesystem on both sides."""
    wanted = _spec(claim).get("volumeMode") or "Filesystem"
    return wanted != (_spec(volume).get("volumeMode") or "Filesystem")


def bound_to_claim(volume: Object, claim: Object) -> bool:
    """``IsVolumeBoundToClaim``: claimRef names the claim (and its uid, once set)."""
    ref = _spec(volume).get("claimRef")
    if not ref:
        return False
    md = claim.get("metadata") or {}
    if ref.get("name") != md.get("name") or ref.get("namespace") != md.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == md.get("uid")


def find_matching_volume(
    claim: Object, volumes: Iterable[Object], delay_binding: bool = False
) -> Object | None:
    """``FindMatchingVolume`` without a node (the controller's view): the volume pre-bound to
    ``claim`` if one fits its size and mode, else the smallest fitting Available volume;
    for a claim whose class binds on first consumer only a pre-bound volume is taken."""
    want = requested(claim)
    want_class = claim_class(claim)
    sel = _spec(claim).get("selector")
    selector = selectors.from_label_selector(sel) if sel is not None else None
    best: Object | None = None
    best_size = Fraction(0)
    for volume in volumes:
        size = capacity(volume)
        if size < want or volume_mode_mismatch(claim, volume):
            continue
        if (volume.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if bound_to_claim(volume, claim):
            return volume  # pre-bound by the user (or a binding half done)
        if delay_binding:
            continue  # the scheduler picks these, with a node in hand
        if (volume.get("status") or {}).get("phase") != "Available":
            continue
        if _spec(volume).get("claimRef"):
            continue  # reserved for another claim
        if selector is not None and not selector.matches(
            (volume.get("metadata") or {}).get("labels")
        ):
            continue
        if volume_class(volume) != want_class:
            continue
        if best is None or size < best_size:
            best, best_size = volume, size
    return best


def find_best_match(
    claim: Object, volumes: Iterable[Object], delay_binding: bool = False
) -> Object | None:
    """``findByClaim``: try the access-mode groups that can serve the claim, fewest modes first."""
    wanted = set(_spec(claim).get("accessModes") or ())
    groups: dict[frozenset[str], list[Object]] = {}
    for volume in volumes:
        modes = frozenset(_spec(volume).get("accessModes") or ())
        if wanted <= modes:
            groups.setdefault(modes, []).append(volume)
    for modes in sorted(groups, key=lambda m: (len(m), sorted(m))):
        found = find_matching_volume(claim, groups[modes], delay_binding)
        if found is not None:
            return found
    return None

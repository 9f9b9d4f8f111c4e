"""Semantic validation of PersistentVolumes and PersistentVolumeClaims (core/v1).

Mirrors ``pkg/apis/core/validation/validation.go``: ``ValidatePersistentVolumeSpec``
(access modes, a ``storage`` capacity above zero, exactly one volume source, the
reclaim policy, the volume mode) and ``ValidatePersistentVolumeClaimSpec`` (access
modes, a positive ``storage`` request); ``ValidatePersistentVolumeClaimUpdate``:
a claim's spec is immutable except its storage request, which may only grow,
and only once it is bound.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import resource
from pyk8s.api.errors import (
    FieldError,
    Raw,
    forbidden,
    invalid_value,
    not_supported,
    required,
)

Obj = dict[str, Any]

ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
RECLAIM = ["Delete", "Recycle", "Retain"]
VOLUME_MODES = ["Block", "Filesystem"]
SOURCES = (
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc",
    "flexVolume", "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local",
    "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO",
    "storageos", "vsphereVolume",
)  # fmt: skip


def _quantity(value: Any, path: str, *, positive: bool) -> list[FieldError]:
    try:
        q = resource.parse_quantity(value)
    except (resource.QuantityError, TypeError, ValueError):
        return [invalid_value(path, value, "must be a valid quantity")]
    if positive and q <= 0:
        return [invalid_value(path, Raw(str(value)), "must be greater than zero")]
    if q < 0:
        return [invalid_value(path, Raw(str(value)), "must be greater than or equal to 0")]
    return []


def _access_modes(modes: Any, path: str, detail: str = "") -> list[FieldError]:
    if not isinstance(modes, list) or not modes:
        return [required(path, detail)]
    return [not_supported(path, m, ACCESS_MODES) for m in modes if m not in ACCESS_MODES]


def persistent_volume(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    errs = _access_modes(spec.get("accessModes"), "spec.accessModes")
    cap = spec.get("capacity")
    cap = cap if isinstance(cap, dict) else {}
    if not cap:
        errs.append(required("spec.capacity"))
    if "storage" not in cap or len(cap) > 1:
        shown = Raw("map[" + " ".join(f"{k}:{v}" for k, v in sorted(cap.items())) + "]")
        errs.append(not_supported("spec.capacity", shown, ["storage"]))
    for k, v in cap.items():
        errs += _quantity(v, f"spec.capacity[{k}]", positive=True)
    sources = [s for s in SOURCES if spec.get(s) is not None]
    if not sources:
        errs.append(required("spec", "must specify a volume type"))
    elif len(sources) > 1:
        errs.append(forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy is not None and policy not in RECLAIM:
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, RECLAIM))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(not_supported("spec.volumeMode", mode, VOLUME_MODES))
    host = spec.get("hostPath")
    if isinstance(host, dict) and not host.get("path"):
        errs.append(required("spec.hostPath.path"))
    return errs


def _claim_spec(spec: Any, path: str) -> list[FieldError]:
    spec = spec if isinstance(spec, dict) else {}
    errs = _access_modes(
        spec.get("accessModes"), f"{path}.accessModes", "at least 1 access mode is required"
    )
    requests = ((spec.get("resources") or {}).get("requests")) or {}
    if "storage" not in requests:
        errs.append(required(f"{path}.resources[storage]"))
    else:
        errs += _quantity(requests["storage"], f"{path}.resources[storage]", positive=True)
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    return errs


def persistent_volume_claim(obj: Obj) -> list[FieldError]:
    return _claim_spec(obj.get("spec"), "spec")


def _storage(spec: Obj) -> Any:
    return (((spec.get("resources") or {}).get("requests")) or {}).get("storage")


def persistent_volume_claim_update(obj: Obj, old: Obj) -> list[FieldError]:
    new_spec = dict(obj.get("spec") or {})
    old_spec = dict(old.get("spec") or {})
    errs: list[FieldError] = []
    # binding fills volumeName once; the binder may also set it on an unbound claim
    if not old_spec.get("volumeName") and new_spec.get("volumeName"):
        old_spec["volumeName"] = new_spec["volumeName"]
    bound = (obj.get("status") or {}).get("phase") == "Bound"
    if bound and _storage(new_spec) != _storage(old_spec):
        try:
            shrink = resource.parse_quantity(_storage(new_spec)) < resource.parse_quantity(
                _storage(old_spec)
            )
        except (resource.QuantityError, TypeError, ValueError):
            shrink = False
        if shrink:
            errs.append(
                forbidden(
                    "spec.resources.requests.storage", "field can not be less than previous value"
                )
            )
        for spec in (new_spec, old_spec):
            spec["resources"] = {**(spec.get("resources") or {}), "requests": None}
    for spec in (new_spec, old_spec):
        spec.pop("volumeAttributesClassName", None)
    if new_spec != old_spec:
        errs.append(
            forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims",
            )
        )
    return errs


def persistent_volume_update(obj: Obj, old: Obj) -> list[FieldError]:
    new_src = {s: (obj.get("spec") or {}).get(s) for s in SOURCES}
    old_src = {s: (old.get("spec") or {}).get(s) for s in SOURCES}
    if new_src != old_src:
        return [forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation")]  # noqa: E501  # fmt: skip
    return []
